"""Process supervision of the embedded default (`make run`): supervisord keeps Rasa, the action
server and the API alive.

A warm standby Rasa (`rasa_standby`, RASA_STANDBY_PORT) runs beside the primary so that a
Rasa restart (about a minute of model loading) never leaves the chat without its bot.

`python -m api supervise` writes a supervisord config into ``$DATA_DIR/supervisor/`` and runs
supervisord in the foreground (Ctrl-C / SIGTERM stops every process, each as a process group).
Each process is restarted when it exits, whatever the exit code; one that dies during its first
``startsecs`` seconds is retried with supervisord's linear backoff (1 s, 2 s, 3 s, ...). One
process crashing never stops the others.

A small event listener (`python -m api.supervision listen`, started by supervisord itself) counts
starts and unexpected exits per process into ``restarts.json`` beside the config, so the count
survives a restart of the API that reports it. `/health` reads the live states over
supervisord's XML-RPC unix socket (`processes()`), and the counts from that file.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SOCKET_NAME = "supervisor.sock"
SERVING_LOCK_NAME = "api-serving.lock"
STANDBY_MARKER_NAME = "api-standby.pid"  # the pid of the warm standby API
COUNTS_NAME = "restarts.json"
# Seconds a process must stay up to count as started; an earlier exit is retried with backoff.
START_SECONDS = 3
START_RETRIES = 50  # then FATAL (visible in /health) instead of retrying forever
STOP_WAIT_SECONDS = 15
# A standby API waits at most this long for the serving one to accept connections before its
# own warm-up (see warm_then_wait).
STANDBY_WARM_DELAY_MAX = 60.0


@dataclass(frozen=True)
class Program:
    """One supervised process."""

    name: str
    command: list[str]
    env: dict[str, str]


def standby_enabled(env: dict[str, str]) -> bool:
    """Whether a warm standby Rasa runs beside the primary (RASA_STANDBY=0 turns it off, e.g.
    on a machine short of memory: one Rasa holds about 1 GB)."""
    return env.get("RASA_STANDBY", "1").strip().lower() not in ("0", "false", "no", "off", "")


def standby_port(env: dict[str, str]) -> str:
    """The standby Rasa's port: RASA_STANDBY_PORT, by default the one after RASA_PORT."""
    return env.get("RASA_STANDBY_PORT") or str(int(env.get("RASA_PORT") or "5005") + 1)


def programs(env: dict[str, str]) -> list[Program]:
    """The processes of the embedded default, started like the old Procfile did, plus a warm
    standby Rasa: a Rasa restart loads TensorFlow and the model (about a minute on a busy
    machine), so after `kill -9` of one Rasa the API's client fails over to the other at once
    (api/conversation/rasa_client.py). Both use the same tracker store and action server."""
    rasa_py = str(ROOT / ".venv-rasa" / "bin" / "python")
    svc_py = str(ROOT / ".venv-svc" / "bin" / "python")
    api_port = env.get("CARDBOT_API_PORT") or env.get("PORT") or "8000"
    api_env = {"PORT": api_port}
    out = [Program("rasa", [rasa_py, "-m", "bot.serve"], {})]
    if standby_enabled(env):
        port = standby_port(env)
        out.append(Program("rasa_standby", [rasa_py, "-m", "bot.serve"], {"RASA_PORT": port}))
        # a standby URL set to another host is kept (like the Makefile does for RASA_URL)
        url = env.get("RASA_STANDBY_URL", "")
        if not url or url.startswith("http://127.0.0.1:"):
            api_env["RASA_STANDBY_URL"] = f"http://127.0.0.1:{port}"
    out.append(Program("actions", [rasa_py, "-m", "rasa_sdk", "--actions", "actions",
                                   "--port", env.get("ACTIONS_PORT", "5055")], {}))
    if api_standby_enabled(env):
        # Two identical API processes; the one holding the serving lock listens on the port,
        # the other has loaded everything and waits for the lock (`warm_then_wait`).
        api_env["API_SERVING_LOCK"] = str(state_dir(env) / SERVING_LOCK_NAME)
        out += [Program("api", [svc_py, "-m", "api"], api_env),
                Program("api_standby", [svc_py, "-m", "api"], dict(api_env))]
    else:
        out.append(Program("api", [svc_py, "-m", "api"], api_env))
    return out


