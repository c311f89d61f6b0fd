"""Staff auth: OAuth2 password flow, bcrypt hashes, JWT expiry, role checks on agent endpoints."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from handoff_support import PASSWORD, desk_env, login, make_staff
from pydantic import ValidationError
from sqlalchemy import select

from api.core import db
from api.core.config import DEV_SECRETS, Settings, get_settings
from api.core.security import create_access_token
from api.deps import require_role
from api.models import StaffUser

AGENT_ENDPOINTS = [
    ("GET", "/api/v1/agent/queue"),
    ("GET", "/api/v1/agent/me"),
    ("GET", "/api/v1/agent/conversations"),
    ("GET", "/api/v1/agent/conversations/abc"),
    ("POST", "/api/v1/agent/conversations/abc/accept"),
    ("POST", "/api/v1/agent/conversations/abc/messages"),
    ("POST", "/api/v1/agent/conversations/abc/resolve"),
    ("GET", "/api/v1/agent/tickets"),
]


@pytest.fixture()
def fast_hash(tmp_path, monkeypatch):
    desk_env(tmp_path, monkeypatch)


def call(client, method, path, headers=None):
    if method == "GET":
        return client.get(path, headers=headers or {})
    return client.post(path, json={"text": "hi"}, headers=headers or {})


def test_token_for_demo_agent_and_me(fast_hash, client) -> None:
    settings = get_settings()
    resp = client.post("/api/v1/auth/token", data={"username": settings.demo_agent_user,
                                                   "password": settings.demo_agent_password})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["token_type"] == "bearer" and body["user"]["role"] == "agent"
    claims = jwt.decode(body["access_token"], settings.jwt_secret, algorithms=["HS256"])
    assert claims["sub"] == settings.demo_agent_user and claims["exp"] > claims["iat"]
    me = client.get("/api/v1/auth/me",
                    headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json()["username"] == settings.demo_agent_user


def test_demo_accounts_of_every_role_are_seeded_with_bcrypt_hashes(fast_hash, client) -> None:
    with db.get_sessionmaker()() as s:
        users = {u.username: u for u in s.scalars(select(StaffUser))}
    settings = get_settings()
    roles = {users[getattr(settings, f"demo_{r}_user")].role for r in
             ("agent", "supervisor", "ops", "admin")}
    assert roles == {"agent", "supervisor", "ops", "admin"}
    for user in users.values():
        assert user.password_hash.startswith("$2")  # bcrypt, never the plain password
        assert settings.demo_agent_password not in user.password_hash


def test_bad_credentials_are_401_with_bilingual_message(fast_hash, client) -> None:
    make_staff("wang")
    for data in ({"username": "wang", "password": "wrong"},
                 {"username": "nobody", "password": PASSWORD}):
        resp = client.post("/api/v1/auth/token", data=data)
        assert resp.status_code == 401
        detail = resp.json()["detail"]
        assert detail["code"] == "bad_credentials" and detail["message"] and detail["message_en"]
        assert resp.headers["www-authenticate"] == "Bearer"
    assert client.post("/api/v1/auth/token", data={"username": "wang"}).status_code == 422


def test_disabled_account_cannot_sign_in_or_use_old_token(fast_hash, client) -> None:
    make_staff("li")
    headers = login(client, "li")
    with db.get_sessionmaker()() as s:
        s.scalars(select(StaffUser).where(StaffUser.username == "li")).one().active = False
        s.commit()
    assert client.get("/api/v1/agent/queue", headers=headers).status_code == 401
    resp = client.post("/api/v1/auth/token", data={"username": "li", "password": PASSWORD})
    assert resp.status_code == 401


@pytest.mark.parametrize(("method", "path"), AGENT_ENDPOINTS)
def test_agent_endpoints_need_a_token(fast_hash, client, method, path) -> None:
    resp = call(client, method, path)
    assert resp.status_code == 401
    assert resp.json()["detail"]["code"] == "not_authenticated"


def test_expired_and_forged_tokens_are_401(fast_hash, client) -> None:
    user = make_staff("zhao")
    expired = create_access_token(user, ttl=timedelta(seconds=-5))
    resp = client.get("/api/v1/agent/queue", headers={"Authorization": f"Bearer {expired}"})
    assert resp.status_code == 401 and resp.json()["detail"]["code"] == "token_expired"

    forged = jwt.encode({"sub": "zhao", "role": "admin", "exp": 4102444800}, "not-the-secret-" * 4,
                        algorithm="HS256")
    resp = client.get("/api/v1/agent/queue", headers={"Authorization": f"Bearer {forged}"})
    assert resp.status_code == 401 and resp.json()["detail"]["code"] == "invalid_token"

    resp = client.get("/api/v1/agent/queue", headers={"Authorization": "Bearer garbage"})
    assert resp.status_code == 401


@pytest.mark.parametrize(("method", "path"), AGENT_ENDPOINTS)
def test_ops_role_is_forbidden_on_agent_endpoints(fast_hash, client, method, path) -> None:
    make_staff("ops1", role="ops")
    resp = call(client, method, path, login(client, "ops1"))
    assert resp.status_code == 403
    assert resp.json()["detail"]["code"] == "forbidden"


def test_cardholder_token_is_forbidden(fast_hash, client) -> None:
    """A token signed with our secret but for a cardholder (no staff account) gets nowhere,
    and a staff account whose role is not a desk role gets 403."""
    settings = get_settings()
    cardholder = jwt.encode({"sub": "demo-gold-001", "role": "cardholder", "exp": 4102444800},
                            settings.jwt_secret, algorithm="HS256")
    resp = client.get("/api/v1/agent/queue", headers={"Authorization": f"Bearer {cardholder}"})
    assert resp.status_code == 401
    # the chat endpoints a cardholder uses give no access to the desk either
    resp = client.post("/api/v1/chat", json={"user_id": "demo-gold-001", "text": "你好"})
    assert resp.status_code == 200
    assert client.get("/api/v1/agent/queue").status_code == 401


@pytest.mark.parametrize("role", ["agent", "supervisor", "admin"])
def test_desk_roles_may_read_the_queue(fast_hash, client, role) -> None:
    make_staff(f"u-{role}", role=role)
    resp = client.get("/api/v1/agent/queue", headers=login(client, f"u-{role}"))
    assert resp.status_code == 200
    assert resp.json() == {"items": [], "total": 0}


def test_require_role_rejects_unknown_roles() -> None:
    with pytest.raises(ValueError):
        require_role("cardholder")


def test_production_refuses_the_dev_jwt_secret(monkeypatch) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    for name in DEV_SECRETS:  # every other secret real, so only the JWT secret is at fault
        monkeypatch.setenv(name.upper(), DEV_SECRETS[name][::-1])
    monkeypatch.setenv("JWT_SECRET", DEV_SECRETS["jwt_secret"])
    with pytest.raises(ValidationError, match="jwt_secret"):
        Settings()
    monkeypatch.setenv("JWT_SECRET", "short")
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings()

