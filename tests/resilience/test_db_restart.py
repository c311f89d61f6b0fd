"""The chat path rides out a PostgreSQL restart (issue 17): a database step that meets a lost or
refused connection is rolled back and run again (api/core/db.py `with_db_retry`); the chat
route's side (200 after a lost connection, 503 + Retry-After once the budget is spent) is in
tests/api/test_db_retry.py.

The PostgreSQL test starts a PRIVATE server (initdb into a temporary directory, port
DB_RESTART_PG_PORT, 8460 by default), stops it and starts it again while a step is retrying;
skipped when Debian's PostgreSQL binaries are missing.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from api.core.db import transient, with_db_retry
from knowledge_base.db import get_engine

PG_PORT = int(os.environ.get("DB_RESTART_PG_PORT", "8460"))


def lost_connection() -> OperationalError:
    return OperationalError("INSERT INTO messages ...", {}, sqlite3.OperationalError(
        "server closed the connection unexpectedly"), connection_invalidated=True)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_transient_failure_is_retried_after_a_rollback() -> None:
    calls, resets = [], []
    clock = FakeClock()

    def step() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise lost_connection()
        return "stored"

    assert with_db_retry(step, reset=lambda: resets.append(1), sleep=clock.sleep,
                         clock=lambda: clock.now) == "stored"
    assert len(calls) == 3 and len(resets) == 2
    assert clock.slept == [0.25, 0.5]  # growing pauses


def test_a_constraint_violation_is_not_retried() -> None:
    calls = []

    def step() -> None:
        calls.append(1)
        raise IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed"))

    with pytest.raises(IntegrityError):
        with_db_retry(step, sleep=lambda _s: None)
    assert len(calls) == 1
    assert not transient(IntegrityError("x", {}, Exception("y")))


def test_the_error_goes_on_once_the_budget_is_spent() -> None:
    clock = FakeClock()

    def step() -> None:
        raise lost_connection()

    with pytest.raises(OperationalError):
        with_db_retry(step, budget=2.0, sleep=clock.sleep, clock=lambda: clock.now)
    assert 2.0 <= clock.now < 3.5


# ---- a real PostgreSQL restart (private server)

def _pg_bin(name: str) -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return found[-1] if found else None


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture()
def private_pg() -> Iterator[tuple[str, Path, Path]]:
    pg_ctl, initdb = _pg_bin("pg_ctl"), _pg_bin("initdb")
    if pg_ctl is None or initdb is None:
        pytest.skip("PostgreSQL binaries not found under /usr/lib/postgresql")
    # not pytest's tmp_path: the postgres user must reach it (pytest's root is mode 700)
    tmp_path = Path(tempfile.mkdtemp(prefix="i17c-pg-"))
    data = tmp_path / "pg"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(tmp_path, "postgres")
        shutil.chown(data, "postgres")
    subprocess.run(_as_postgres([str(initdb), "-D", str(data), "-U", "postgres",
                                 "--auth=trust", "--no-locale", "-E", "UTF8"]),
                   check=True, capture_output=True, timeout=120)
    opts = f"-p {PG_PORT} -k {tmp_path} -c listen_addresses=127.0.0.1"
    subprocess.run(_as_postgres([str(pg_ctl), "-D", str(data), "-l", str(tmp_path / "pg.log"),
                                 "-w", "-o", opts, "start"]), check=True, capture_output=True,
                   timeout=120)
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{PG_PORT}/postgres", data, pg_ctl
    finally:
        subprocess.run(_as_postgres([str(pg_ctl), "-D", str(data), "-m", "immediate", "-w",
                                     "stop"]), capture_output=True, timeout=120)
        shutil.rmtree(tmp_path, ignore_errors=True)


def test_a_step_outlives_a_postgresql_restart(private_pg) -> None:
    url, data, pg_ctl = private_pg
    engine = get_engine(url)
    with engine.connect() as conn:  # a pooled connection that the restart will break
        conn.execute(text("CREATE TABLE lines (id serial PRIMARY KEY, body text)"))
        conn.commit()
    subprocess.run(_as_postgres([str(pg_ctl), "-D", str(data), "-m", "fast", "-w", "stop"]),
                   check=True, capture_output=True, timeout=120)

    def start_again() -> None:
        time.sleep(1.0)
        opts = f"-p {PG_PORT} -k {data.parent} -c listen_addresses=127.0.0.1"
        subprocess.run(_as_postgres([str(pg_ctl), "-D", str(data), "-l",
                                     str(data.parent / "pg.log"), "-w", "-o", opts, "start"]),
                       check=True, capture_output=True, timeout=120)

    attempts = []

    def step() -> int:
        attempts.append(1)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO lines (body) VALUES ('年费怎么收')"))
            return int(conn.execute(text("SELECT count(*) FROM lines")).scalar_one())

    restarter = threading.Thread(target=start_again)
    restarter.start()
    try:
        assert with_db_retry(step, budget=60.0) == 1  # stored once, after the restart
    finally:
        restarter.join()
        engine.dispose()
    assert len(attempts) > 1  # the first attempts met the stopped server