def api_standby_enabled(env: dict[str, str]) -> bool:
    """Whether a warm standby API runs beside the serving one (API_STANDBY=0 turns it off: one
    API process holds about 1.5 GB)."""
    return env.get("API_STANDBY", "1").strip().lower() not in ("0", "false", "no", "off", "")


def state_dir(env: dict[str, str]) -> Path:
    """Where the config, the control socket and the restart counts live."""
    return (Path(env.get("DATA_DIR", "var")) / "supervisor").resolve()


def _quote(value: str) -> str:
    # supervisord expands %(name)s in values: a literal % must be doubled.
    return value.replace("%", "%%")


def render_config(env: dict[str, str], directory: Path) -> str:
    """The supervisord.conf text for the programs and the restart counter."""
    sock = directory / SOCKET_NAME
    lines = [
        "[unix_http_server]", f"file={_quote(str(sock))}", "chmod=0700", "",
        "[supervisord]", "nodaemon=true", f"logfile={_quote(str(directory / 'supervisord.log'))}",
        "logfile_maxbytes=5MB", "logfile_backups=2",
        f"pidfile={_quote(str(directory / 'supervisord.pid'))}",
        f"directory={_quote(str(ROOT))}", "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface", "",
        "[supervisorctl]", f"serverurl=unix://{_quote(str(sock))}", "",
    ]
    for prog in programs(env):
        lines += [
            f"[program:{prog.name}]",
            f"command={_quote(shlex.join(prog.command))}",
            f"directory={_quote(str(ROOT))}",
            "autostart=true",
            "autorestart=true",  # any exit, expected or not
            f"startsecs={START_SECONDS}",
            f"startretries={START_RETRIES}",
            "stopsignal=TERM",
            f"stopwaitsecs={STOP_WAIT_SECONDS}",
            "stopasgroup=true",  # Rasa and uvicorn children go with their parent
            "killasgroup=true",
            "redirect_stderr=true",
            "stdout_logfile=/dev/stdout",  # the terminal of `make run`, as honcho did
            "stdout_logfile_maxbytes=0",
        ]
        if prog.env:
            pairs = ",".join(f'{k}="{_quote(v)}"' for k, v in prog.env.items())
            lines.append(f"environment={pairs}")
        lines.append("")
    counter = [sys.executable, "-m", "api.supervision", "listen", str(directory / COUNTS_NAME)]
    lines += [
        "[eventlistener:restart_counter]",
        f"command={_quote(shlex.join(counter))}",
        f"directory={_quote(str(ROOT))}",
        "events=PROCESS_STATE",
        "autorestart=true",
        "stderr_logfile=/dev/stderr",
        "stderr_logfile_maxbytes=0",
        "",
    ]
    return "\n".join(lines)


def write_config(env: dict[str, str]) -> Path:
    """Write a fresh config (and reset the counts); returns the config's path."""
    directory = state_dir(env)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / COUNTS_NAME).unlink(missing_ok=True)
    conf = directory / "supervisord.conf"
    conf.write_text(render_config(env, directory), encoding="utf-8")
    return conf


def run(env: dict[str, str] | None = None) -> None:
    """Exec supervisord in the foreground with a freshly written config."""
    env = dict(os.environ if env is None else env)
    conf = write_config(env)
    supervisord = str(Path(sys.executable).with_name("supervisord"))
    os.execve(supervisord, [supervisord, "-n", "-c", str(conf)], env)


# --- the warm standby API ----------------------------------------------------------------------

