"""The insights dashboard in Chromium against a real API process and a database of known
conversations (tests/api/insights_support.py): every KPI and chart series on the page equals
the hand-computed figure; filters; the empty state; the quality review; ops is read-only;
nothing is fetched from outside the server (Chart.js is vendored). Screenshots are saved in
the test's temp directory (or INSIGHTS_SCREENSHOT_DIR).

Needs no Rasa: only the API is started (port E2E_PORT + 50).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

import migrations

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "api"))
from insights_support import D1, D2, build_known  # noqa: E402

PORT = int(os.environ.get("E2E_PORT", "18005")) + 50
BASE = f"http://127.0.0.1:{PORT}"


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("insights")
    url = f"sqlite:///{tmp}/app.db"
    migrations.upgrade("service", url)
    migrations.upgrade("cards", f"sqlite:///{tmp}/cards.db")
    engine = create_engine(url)
    with Session(engine) as s:
        build_known(s)
    engine.dispose()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "APP_ENV": "test", "DATA_DIR": str(tmp),
           "DATABASE_URL": url, "CARD_DB_URL": f"sqlite:///{tmp}/cards.db", "PORT": str(PORT),
           "HOST": "127.0.0.1", "BCRYPT_ROUNDS": "4", "KB_RELEASE_POLL_SECONDS": "0"}
    log = open(tmp / "api.log", "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "api"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError((tmp / "api.log").read_text(errors="replace")[-3000:])
            try:
                if httpx.get(f"{BASE}/ops/insights", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("API did not start")
            time.sleep(1)
        yield {"tmp": tmp}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def shots(dashboard: dict[str, Any]) -> Path:
    out = Path(os.environ.get("INSIGHTS_SCREENSHOT_DIR") or dashboard["tmp"])
    out.mkdir(parents=True, exist_ok=True)
    return out


def open_page(browser: Any, role: str, query: str,
              browser_now: Any = None) -> tuple[Any, Any, list[str]]:
    from api.core.config import Settings

    settings = Settings()
    user, password = {"supervisor": (settings.demo_supervisor_user,
                                     settings.demo_supervisor_password),
                      "ops": (settings.demo_ops_user, settings.demo_ops_password)}[role]
    context = browser.new_context(viewport={"width": 1400, "height": 1800},
                                  timezone_id="Asia/Shanghai")
    outside: list[str] = []

    def guard(route: Any) -> None:
        if route.request.url.startswith(BASE):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    if browser_now is not None:  # the browser's clock (Date), timers keep running
        page.clock.set_fixed_time(browser_now)
    page.goto(f"{BASE}/ops/insights?{query}")
    page.fill("#login-user", user)
    page.fill("#login-pass", password)
    page.click("#login-submit")
    page.wait_for_selector("body[data-ready='1']", timeout=30000)
    return context, page, outside


def kpis(page: Any) -> dict[str, str]:
    return page.eval_on_selector_all(
        ".kpi", "els => Object.fromEntries(els.map(e => [e.dataset.metric, "
                "e.querySelector('.value').textContent]))")


def chart_data(page: Any, chart_id: str) -> Any:
    return page.evaluate(
        "id => { const c = Chart.getChart(id); return {labels: c.data.labels, "
        "data: c.data.datasets.map(d => ({label: d.label, data: d.data}))}; }", chart_id)


def test_dashboard_shows_the_known_figures_filters_and_empty_state(dashboard, browser) -> None:
    context, page, outside = open_page(browser, "supervisor", f"from={D1}&to={D2}")
    try:
        assert kpis(page) == {
            "conversations": "5", "resolution_rate": "40.0%", "clarify_rate": "11.1%",
            "fallback_rate": "22.2%", "handoff_rate": "40.0%", "queue_wait_p50_seconds": "120 秒",
            "helped_within_5min_rate": "50.0%", "abandonment_rate": "25.0%",
            "agent_handle_seconds": "450 秒", "csat": "3.67", "nps": "33.3"}
        subs = page.eval_on_selector_all(".kpi .sub", "els => els.map(e => e.textContent)")
        assert "P90 400 秒" in subs and "3 份回复（推荐 2 / 贬损 1）" in subs
        assert "3 份评价（1-5 分）" in subs and "机器人回复 9 轮" in subs
        assert chart_data(page, "chart-conversations") == {
            "labels": [D1, D2], "data": [{"label": "网页", "data": [2, 1]},
                                         {"label": "微信", "data": [1, 0]},
                                         {"label": "App", "data": [0, 1]}]}
        rates = chart_data(page, "chart-rates")
        assert rates["labels"] == [D1, D2]
        assert [round(v, 2) for v in rates["data"][0]["data"]] == [33.33, 50.0]  # resolution
        assert [round(v, 2) for v in rates["data"][1]["data"]] == [33.33, 50.0]  # handoff
        assert chart_data(page, "chart-nps") == {"labels": [D1, D2], "data": [
            {"label": "NPS", "data": [0, 100]}, {"label": "回复数", "data": [2, 1]}]}
        assert chart_data(page, "chart-csat")["data"][0]["data"] == [0, 1, 0, 1, 1]
        assert chart_data(page, "chart-reasons") == {"labels": ["投诉", "主动要求"],
                                                     "data": [{"label": None, "data": [1, 1]}]}
        agents = page.eval_on_selector_all("#agents-table tr[data-row]",
                                           "rows => rows.map(r => r.innerText.split('\\t'))")
        assert agents == [["2001", "王一", "1", "600 秒", "5.00", "1", "1", "1", "0.0", "1"],
                          ["2002", "李二", "1", "300 秒", "2.00", "1", "1", "0", "100.0", "0"]]
        entries = page.eval_on_selector_all("#entries-table tr[data-row]",
                                            "rows => rows.map(r => r.innerText.split('\\t'))")
        assert entries == [["bill-001", "3", "1", "33.3%"], ["limit-002", "1", "0", "0.0%"]]
        assert page.is_hidden("#empty")
        page.screenshot(path=str(shots(dashboard) / "insights-all.png"), full_page=True)

        page.select_option("#f-channel", "web")
        page.wait_for_selector("body[data-ready='1']")
        assert kpis(page)["conversations"] == "3" and kpis(page)["nps"] == "0.0"
        assert "channel=web" in page.url
        page.select_option("#f-channel", "")
        page.wait_for_selector("body[data-ready='1']")
        page.select_option("#f-tier", "vip")
        page.wait_for_selector("body[data-ready='1']")
        assert kpis(page)["conversations"] == "2" and kpis(page)["nps"] == "—"
        page.screenshot(path=str(shots(dashboard) / "insights-vip.png"), full_page=True)

        page.select_option("#f-tier", "")
        page.wait_for_selector("body[data-ready='1']")
        page.fill("#f-from", "2025-01-01")
        page.fill("#f-to", "2025-01-02")
        page.click("#f-apply")
        page.wait_for_selector("#empty:not([hidden])")
        page.wait_for_selector("body[data-ready='1']")
        assert kpis(page)["conversations"] == "0" and kpis(page)["resolution_rate"] == "—"
        page.screenshot(path=str(shots(dashboard) / "insights-empty.png"), full_page=True)
        assert outside == []
    finally:
        context.close()


def test_supervisor_reviews_a_flag_and_ops_is_read_only(dashboard, browser) -> None:
    context, page, _ = open_page(browser, "ops", f"from={D1}&to={D2}")
    try:
        rows = page.eval_on_selector_all("#review-table tr[data-row]",
                                         "rows => rows.map(r => r.innerText)")
        assert len(rows) == 1 and "违规承诺" in rows[0]
        assert rows[0].startswith(f"{D1} 13:00")  # flagged 13:00 Beijing time (05:00 UTC)
        assert page.query_selector("#review-table button") is None
    finally:
        context.close()
    context, page, _ = open_page(browser, "supervisor", f"from={D1}&to={D2}")
    try:
        page.fill("#review-table .review-note", "已辅导坐席")
        page.click("#review-table button:has-text('采纳')")
        page.wait_for_selector("#review-table td.muted")  # the queue is empty now
        agents = page.eval_on_selector_all("#agents-table tr[data-row]",
                                           "rows => rows.map(r => r.innerText.split('\\t'))")
        assert agents[0][-1] == "0" and agents[0][-2] == "0.0"  # accepted still counts
    finally:
        context.close()


def test_default_range_is_the_servers_last_30_days_whatever_the_browser_clock(dashboard,
                                                                             browser) -> None:
    """At 04:00 Beijing time the browser's UTC date is still yesterday: a session of today
    (Beijing) must be on the default page, whose range is the server's last 30 days."""
    from datetime import datetime, timedelta, timezone

    from api.core.config import Settings
    from api.models import Conversation, ServiceSession

    now = datetime.now(timezone.utc)
    zone = timezone(timedelta(hours=Settings().insights_utc_offset_hours))
    today = now.astimezone(zone).date()
    engine = create_engine(f"sqlite:///{dashboard['tmp']}/app.db")
    with Session(engine) as s:
        s.add(Conversation(id="today-c1", channel="web", user_id="u-today"))
        s.flush()
        s.add(ServiceSession(conversation_id="today-c1", channel="web", tier="standard",
                             started_at=now, last_at=now, kb_entries=[], turns=1, answered=1))
        s.commit()
    engine.dispose()
    # the browser: 20:00 UTC of the day before = 04:00 Beijing time today
    browser_now = datetime.combine(today - timedelta(days=1), datetime.min.time(),
                                   timezone.utc) + timedelta(hours=20)
    context, page, _ = open_page(browser, "supervisor", "", browser_now=browser_now)
    inbox_requests: list[str] = []
    page.on("request", lambda r: inbox_requests.append(r.url.removeprefix(BASE))
            if "/kb/inbox" in r.url else None)
    try:
        page.select_option("#f-tier", "other")  # a reload with the request listener on
        page.wait_for_selector("body[data-ready='1']")
        assert page.input_value("#f-to") == today.isoformat()
        assert page.input_value("#f-from") == (today - timedelta(days=29)).isoformat()
        conversations = int(kpis(page)["conversations"])
        days = chart_data(page, "chart-conversations")["labels"]
        assert conversations >= 1 and today.isoformat() in days
        # the filters keep the server's range
        page.select_option("#f-channel", "web")
        page.wait_for_selector("body[data-ready='1']")
        assert "to=" + today.isoformat() in page.url
        assert today.isoformat() in chart_data(page, "chart-conversations")["labels"]
        # the unanswered clusters are asked for the dashboard's range (not "the last N days")
        page.wait_for_selector("#unanswered-table[data-done='1']")
        assert inbox_requests[-1] == ("/api/v1/kb/inbox?limit=5&from=" + (
            today - timedelta(days=29)).isoformat() + "&to=" + today.isoformat())
        # an inbox that fails is shown as a failure, not as "暂无数据" (nothing unanswered)
        page.route("**/api/v1/kb/inbox**", lambda route: route.fulfill(
            status=503, json={"detail": {"message": "知识库暂不可用", "message_en": "down"}}))
        page.click("#f-apply")
        page.wait_for_selector("#unanswered-table td[data-error]")
        cell = page.text_content("#unanswered-table td") or ""
        assert "暂时无法加载" in cell and "知识库暂不可用" in cell and "暂无数据" not in cell
    finally:
        context.close()
