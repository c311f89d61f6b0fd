"""The production topology on loopback (what compose.yml runs, with Debian's packages):
nginx -> 2 API -> nginx -> 2 Rasa -> action server, on PostgreSQL (service DB, card DB, Rasa's
tracker store) and Redis (Rasa's lock store, the live hub, rate limits), every process in
production mode (APP_ENV=production, the variables of .env.production.example).

Shared by the scale-out test (tests/scaleout, the machine's PostgreSQL and Redis) and the
production variant of the load bench (bench/load.py, private PostgreSQL and Redis it may
restart). Nothing here restarts a dead process: in compose that is Docker's restart policy, on
loopback the caller (`Topology.start(name)` again).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
RASA_PY = ROOT / ".venv-rasa" / "bin" / "python"
SVC_PY = Path(sys.executable)

# Same upstream rules as deploy/nginx.conf. A chat POST is retried on the other API replica
# only when nginx could not hand it over (connect refused / reset before a response): a POST a
# replica accepted is not replayed (it may have been stored), see `non_idempotent` in docs.
NGINX_CONF = """
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 2048; }}
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
      proxy_next_upstream_tries 2;
    }}
  }}
  server {{
    listen 127.0.0.1:{internal};
    location / {{
      proxy_pass http://rasa;
      proxy_http_version 1.1;
      proxy_connect_timeout 2s;
      proxy_read_timeout 4s;  # a frozen Rasa replica is marked failed (deploy/nginx.conf)
      proxy_next_upstream error timeout http_502 http_503;
      proxy_next_upstream_tries 2;
    }}
  }}
}}
"""


class Topology:
    """Processes of the topology on `base` .. `base + 10`, logs and data under `tmp`."""

    def __init__(self, tmp: Path, base: int, *, pg_port: int = 5432, redis_port: int = 6379,
                 redis_db: int = 3, db_prefix: str = "h17_so_",
                 identity_secret: str | None = None, token_secret: str | None = None,
                 extra_env: dict[str, str] | None = None) -> None:
        self.tmp = tmp
        self.ports = {"public": base, "api1": base + 1, "api2": base + 2, "rasa1": base + 5,
                      "rasa2": base + 6, "internal": base + 7, "actions": base + 10}
        self.public = f"http://127.0.0.1:{self.ports['public']}"
        self.internal = f"http://127.0.0.1:{self.ports['internal']}"
        self.api = {n: f"http://127.0.0.1:{self.ports[n]}" for n in ("api1", "api2")}
        self.dbs = {k: f"{db_prefix}{k}" for k in ("app", "cards", "tracker")}
        self.pg_port = pg_port
        run = uuid.uuid4().hex[:8]
        pg = f"postgresql+psycopg2://postgres@127.0.0.1:{pg_port}"
        redis_url = f"redis://127.0.0.1:{redis_port}/{redis_db}"
        self.identity_secret = identity_secret or secrets.token_hex(24)
        self.token_secret = token_secret or secrets.token_hex(24)
        self.env = {
            **os.environ, "PYTHONPATH": str(ROOT), "APP_ENV": "production",
            "DATABASE_URL": f"{pg}/{self.dbs['app']}", "CARD_DB_URL": f"{pg}/{self.dbs['cards']}",
            "HUB_REDIS_URL": redis_url, "HUB_REDIS_CHANNEL": f"h17so:{run}:hub",
            "RASA_URL": self.internal,
            "RASA_TOKEN": secrets.token_hex(24), "INTERNAL_API_TOKEN": secrets.token_hex(24),
            "JWT_SECRET": secrets.token_hex(24), "WECHAT_TOKEN": secrets.token_hex(8),
            "WECHAT_APP_SECRET": secrets.token_hex(16),
            # issue 16: every replica verifies the same signatures and conversation tokens
            "WEB_IDENTITY_SECRET": self.identity_secret,
            "CONVERSATION_TOKEN_SECRET": self.token_secret,
            "PII_ENCRYPTION_KEY": secrets.token_hex(24),
            "WECHAT_AES_KEY": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
            "ACTIONS_PORT": str(self.ports["actions"]),
            "ACTIONS_URL": f"http://127.0.0.1:{self.ports['actions']}/webhook",
            "SANIC_HOST": "127.0.0.1", "HOST": "127.0.0.1",
            "KB_SEARCH_URL": f"{self.public}/internal/v1/kb/search",
            "KB_RELEASE_POLL_SECONDS": "2",
            "TRACKER_DB_DIALECT": "postgresql", "TRACKER_DB_HOST": "127.0.0.1",
            "TRACKER_DB_PORT": str(pg_port), "TRACKER_DB": self.dbs["tracker"],
            "TRACKER_DB_USER": "postgres", "TRACKER_DB_PASSWORD": "",
            "LOCK_STORE_HOST": "127.0.0.1", "LOCK_STORE_PORT": str(redis_port),
            "LOCK_STORE_DB": str(redis_db), "LOCK_STORE_PASSWORD": "",
            "LOCK_STORE_KEY_PREFIX": f"h17so{run}",
            "TF_CPP_MIN_LOG_LEVEL": "2", "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            **(extra_env or {}),
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    # ---- databases

    def _admin(self) -> Any:
        import psycopg2

        conn = psycopg2.connect(dbname="postgres", host="127.0.0.1", port=self.pg_port,
                                user="postgres", connect_timeout=5)
        conn.autocommit = True
        return conn

    def recreate_databases(self) -> None:
        conn = self._admin()
        with conn.cursor() as cur:
            for name in self.dbs.values():
                cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                cur.execute(f"CREATE DATABASE {name}")
        conn.close()

    def drop_databases(self) -> None:
        conn = self._admin()
        with conn.cursor() as cur:
            for name in self.dbs.values():
                cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.close()

    def deploy(self, staff: str = "") -> None:
        """The deploy step: migrations, then (optional) Python creating staff accounts
        (production seeds no demo accounts)."""
        subprocess.run([str(SVC_PY), "-m", "api", "migrate"], cwd=ROOT, env=self.env,
                       check=True, capture_output=True)
        if staff:
            self.run_py(staff)

    # ---- processes

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

    def start_all(self, timeout: float) -> None:
        """Everything, in the order a deploy brings it up, each replica healthy and warm."""
        for name in ("nginx", "actions", "rasa1", "rasa2", "api1"):
            self.start(name)
        self.wait(f"{self.api['api1']}/", timeout)  # api1 alone: it imports the seed KB
        self.start("api2")
        for name in ("api1", "api2"):
            self.wait(f"{self.api[name]}/health", timeout)
        for name in ("rasa1", "rasa2"):
            self.warm_rasa(name, timeout)

    def warm_rasa(self, name: str, timeout: float = 120) -> None:
        """The first message of a fresh Rasa is slow (model load on first use)."""
        httpx.post(f"http://127.0.0.1:{self.ports[name]}/webhooks/rest/webhook",
                   json={"sender": f"warm-up-{name}", "message": "你好"}, timeout=timeout)

    def pid(self, name: str) -> int:
        return self.procs[name].pid

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signal the process itself (not its group: kill -9 of one process, as in a crash)."""
        os.kill(self.procs[name].pid, sig)
        if sig == signal.SIGKILL:
            self.procs[name].wait()

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGCONT)
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
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

    def wait(self, url: str, timeout: float) -> None:
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