def warm_then_wait(lock_path: Path, port: int | None = None) -> int:
    """Load what makes an API start slow, then block until this process may serve.

    An API start spends most of its time importing torch / sentence-transformers / spaCy and
    loading the encoders (about 30 s on a busy 2-core machine); the KB snapshot itself comes
    from the on-disk cache in a few seconds once the encoder is in memory. So each supervised
    API process loads the product encoder, the PII pipeline and the current KB snapshot (left in
    the process-wide caches) before it serves, and only the holder of an exclusive flock on
    ``lock_path`` goes on to bind the port. The kernel drops the lock when the holder dies, even
    on `kill -9`, and the waiting process (already warm) takes over in a few seconds while the
    supervisor restarts the dead one, which becomes the new standby. Only one process serves at
    a time, so the in-process live hub (WebSockets, agent messages) works as with one API.

    A process that finds the lock taken is the standby: it first waits until the serving API
    answers on ``port`` with its KB up (at most ``STANDBY_WARM_DELAY_MAX`` seconds), so that its
    own warm-up, a minute of CPU, does not slow down the takeover on a small machine. The KB
    service loaded while warming is handed to the app (`adopt_warm_kb`), so a takeover does not
    load it again.

    Returns the lock's file descriptor, which stays open for the life of the process (closing
    it would release the serving role). SIGTERM while waiting just ends the process.
    """
    import fcntl

    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        holder = True
    except BlockingIOError:
        holder = False
        if port is not None:
            _wait_serving(port, STANDBY_WARM_DELAY_MAX)
    started = time.monotonic()
    ready = _warm()
    if holder:
        print(f"api {os.getpid()}: serving (warm-up {time.monotonic() - started:.1f} s)",
              file=sys.stderr, flush=True)
        return fd
    os.close(fd)

    def waiting() -> None:
        # /health tells a warm standby from one still warming up (processes())
        marker = lock_path.with_name(STANDBY_MARKER_NAME)
        tmp = marker.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(str(os.getpid()), encoding="utf-8")
        tmp.replace(marker)
        print(f"api {os.getpid()}: warm in {time.monotonic() - started:.1f} s (KB ready: "
              f"{ready}); standby, waiting to take over", file=sys.stderr, flush=True)

    return acquire_serving_lock(lock_path, waiting)


def _wait_serving(port: int, timeout: float) -> bool:
    """Wait until the API on 127.0.0.1:``port`` answers /health with its KB up."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=3) as resp:
                body = resp.read()
        except urllib.error.HTTPError as exc:  # 503 while another component is down
            body = exc.read()
        except OSError:
            body = b""
        try:
            if json.loads(body or b"{}")["components"]["retrieval"]["state"] == "up":
                return True
        except (ValueError, KeyError, TypeError):
            pass
        time.sleep(0.5)
    return False


_WARM_KB: Any = None  # the KnowledgeService loaded by _warm(), for the app to adopt


def _warm() -> bool:
    """Fill the process-wide caches an API start needs and load the KB; True when it loaded."""
    global _WARM_KB
    from api.core.config import get_settings
    from api.core.db import get_sessionmaker
    from api.staff import seed_demo_users
    from knowledge_base.search.service import KnowledgeService
    from pii.masking import get_pipeline

    settings = get_settings()
    # bcrypt checks of the demo accounts (seconds); a takeover that adopts the warm KB skips them
    seed_demo_users(get_sessionmaker(), settings)
    get_pipeline()  # spaCy + jieba (about 4 s), cached for the lifespan's WeChat start
    kb = KnowledgeService(settings.kb_config())
    kb.start_background()
    ready = kb.wait_ready(timeout=600)
    if ready:
        kb.search("信用卡年费怎么收")  # torch's first inference is several times slower
        _WARM_KB = kb
    else:
        kb.close()
    return ready


def adopt_warm_kb(config: Any) -> Any:
    """The KB service this process loaded while it waited as the standby (None if it did not,
    or if it serves an older release than the current one: then the app loads afresh). Taken
    once: the app owns it from then on. Not None also means the warm-up seeded the demo
    accounts already."""
    global _WARM_KB
    kb, _WARM_KB = _WARM_KB, None
    if kb is None:
        return None
    from knowledge_base.content.store import current_release
    from knowledge_base.db import sessions

    # only the release number (reading every entry takes seconds on a busy machine)
    with sessions(config.database_url)() as session:
        row = current_release(session)
    snapshot = kb.snapshot
    if snapshot is None or row is None or row.number != snapshot.release:
        kb.close()
        return None
    return kb


def acquire_serving_lock(lock_path: Path, on_wait: Any = None) -> int:
    """Block until this process holds the exclusive flock on ``lock_path`` (``on_wait()`` is
    called once if another process holds it); returns the open descriptor (keep it open)."""
    import fcntl

    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        role = "serving"
    except BlockingIOError:
        if on_wait is not None:
            on_wait()
        fcntl.flock(fd, fcntl.LOCK_EX)
        role = "taking over"
    print(f"api {os.getpid()}: {role}", file=sys.stderr, flush=True)
    return fd


# --- restart counting (runs as a supervisord event listener) ---------------------------------

class Counts:
    """Starts and unexpected exits per process, persisted as JSON (atomic replace)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, dict[str, Any]] = {}

    def on_event(self, event: str, payload: dict[str, str]) -> None:
        name = payload.get("processname", "")
        if not name or payload.get("groupname", name) != name:
            return
        item = self.data.setdefault(name, {"starts": 0, "restarts": 0, "crashes": 0})
        if event == "PROCESS_STATE_STARTING":
            item["starts"] += 1
            item["restarts"] = item["starts"] - 1
        elif event == "PROCESS_STATE_BACKOFF" or (
                event == "PROCESS_STATE_EXITED" and payload.get("expected") == "0"):
            item["crashes"] += 1
            item["last_crash_at"] = time.time()
        self.save()

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data), encoding="utf-8")
        tmp.replace(self.path)


