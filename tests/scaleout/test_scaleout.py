"""The production topology on loopback: nginx -> 2 API -> nginx -> 2 Rasa -> action server, on
PostgreSQL (service DB, card DB, Rasa's tracker store) and Redis (Rasa's lock store, the live
hub), all in production mode (APP_ENV=production, the variables of .env.production.example).

- a conversation stays consistent while its messages hit different API and Rasa replicas;
- an agent's message reaches a cardholder whose WebSocket is on the other API replica;
- a KB release published on one API is served by both.

Uses the machine's PostgreSQL (127.0.0.1:5432, fresh `h17_so_*` databases, dropped at the
end; prefix `SCALEOUT_DB_PREFIX`) and Redis (db 3, `SCALEOUT_REDIS_DB`; a key prefix and
channel unique to the run), and Debian's nginx; skipped with a message when one of them is
missing. Ports: E2E_PORT + 5 .. + 15 (18310.. by default). The launcher: bench/topology.py.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.core.identity import conversation_token, identity_hash
from bench.topology import RASA_PY, Topology

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
# Parallel checkouts on one machine each take their own Redis db and database names.
REDIS_DB = int(os.environ.get("SCALEOUT_REDIS_DB", "3"))
DB_PREFIX = os.environ.get("SCALEOUT_DB_PREFIX", "h17_so_")
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
STARTUP_TIMEOUT = float(os.environ.get("E2E_STARTUP_TIMEOUT", "420"))
IDENTITY_SECRET = secrets.token_hex(24)  # the bank's server's signing key for this topology
TOKEN_SECRET = secrets.token_hex(24)


def _missing() -> str | None:
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        return "nginx not installed (apt-get install -y nginx; .ci/run does)"
    if not RASA_PY.exists():
        return "Rasa runtime missing (.venv-rasa)"
    try:
        import psycopg2

        psycopg2.connect(dbname="postgres", connect_timeout=2, **PG).close()
    except Exception as exc:  # noqa: BLE001 - any failure means: no PostgreSQL here
        return f"PostgreSQL not reachable at 127.0.0.1:5432 ({type(exc).__name__})"
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001
        return f"Redis not reachable at {REDIS_URL} ({type(exc).__name__})"
    return None


@pytest.fixture(scope="module")
def topo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    missing = _missing()
    if missing:
        pytest.skip(f"scale-out test needs PostgreSQL, Redis and nginx: {missing}")
    base = int(os.environ.get("E2E_PORT", "18005")) + 5
    t = Topology(tmp_path_factory.mktemp("scaleout"), base, redis_db=REDIS_DB, db_prefix=DB_PREFIX,
                 identity_secret=IDENTITY_SECRET, token_secret=TOKEN_SECRET,
                 # consistency, not latency, is tested here (the budget: tests/api/
                 # test_degraded.py); a busy shared machine must not turn these turns degraded
                 extra_env={"BOT_BUDGET_SECONDS": "15"})
    t.recreate_databases()
    # the deploy step: migrations, then staff accounts (production seeds no demo accounts)
    t.deploy("import os\n"
             "from api.staff import create_user\n"
             "from knowledge_base.db import sessions\n"
             "with sessions(os.environ['DATABASE_URL'])() as db:\n"
             "    create_user(db, 'so-agent', 'so-agent-pass', 'agent', display_name='客服',"
             " agent_no='3001')\n"
             "    create_user(db, 'so-admin', 'so-admin-pass', 'admin', display_name='管理员')\n")
    try:
        t.start_all(STARTUP_TIMEOUT)
        yield t
    finally:
        t.stop_all()
        t.drop_databases()


def token(t: Topology, base: str, username: str, password: str) -> dict[str, str]:
    resp = httpx.post(f"{base}/api/v1/auth/token",
                      data={"username": username, "password": password}, timeout=30)
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def chat(base: str, user: str, text: str) -> dict[str, Any]:
    """A message of a cardholder signed by the bank's server (one conversation per user)."""
    body = {"user_id": user, "text": text, "identity_hash": identity_hash(user, IDENTITY_SECRET)}
    resp = httpx.post(f"{base}/api/v1/chat", json=body, timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_a_conversation_stays_consistent_across_replicas(topo: Topology) -> None:
    user = f"so-{uuid.uuid4().hex[:6]}"
    # two messages the KB does not know, on different API replicas (and, behind them, Rasa
    # replicas in turn): the second fallback in a row offers a human, so the second replica's
    # Rasa saw the first turn in the shared tracker store
    first = chat(topo.api["api1"], user, "zxqv wpoi lkjh")
    second = chat(topo.api["api2"], user, "mnbv poiu ytre")
    assert first["conversation_id"] == second["conversation_id"]
    assert "degraded" not in first["details"] and "degraded" not in second["details"]
    assert first["outcome"] == second["outcome"] == "fallback"
    assert first["details"].get("offer_human") is False
    assert second["details"].get("offer_human") is True
    third = chat(topo.public, user, "转人工")  # through nginx, either replica
    assert third["conversation_id"] == first["conversation_id"]
    assert third["outcome"] in ("handoff", "ticket")


def test_agent_message_reaches_a_websocket_on_the_other_replica(topo: Topology) -> None:
    from websockets.sync.client import connect

    user = f"so-ws-{uuid.uuid4().hex[:6]}"
    agent = token(topo, topo.api["api2"], "so-agent", "so-agent-pass")
    resp = httpx.post(f"{topo.api['api2']}/api/v1/agent/status", json={"status": "online"},
                      headers=agent, timeout=30)
    assert resp.status_code == 200, resp.text
    queued = chat(topo.api["api1"], user, "转人工")
    assert queued["outcome"] == "handoff", queued
    cid = queued["conversation_id"]
    accepted = httpx.post(f"{topo.api['api2']}/api/v1/agent/conversations/{cid}/accept",
                          headers=agent, timeout=30)
    assert accepted.status_code == 200, accepted.text
    ws_url = topo.api["api1"].replace("http://", "ws://") + f"/api/v1/chat/{cid}/ws"
    with connect(ws_url, open_timeout=30) as ws:
        ws.send(json.dumps({"type": "auth", "token": conversation_token(cid, TOKEN_SECRET)}))
        first = json.loads(ws.recv(timeout=30))
        assert first["type"] == "state"
        sent = httpx.post(f"{topo.api['api2']}/api/v1/agent/conversations/{cid}/messages",
                          headers=agent, json={"text": "您好，我是跨副本的人工客服。"}, timeout=30)
        assert sent.status_code == 200, sent.text
        for _ in range(20):
            frame = json.loads(ws.recv(timeout=15))
            if frame.get("type") == "message" and frame["message"]["sender"] == "agent":
                assert frame["message"]["text"] == "您好，我是跨副本的人工客服。"
                break
        else:
            raise AssertionError("the agent's message never reached the other replica's socket")


def test_a_kb_publish_is_served_by_both_apis(topo: Topology) -> None:
    admin = token(topo, topo.api["api1"], "so-admin", "so-admin-pass")
    tag = uuid.uuid4().hex[:4]
    body = {"standard_question": f"跨副本测试{tag}卡怎么办理",
            "similar_questions": [f"跨副本{tag}卡怎么申请", f"我想办跨副本{tag}卡",
                                  f"跨副本{tag}卡在哪里办", f"申请跨副本{tag}卡的流程"],
            "answer": {"text": f"跨副本{tag}卡在手机银行申请。", "buttons": [], "links": [],
                       "image": None},
            "category": "测试分类", "tags": ["测试"]}
    created = httpx.post(f"{topo.api['api1']}/api/v1/kb/entries", json=body, headers=admin,
                         timeout=60)
    assert created.status_code == 201, created.text
    published = httpx.post(f"{topo.api['api1']}/api/v1/kb/publish", json={"note": "scale-out"},
                           headers=admin, timeout=120)
    assert published.status_code == 200, published.text
    release = published.json()["release"]
    deadline = time.monotonic() + 120
    serving: dict[str, Any] = {}
    while time.monotonic() < deadline:
        serving = {n: httpx.get(f"{u}/api/v1/kb/status", headers=admin, timeout=30).json()
                   .get("serving_release") for n, u in topo.api.items()}
        if all(v == release for v in serving.values()):
            break
        time.sleep(1)
    assert all(v == release for v in serving.values()), serving
