"""The production topology on loopback: nginx -> 2 API -> nginx -> 2 Rasa -> action server, on
PostgreSQL (service DB, card DB, Rasa's tracker store) and Redis (Rasa's lock store, the live
hub), all in production mode (APP_ENV=production, the variables of .env.production.example).

- a conversation stays consistent while its messages hit different API and Rasa replicas;
- an agent's message reaches a cardholder whose WebSocket is on the other API replica;
- a KB release published on one API is served by both.

Uses the machine's PostgreSQL (127.0.0.1:5432, fresh `h17_so_*` databases, dropped at the end)
and Redis (db 3, a key prefix and channel unique to the run), and Debian's nginx; skipped with a
message when one of them is missing. Ports: E2E_PORT + 5 .. + 15 (18310.. by default).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.core.identity import conversation_token, identity_hash

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
RASA_PY = ROOT / ".venv-rasa" / "bin" / "python"
SVC_PY = Path(sys.executable)
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
REDIS_URL = "redis://127.0.0.1:6379/3"
STARTUP_TIMEOUT = float(os.environ.get("E2E_STARTUP_TIMEOUT", "420"))
DBS = ("h17_so_app", "h17_so_cards", "h17_so_tracker")
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


def _recreate_databases() -> None:
    import psycopg2

    conn = psycopg2.connect(dbname="postgres", **PG)
    conn.autocommit = True
    with conn.cursor() as cur:
        for name in DBS:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            cur.execute(f"CREATE DATABASE {name}")
    conn.close()


def _drop_databases() -> None:
    import psycopg2

    conn = psycopg2.connect(dbname="postgres", **PG)
    conn.autocommit = True
    with conn.cursor() as cur:
        for name in DBS:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    conn.close()


NGINX_CONF = """
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log {tmp}/nginx-access.log;
  client_body_temp_path {tmp}/nginx-body;
  proxy_temp_path {tmp}/nginx-proxy;
  fastcgi_temp_path {tmp}/nginx-fastcgi;
  uwsgi_temp_path {tmp}/nginx-uwsgi;
  scgi_temp_path {tmp}/nginx-scgi;
  map $http_upgrade $connection_upgrade {{ default upgrade; "" close; }}
  upstream api {{
    server 127.0.0.1:{api1} max_fails=1 fail_timeout=5s;
    server 127.0.0.1:{api2} max_fails=1 fail_timeout=5s;
  }}
  upstream rasa {{
    server 127.0.0.1:{rasa1} max_fails=1 fail_timeout=5s;
    server 127.0.0.1:{rasa2} max_fails=1 fail_timeout=5s;
  }}
  server {{
    listen 127.0.0.1:{public};
    location / {{
      proxy_pass http://api;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_connect_timeout 2s;
      proxy_read_timeout 300s;
      proxy_next_upstream error timeout http_502 http_503;
    }}
  }}
  server {{
    listen 127.0.0.1:{internal};
    location / {{
      proxy_pass http://rasa;
      proxy_http_version 1.1;
      proxy_connect_timeout 2s;
      proxy_read_timeout 30s;
      proxy_next_upstream error timeout http_502 http_503;
    }}
  }}
}}
"""


class Topology:
    def __init__(self, tmp: Path, base: int) -> None:
        self.tmp = tmp
        self.ports = {"public": base, "api1": base + 1, "api2": base + 2, "rasa1": base + 5,
                      "rasa2": base + 6, "internal": base + 7, "actions": base + 10}
        self.public = f"http://127.0.0.1:{self.ports['public']}"
        self.api = {n: f"http://127.0.0.1:{self.ports[n]}" for n in ("api1", "api2")}
        run = uuid.uuid4().hex[:8]
        pg = "postgresql+psycopg2://postgres@127.0.0.1:5432"
        self.env = {
            **os.environ, "PYTHONPATH": str(ROOT), "APP_ENV": "production",
            "DATABASE_URL": f"{pg}/h17_so_app", "CARD_DB_URL": f"{pg}/h17_so_cards",
            "HUB_REDIS_URL": REDIS_URL, "HUB_REDIS_CHANNEL": f"h17so:{run}:hub",
            "RASA_URL": f"http://127.0.0.1:{self.ports['internal']}",
            "RASA_TOKEN": secrets.token_hex(24), "INTERNAL_API_TOKEN": secrets.token_hex(24),
            "JWT_SECRET": secrets.token_hex(24), "WECHAT_TOKEN": secrets.token_hex(8),
            "WECHAT_APP_SECRET": secrets.token_hex(16),
            # issue 16: every replica verifies the same signatures and conversation tokens
            "WEB_IDENTITY_SECRET": IDENTITY_SECRET, "CONVERSATION_TOKEN_SECRET": TOKEN_SECRET,
            "PII_ENCRYPTION_KEY": secrets.token_hex(24),
            "WECHAT_AES_KEY": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
            "ACTIONS_PORT": str(self.ports["actions"]),
            "ACTIONS_URL": f"http://127.0.0.1:{self.ports['actions']}/webhook",
            "SANIC_HOST": "127.0.0.1", "HOST": "127.0.0.1",
            "KB_SEARCH_URL": f"{self.public}/internal/v1/kb/search",
            "KB_RELEASE_POLL_SECONDS": "2",
            # consistency, not latency, is tested here (the budget: tests/api/test_degraded.py);
            # a busy shared machine must not turn these turns into degraded ones
            "BOT_BUDGET_SECONDS": "15",
            "TRACKER_DB_DIALECT": "postgresql", "TRACKER_DB_HOST": "127.0.0.1",
            "TRACKER_DB_PORT": "5432", "TRACKER_DB": "h17_so_tracker",
            "TRACKER_DB_USER": "postgres", "TRACKER_DB_PASSWORD": "",
            "LOCK_STORE_HOST": "127.0.0.1", "LOCK_STORE_PORT": "6379", "LOCK_STORE_DB": "3",
            "LOCK_STORE_PASSWORD": "", "LOCK_STORE_KEY_PREFIX": f"h17so{run}",
            "TF_CPP_MIN_LOG_LEVEL": "2", "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def env_for(self, name: str) -> dict[str, str]:
        env = {**self.env, "DATA_DIR": str(self.tmp / name)}
        if name.startswith("api"):
            env["PORT"] = str(self.ports[name])
        if name.startswith("rasa"):
            env["RASA_PORT"] = str(self.ports[name])
        return env

    def start(self, name: str) -> None:
        (self.tmp / name).mkdir(exist_ok=True)
        if name.startswith("api"):
            cmd = [str(SVC_PY), "-m", "api"]
        elif name.startswith("rasa"):
            cmd = [str(RASA_PY), "-m", "bot.serve"]
        elif name == "actions":
            cmd = [str(RASA_PY), "-m", "rasa_sdk", "--actions", "actions",
                   "--port", str(self.ports["actions"])]
        else:
            conf = self.tmp / "nginx.conf"
            conf.write_text(NGINX_CONF.format(tmp=self.tmp, **self.ports), encoding="utf-8")
            cmd = [shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(self.tmp), "-c",
                   str(conf), "-g", "daemon off;"]
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        self.procs[name] = subprocess.Popen(cmd, cwd=ROOT, env=self.env_for(name), stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def logs(self, tail: int = 30) -> str:
        out = []
        for name in self.procs:
            path = self.tmp / f"{name}.log"
            lines = path.read_text(errors="replace").splitlines()[-tail:] if path.exists() else []
            out.append(f"--- {name} ---\n" + "\n".join(lines))
        return "\n".join(out)

    def wait(self, url: str, timeout: float = STARTUP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited early:\n{self.logs()}")
            try:
                resp = httpx.get(url, timeout=10)
                last = resp.status_code
                if resp.status_code == 200:
                    return
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(2)
        raise RuntimeError(f"{url} not up after {timeout}s: {last}\n{self.logs()}")

    def run_py(self, code: str) -> None:
        subprocess.run([str(SVC_PY), "-c", code], cwd=ROOT, env=self.env, check=True)


@pytest.fixture(scope="module")
def topo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    missing = _missing()
    if missing:
        pytest.skip(f"scale-out test needs PostgreSQL, Redis and nginx: {missing}")
    base = int(os.environ.get("E2E_PORT", "18005")) + 5
    t = Topology(tmp_path_factory.mktemp("scaleout"), base)
    _recreate_databases()
    # the deploy step: migrations, then staff accounts (production seeds no demo accounts)
    subprocess.run([str(SVC_PY), "-m", "api", "migrate"], cwd=ROOT, env=t.env, check=True)
    t.run_py("import os\n"
             "from api.staff import create_user\n"
             "from knowledge_base.db import sessions\n"
             "with sessions(os.environ['DATABASE_URL'])() as db:\n"
             "    create_user(db, 'so-agent', 'so-agent-pass', 'agent', display_name='客服',"
             " agent_no='3001')\n"
             "    create_user(db, 'so-admin', 'so-admin-pass', 'admin', display_name='管理员')\n")
    try:
        for name in ("nginx", "actions", "rasa1", "rasa2", "api1"):
            t.start(name)
        t.wait(f"{t.api['api1']}/")  # api1 alone first: it imports the seed KB into the new DB
        t.start("api2")
        for name in ("api1", "api2"):
            t.wait(f"{t.api[name]}/health")
        for name in ("rasa1", "rasa2"):  # the first message of a fresh Rasa is slow
            httpx.post(f"http://127.0.0.1:{t.ports[name]}/webhooks/rest/webhook",
                       json={"sender": f"warm-up-{name}", "message": "你好"}, timeout=120)
        yield t
    finally:
        t.stop_all()
        _drop_databases()


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
