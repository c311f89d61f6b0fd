"""Every figure of the dashboard from known sessions/handoffs/surveys/NPS/inspections, over the
HTTP API on SQLite and through the same SQL on PostgreSQL (skipped when it is unreachable)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from handoff_support import desk_env, login, make_staff
from insights_support import D1, D2, build_known, check_known, pg_h18_database
from openpyxl import load_workbook
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

import migrations
from api.core import db
from api.insights import summary as insights


@pytest.fixture()
def known(tmp_path, monkeypatch, client):
    desk_env(tmp_path, monkeypatch)
    with db.get_sessionmaker()() as s:
        ids = build_known(s)
    make_staff("sup", "supervisor")
    make_staff("opsy", "ops")
    make_staff("agent1", "agent")
    return client, ids


def get(client, path, headers, **params):
    resp = client.get(path, params={"from": D1, "to": D2, **params}, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_known_figures_over_http_on_sqlite(known) -> None:
    client, ids = known
    headers = login(client, "sup")
    check_known(get(client, "/api/v1/insights/summary", headers),
                get(client, "/api/v1/insights/summary", headers, tier="vip"),
                get(client, "/api/v1/insights/summary", headers, channel="web"),
                get(client, "/api/v1/insights/series", headers),
                get(client, "/api/v1/insights/breakdowns", headers), ids)


def test_ops_read_agents_refused_bad_ranges_422(known) -> None:
    client, _ = known
    assert get(client, "/api/v1/insights/summary", login(client, "opsy"))["conversations"] == 5
    resp = client.get("/api/v1/insights/summary", headers=login(client, "agent1"))
    assert resp.status_code == 403
    assert client.get("/api/v1/insights/summary").status_code == 401
    bad = client.get("/api/v1/insights/summary", params={"from": D2, "to": D1},
                     headers=login(client, "sup"))
    assert bad.status_code == 422
    assert bad.json()["detail"]["message"] == "开始日期不能晚于结束日期。"
    assert client.get("/api/v1/insights/summary", params={"tier": "gold"},
                      headers=login(client, "sup")).status_code == 422


def test_empty_range_gives_zeroes_and_nones(known) -> None:
    client, _ = known
    empty = client.get("/api/v1/insights/summary", params={"from": "2025-01-01",
                                                            "to": "2025-01-02"},
                       headers=login(client, "sup")).json()
    assert empty["conversations"] == 0 and empty["resolution_rate"] is None
    assert empty["nps"] is None and empty["queue_wait_p50_seconds"] is None


def test_xlsx_export_has_the_same_figures(known) -> None:
    client, _ = known
    resp = client.get("/api/v1/insights/export", params={"from": D1, "to": D2},
                      headers=login(client, "opsy"))
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/vnd.openxmlformats")
    import io

    wb = load_workbook(io.BytesIO(resp.content))
    overview = {row[0]: row[1] for row in wb["概览"].iter_rows(values_only=True)}
    assert overview["会话数"] == 5 and overview["NPS"] == 33.3 and overview["CSAT回复数"] == 3
    assert overview["排队等待P50（秒）"] == 120 and overview["5分钟内接入率"] == 0.5
    assert [r for r in wb["每日会话"].iter_rows(values_only=True)][1] == (D1, "web", 2)
    assert sorted(wb.sheetnames) == sorted(["概览", "每日会话", "每日指标", "NPS趋势", "转人工原因",
                                            "CSAT分布", "坐席", "热门知识条目"])


def test_known_figures_on_postgresql() -> None:
    with pg_h18_database() as url:
        migrations.upgrade("service", url)
        engine = create_engine(url)
        try:
            with Session(engine) as s:
                ids = build_known(s)
            now = datetime(2026, 11, 2, 12, tzinfo=timezone.utc)

            def f(**kw):
                return insights.Filters.from_params(
                    days=None, from_=date.fromisoformat(D1), to=date.fromisoformat(D2),
                    channel=kw.get("channel"), tier=kw.get("tier"), offset_hours=8,
                    helped_within=300, now=now)

            with Session(engine) as s:
                check_known(insights.summary(s, f()), insights.summary(s, f(tier="vip")),
                            insights.summary(s, f(channel="web")), insights.series(s, f()),
                            insights.breakdowns(s, f()), ids)
        finally:
            engine.dispose()
