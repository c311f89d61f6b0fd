"""Insights at scale: generate N conversations (default 100,000) into a fresh SQLite service
database, then time

- the summary (`api.insights.summary.summary`, the SQL behind GET /api/v1/insights/summary)
  over the last 30 days and over the whole 90 days, median of repeated runs; baseline in the
  same run: the same session figures computed in Python from the fetched rows;
- the series and breakdowns (the dashboard's other two requests);
- the dashboard render in Chromium: an API process on the generated database, from navigation
  of `/ops/insights` (signed in) to every chart drawn (`body[data-ready]`), median of runs.

Targets (issue 18): summary < 1 s, dashboard render < 2 s. Results: bench/results/insights.*.
`python -m bench insights [--conversations N]`.
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, Skip, base_payload, write_result

DAYS = 90
SEED = 18
CHANNELS = (("web", 0.5), ("wechat", 0.35), ("app", 0.15))
TIERS = (("standard", 0.6), ("gold", 0.3), ("platinum", 0.1))
REASONS = ("requested", "fallback", "clarify_rejected", "complaint", "fraud_dispute")
ENTRIES = [f"entry-{i:03d}" for i in range(120)]
AGENTS = 20
CHUNK = 5000
PORT = int(os.environ.get("BENCH_INSIGHTS_PORT", "18460"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    x, acc = rng.random(), 0.0
    for value, weight in weighted:
        acc += weight
        if x < acc:
            return value
    return weighted[-1][0]


def generate(url: str, n: int, now: datetime, seed: int = SEED) -> dict[str, int]:
    """Fill a migrated service database with n conversations (one session each) over DAYS
    days: bot turns, handoffs (~15 %), agent surveys, NPS answers (~30 %), KB answers,
    quality inspections with flags. Returns the row counts."""
    from sqlalchemy import create_engine, insert

    from api.models import (
        Conversation,
        Handoff,
        KBEvent,
        Message,
        NpsResponse,
        QualityFlag,
        QualityInspection,
        ServiceSession,
        StaffUser,
        Survey,
    )

    rng = random.Random(seed)
    engine = create_engine(url)
    counts = dict.fromkeys(("conversations", "sessions", "handoffs", "surveys", "nps",
                            "kb_events", "inspections", "flags"), 0)
    with engine.begin() as c:
        c.execute(insert(StaffUser.__table__), [
            {"username": f"bench-agent-{i}", "password_hash": "x", "role": "agent",
             "display_name": f"坐席{i}", "agent_no": f"{3000 + i}", "groups": ["general"],
             "capacity": 3, "status": "offline", "active": True, "created_at": now}
            for i in range(1, AGENTS + 1)])
        agent_ids = list(range(1, AGENTS + 1))
        c.execute(insert(Conversation.__table__), [{
            "id": "bench-0", "channel": "web", "user_id": "bench-0", "state": "bot",
            "created_at": now, "updated_at": now}])
        c.execute(insert(Message.__table__), [{
            "conversation_id": "bench-0", "sender": "user", "type": "text", "text": "q",
            "created_at": now}])
    handoff_id = session_id = inspection_id = 0
    for start in range(0, n, CHUNK):
        rows: dict[str, list[dict[str, Any]]] = {k: [] for k in (
            "conv", "sess", "hand", "surv", "nps", "kb", "insp", "flag")}
        for i in range(start, min(n, start + CHUNK)):
            cid = f"bench-{i + 1}"
            channel, tier = _pick(rng, CHANNELS), _pick(rng, TIERS)
            at = now - timedelta(seconds=rng.uniform(0, DAYS * 86400))
            rows["conv"].append({"id": cid, "channel": channel, "user_id": cid, "state": "bot",
                                 "created_at": at, "updated_at": at})
            turns = rng.randint(1, 6)
            outcomes = [rng.choices(("answered", "clarify", "fallback"), (0.8, 0.12, 0.08))[0]
                        for _ in range(turns)]
            handoff = rng.random() < 0.15
            thumbs = 1 if rng.random() < 0.04 else 0
            entries = sorted({rng.choice(ENTRIES) for o in outcomes if o == "answered"})
            session_id += 1
            hid = None
            if handoff:
                handoff_id += 1
                hid = handoff_id
                requested = at + timedelta(seconds=30 * turns)
                cancelled = rng.random() < 0.08
                wait = rng.expovariate(1 / 150)
                assigned = None if cancelled else requested + timedelta(seconds=wait)
                resolved = None if cancelled else assigned + timedelta(  # type: ignore[operator]
                    seconds=rng.uniform(60, 900))
                agent = None if cancelled else rng.choice(agent_ids)
                rows["hand"].append({
                    "id": hid, "conversation_id": cid, "user_id": cid, "channel": channel,
                    "reason": rng.choice(REASONS), "group": "general", "priority": False,
                    "tier": tier, "requested_at": requested, "queued_at": requested,
                    "agent_id": agent, "assigned_at": assigned, "resolved_at": resolved,
                    "ended_at": resolved or requested, "last_user_text": "",
                    "end_reason": "cancelled" if cancelled else "resolved",
                    "rasa_paused": False})
                if resolved is not None:
                    if rng.random() < 0.6:
                        rows["surv"].append({
                            "conversation_id": cid, "handoff_id": hid, "agent_id": agent,
                            "status": "done", "score": rng.choices((1, 2, 3, 4, 5),
                                                                   (5, 5, 15, 35, 40))[0],
                            "created_at": resolved, "answered_at": resolved})
                    inspection_id += 1
                    nflags = rng.choices((0, 1, 2), (70, 20, 10))[0]
                    rows["insp"].append({"id": inspection_id, "conversation_id": cid,
                                         "handoff_id": hid, "agent_id": agent,
                                         "inspected_at": resolved, "flags": nflags,
                                         "risk": rng.random()})
                    for _ in range(nflags):
                        rows["flag"].append({
                            "inspection_id": inspection_id, "conversation_id": cid,
                            "agent_id": agent, "message_id": None,
                            "rule": rng.choice(("no_greeting", "slow_reply",
                                                "forbidden_promise")),
                            "severity": "minor", "excerpt": "", "status": rng.choice(
                                ("open", "accepted", "dismissed")), "review_note": "",
                            "created_at": resolved})
            rows["sess"].append({
                "id": session_id, "conversation_id": cid, "channel": channel, "tier": tier,
                "started_at": at, "last_at": at + timedelta(minutes=5), "ended_at": None,
                "turns": turns, "answered": outcomes.count("answered"),
                "clarify": outcomes.count("clarify"), "fallback": outcomes.count("fallback"),
                "thumbs_down": thumbs, "handoff": handoff,
                "handoff_reason": rows["hand"][-1]["reason"] if handoff else None,
                "handoff_id": hid, "kb_entries": entries})
            if rng.random() < 0.3:
                score = rng.choices(range(11), (2, 1, 1, 2, 2, 3, 5, 10, 20, 27, 27))[0]
                rows["nps"].append({
                    "conversation_id": cid, "session_id": session_id, "channel": channel,
                    "tier": tier, "human": handoff, "kb_entries": entries, "trigger": "goodbye",
                    "status": "done", "score": score,
                    "csat": rng.choice((None, 3, 4, 5)) if not handoff else None,
                    "asked_at": at + timedelta(minutes=5),
                    "answered_at": at + timedelta(minutes=6)})
            for entry in entries:
                rows["kb"].append({
                    "conversation_id": cid, "user_message_id": 1, "query": "", "outcome":
                    "answered", "entry_id": entry, "score": 0.95, "release": 1,
                    "helpful": False if thumbs else None, "created_at": at})
        with engine.begin() as c:
            for key, model in (("conv", Conversation), ("sess", ServiceSession),
                               ("hand", Handoff), ("surv", Survey), ("nps", NpsResponse),
                               ("kb", KBEvent), ("insp", QualityInspection),
                               ("flag", QualityFlag)):
                if rows[key]:
                    c.execute(insert(model.__table__), rows[key])
        for key, name in (("conv", "conversations"), ("sess", "sessions"), ("hand", "handoffs"),
                          ("surv", "surveys"), ("nps", "nps"), ("kb", "kb_events"),
                          ("insp", "inspections"), ("flag", "flags")):
            counts[name] += len(rows[key])
    engine.dispose()
    return counts


def _median_ms(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 1), result


def python_baseline(db: Any, f: Any) -> dict[str, Any]:
    """The session figures of the summary computed in Python from the fetched rows."""
    from sqlalchemy import select

    from api.models import ServiceSession as S

    stmt = select(S.answered, S.handoff, S.thumbs_down, S.turns, S.clarify, S.fallback).where(
        S.started_at >= f.start, S.started_at < f.end)
    rows = db.execute(stmt).all()
    n = len(rows)
    resolved = sum(1 for a, h, t, *_ in rows if a > 0 and not h and t == 0)
    turns = sum(r[3] for r in rows)
    return {"conversations": n, "resolution_rate": round(resolved / n, 4) if n else None,
            "clarify_rate": round(sum(r[4] for r in rows) / turns, 4) if turns else None,
            "fallback_rate": round(sum(r[5] for r in rows) / turns, 4) if turns else None,
            "handoff_rate": round(sum(1 for r in rows if r[1]) / n, 4) if n else None}


def render_dashboard(url: str, tmp: Path, runs: int, log: Callable[[str], None]) -> dict[str, Any]:
    """Median ms from navigating to /ops/insights (signed in) to every chart drawn."""
    import httpx

    if not Path(CHROMIUM).exists():
        raise Skip(f"Chromium missing at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    base = f"http://127.0.0.1:{PORT}"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "APP_ENV": "test", "DATA_DIR": str(tmp),
           "DATABASE_URL": url, "CARD_DB_URL": f"sqlite:///{tmp}/cards.db", "PORT": str(PORT),
           "HOST": "127.0.0.1", "BCRYPT_ROUNDS": "4", "KB_RELEASE_POLL_SECONDS": "0"}
    logfile = open(tmp / "api.log", "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "api"], cwd=REPO_ROOT, env=env,
                            stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise RuntimeError((tmp / "api.log").read_text(errors="replace")[-2000:])
            try:
                if httpx.get(f"{base}/ops/insights", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("API did not start")
            time.sleep(1)
        # A served API has its KB loaded: wait for it so that loading does not share the CPU
        # with the measurement (up to 4 minutes; measured anyway after that).
        kb_deadline = time.monotonic() + 240
        while time.monotonic() < kb_deadline:
            try:
                state = httpx.get(f"{base}/health", timeout=10).json()["components"][
                    "retrieval"]["state"]
            except (httpx.HTTPError, KeyError, ValueError):
                state = "unknown"
            if state in ("up", "down", "error", "failed"):
                break
            time.sleep(2)
        log(f"insights: API retrieval state {state}")
        from api.core.config import Settings

        s = Settings()
        token = httpx.post(f"{base}/api/v1/auth/token", data={
            "username": s.demo_supervisor_user, "password": s.demo_supervisor_password}
                           ).json()["access_token"]
        times: list[float] = []
        page_ms: list[float] = []
        inbox_ms: list[float] = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-background-networking", "--disable-component-update"])
            try:
                context = browser.new_context(viewport={"width": 1400, "height": 1800})
                context.add_init_script(
                    f"sessionStorage.setItem('cardbot_ops_token', {token!r});")
                page = context.new_page()
                for i in range(runs + 1):  # the first run warms caches and is not counted
                    t0 = time.perf_counter()
                    page.goto(f"{base}/ops/insights?from={(date.today() - timedelta(days=29))}"
                              f"&to={date.today()}")
                    page.wait_for_selector("body[data-ready='1']", timeout=60000)
                    elapsed = (time.perf_counter() - t0) * 1000
                    # the KB inbox clusters load after the charts: let them finish so that one
                    # run's clustering does not share the CPU with the next run
                    page.wait_for_selector("#unanswered-table[data-done='1']", timeout=180000)
                    inbox = (time.perf_counter() - t0) * 1000
                    if i:
                        times.append(elapsed)
                        page_ms.append(page.evaluate("window.insightsRenderMs"))
                        inbox_ms.append(inbox)
                    log(f"insights: render run {i}: {elapsed:.0f} ms (clusters {inbox:.0f} ms)")
                conversations = page.text_content("#kpi-conversations")
                page.screenshot(path=str(tmp / "dashboard.png"), full_page=True)
            finally:
                browser.close()
        return {"render_ms_median": round(statistics.median(times), 1),
                "render_ms_runs": [round(t, 1) for t in times],
                "in_page_ms_median": round(statistics.median(page_ms), 1),
                "with_unanswered_clusters_ms_median": round(statistics.median(inbox_ms), 1),
                "kpi_conversations_shown": conversations}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        logfile.close()


def run(conversations: int = 100_000, repeat: int = 5, render_runs: int = 5,
        log: Callable[[str], None] = print) -> dict[str, Any]:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    import migrations
    from api.insights import summary as insights

    t_start = time.perf_counter()
    now = datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory(prefix="bench-insights-") as tmpdir:
        tmp = Path(tmpdir)
        url = f"sqlite:///{tmp}/app.db"
        migrations.upgrade("service", url)
        migrations.upgrade("cards", f"sqlite:///{tmp}/cards.db")
        t0 = time.perf_counter()
        counts = generate(url, conversations, now)
        gen_s = time.perf_counter() - t0
        log(f"insights: generated {counts} in {gen_s:.1f} s")
        engine = create_engine(url)
        timings: dict[str, Any] = {}
        with Session(engine) as db:
            for label, days in (("30d", 30), ("90d", DAYS + 1)):
                f = insights.Filters.from_params(days=days, from_=None, to=None, channel=None,
                                                 tier=None, offset_hours=8, helped_within=300,
                                                 now=now)
                ms, result = _median_ms(lambda f=f: insights.summary(db, f), repeat)
                base_ms, base = _median_ms(lambda f=f: python_baseline(db, f), repeat)
                same = all(result[k] == base[k] for k in base)
                series_ms, _ = _median_ms(lambda f=f: insights.series(db, f), repeat)
                breakdown_ms, _ = _median_ms(lambda f=f: insights.breakdowns(db, f), repeat)
                fv = insights.Filters.from_params(days=days, from_=None, to=None,
                                                  channel="wechat", tier="vip", offset_hours=8,
                                                  helped_within=300, now=now)
                filtered_ms, _ = _median_ms(lambda fv=fv: insights.summary(db, fv), repeat)
                timings[label] = {
                    "summary_ms": ms, "summary_wechat_vip_ms": filtered_ms,
                    "python_baseline_session_figures_ms": base_ms,
                    "baseline_ratio": round(base_ms / ms, 2) if ms else None,
                    "baseline_agrees": same, "series_ms": series_ms,
                    "breakdowns_ms": breakdown_ms, "conversations": result["conversations"],
                    "nps": result["nps"], "nps_responses": result["nps_responses"],
                    "queue_wait_p50_seconds": result["queue_wait_p50_seconds"]}
                log(f"insights: {label} summary {ms} ms (python baseline {base_ms} ms), "
                    f"series {series_ms} ms, breakdowns {breakdown_ms} ms")
        engine.dispose()
        try:
            render = render_dashboard(url, tmp, render_runs, log)
        except Skip as exc:
            render = {"skipped": str(exc)}
    payload = base_payload("insights", ["SQLAlchemy", "playwright", "fastapi"])
    summary_ok = all(t["summary_ms"] < 1000 for t in timings.values())
    render_ok = render.get("render_ms_median") is not None and render["render_ms_median"] < 2000
    payload.update({"runtime_s": time.perf_counter() - t_start, "conversations": conversations,
                    "rows": counts, "generate_s": round(gen_s, 1), "repeat": repeat,
                    "database": "SQLite (file)", "timings": timings, "render": render,
                    "targets": {"summary_lt_1s": summary_ok, "render_lt_2s": render_ok}})
    md = [f"# Insights at scale ({conversations:,} conversations, {DAYS} days)\n",
          f"- date: {payload['date']}; machine: {payload['machine']['cpu_model']}, "
          f"{payload['machine']['nproc']} cores; SQLite file; seed {SEED}",
          f"- rows: {counts}; generated in {gen_s:.1f} s\n",
          "| range | summary ms | summary wechat+VIP ms | Python baseline (session figures) ms "
          "| series ms | breakdowns ms | conversations |", "|---|---|---|---|---|---|---|"]
    for label, t in timings.items():
        md.append(f"| {label} | {t['summary_ms']} | {t['summary_wechat_vip_ms']} | "
                  f"{t['python_baseline_session_figures_ms']} (×{t['baseline_ratio']}) | "
                  f"{t['series_ms']} | {t['breakdowns_ms']} | {t['conversations']:,} |")
    if "render_ms_median" in render:
        md.append(f"\nDashboard render in Chromium (last 30 days, navigation → all charts "
                  f"drawn), median of {render_runs}: **{render['render_ms_median']} ms** "
                  f"(runs {render['render_ms_runs']}; in-page {render['in_page_ms_median']} ms). "
                  f"The unanswered-question clusters (the KB inbox, drawn after the charts) "
                  f"were complete after {render['with_unanswered_clusters_ms_median']} ms.")
    else:
        md.append(f"\nDashboard render: skipped ({render.get('skipped')})")
    md.append(f"\nTargets: summary < 1 s: **{'met' if summary_ok else 'NOT met'}**; "
              f"render < 2 s: **{'met' if render_ok else 'NOT met'}**.")
    write_result("insights", payload, "\n".join(md))
    return payload