def _parse(text: str) -> dict[str, str]:
    return dict(token.split(":", 1) for token in text.split() if ":" in token)


def listen(path: Path) -> None:
    """The supervisord event-listener loop: count PROCESS_STATE events into ``path``."""
    from supervisor import childutils

    counts = Counts(path)
    while True:
        headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
        body = payload.split("\n", 1)[0]
        counts.on_event(headers.get("eventname", ""), _parse(body))
        childutils.listener.ok(sys.stdout)


# --- reading the state (the API's /health) ---------------------------------------------------

class _UnixTransport(xmlrpc.client.Transport):
    def __init__(self, socket_path: str) -> None:
        super().__init__()
        self._socket_path = socket_path

    def make_connection(self, host: Any) -> Any:
        import http.client
        import socket

        path = self._socket_path

        class Conn(http.client.HTTPConnection):
            def connect(self) -> None:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.settimeout(2)
                self.sock.connect(path)

        return Conn("localhost")


def processes(directory: Path, serving_pid: int | None = None) -> dict[str, Any] | None:
    """Each supervised process's state, pid, uptime and restart counts; None when the API is not
    running under `api.supervision` (no control socket). ``serving_pid`` (the API answering)
    marks that process ``serving`` and the other API ``standby``. Blocking: call it off the
    event loop."""
    sock = directory / SOCKET_NAME
    if not sock.exists():
        return None
    try:
        proxy = xmlrpc.client.ServerProxy("http://localhost", transport=_UnixTransport(str(sock)))
        infos: list[dict[str, Any]] = proxy.supervisor.getAllProcessInfo()  # type: ignore[assignment]
    except (OSError, xmlrpc.client.Error) as exc:
        return {"error": type(exc).__name__}
    try:
        counts = json.loads((directory / COUNTS_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        counts = {}
    try:
        warm_pid = int((directory / STANDBY_MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        warm_pid = None
    out: dict[str, Any] = {}
    for info in infos:
        name = info["name"]
        if name == "restart_counter":
            continue
        item = counts.get(name, {})
        running = info["statename"] == "RUNNING"
        out[name] = {"state": info["statename"].lower(), "pid": info["pid"] or None,
                     "uptime_seconds": (info["now"] - info["start"]) if running else 0,
                     "restarts": int(item.get("restarts", 0)),
                     "crashes": int(item.get("crashes", 0))}
        if serving_pid is not None and name in ("api", "api_standby"):
            pid = info["pid"]
            out[name]["role"] = ("serving" if pid == serving_pid else
                                 "standby" if pid and pid == warm_pid else "warming")
    return out


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["listen"] and len(args) == 2:
        listen(Path(args[1]))
    else:
        raise SystemExit("usage: python -m api.supervision listen COUNTS_FILE")


if __name__ == "__main__":
    main()
