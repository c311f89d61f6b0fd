"""Helpers of the insights tests. Every cardholder-side call (post a message, read the
transcript, post a survey) goes through `chat` / `transcript` / `post_survey` here, so a change
of the chat API's security (issue 16: a conversation token) is adapted in one place."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.chat_support import owner, signed


def chat(client: TestClient, user_id: str, text: str, channel: str = "web") -> dict[str, Any]:
    """POST /api/v1/chat; the JSON body (must be 200)."""
    resp = client.post("/api/v1/chat", json=signed(user_id, text, channel=channel))
    assert resp.status_code == 200, resp.text
    return resp.json()


def transcript(client: TestClient, conversation_id: str) -> list[dict[str, Any]]:
    """The cardholder's transcript lines."""
    resp = client.get(f"/api/v1/chat/{conversation_id}/messages",
                      headers=owner(conversation_id))
    assert resp.status_code == 200, resp.text
    return resp.json()["messages"]


def post_survey(client: TestClient, conversation_id: str, score: int,
                comment: str | None = None) -> dict[str, Any]:
    resp = client.post(f"/api/v1/chat/{conversation_id}/survey",
                       json={"score": score, "comment": comment},
                       headers=owner(conversation_id))
    assert resp.status_code == 200, resp.text
    return resp.json()


def goodbye_rasa(body: dict[str, Any]) -> list[dict[str, Any]]:
    """A fake Rasa: 再见 runs action_goodbye (meta.end), anything else is a KB answer."""
    sender, text = body["sender"], body["message"]
    if "再见" in text or "拜拜" in text:
        return [{"recipient_id": sender, "text": "感谢您的咨询，祝您生活愉快，再见！"},
                {"recipient_id": sender, "custom": {"meta": {"outcome": "answered",
                                                             "end": "goodbye"}}}]
    if "转人工" in text:
        return [{"recipient_id": sender, "text": "好的，正在为您转接人工客服，请稍候……"},
                {"recipient_id": sender, "custom": {"meta": {
                    "outcome": "handoff", "handoff": {"reason": "requested",
                                                      "group": "general", "priority": False}}}}]
    if "天气" in text:
        return [{"recipient_id": sender, "text": "抱歉，我没听懂。"},
                {"recipient_id": sender, "custom": {"meta": {"outcome": "fallback"}}}]
    return [{"recipient_id": sender, "text": f"小卡回答：{text}"},
            {"recipient_id": sender, "custom": {"meta": {
                "outcome": "answered", "kb": {"entry_id": "bill-001", "score": 0.95,
                                              "release": 1}}}}]


# ---------------------------------------------------------------------------- known figures
# Days are Beijing time (UTC+8): D1 = 2026-11-01, D2 = 2026-11-02; one session the day before.

D1 = "2026-11-01"
D2 = "2026-11-02"


def _at(day: str, hour: int, seconds: float = 0.0) -> Any:
    from datetime import datetime, timedelta, timezone

    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00+08:00").astimezone(
        timezone.utc) + timedelta(seconds=seconds)


def build_known(s: Any) -> dict[str, int]:
    """Sessions, handoffs, surveys, NPS answers, KB events and inspections with known figures
    (see EXPECTED*); returns the agents' ids."""
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

    a1 = StaffUser(username="qa-agent-1", password_hash="x", role="agent",
                   display_name="王一", agent_no="2001", groups=["general"])
    a2 = StaffUser(username="qa-agent-2", password_hash="x", role="agent",
                   display_name="李二", agent_no="2002", groups=["vip"])
    s.add_all([a1, a2])
    convs = {}
    for key, channel in (("c1", "web"), ("c2", "web"), ("c3", "wechat"), ("c4", "app"),
                         ("c5", "web"), ("c6", "web"), ("c7", "web"), ("c8", "web")):
        convs[key] = Conversation(id=f"known-{key}", channel=channel, user_id=f"u-{key}")
    s.add_all(convs.values())
    s.flush()

    def session(key: str, tier: str, at: Any, **counts: Any) -> ServiceSession:
        row = ServiceSession(conversation_id=convs[key].id, channel=convs[key].channel,
                             tier=tier, started_at=at, last_at=at, kb_entries=[], **counts)
        s.add(row)
        return row

    s1 = session("c1", "standard", _at(D1, 10), turns=3, answered=2, clarify=1)
    s2 = session("c2", "gold", _at(D1, 11), turns=2, answered=1, fallback=1, thumbs_down=1)
    s3 = session("c3", "platinum", _at(D1, 12), turns=1, fallback=1, handoff=True,
                 handoff_reason="requested")
    s4 = session("c4", "standard", _at(D2, 9), turns=2, answered=2)
    session("c5", "platinum", _at(D2, 10), turns=1, answered=1, handoff=True,
                 handoff_reason="complaint")
    session("c6", "standard", _at("2026-10-31", 10), turns=1, answered=1)  # out of range
    s.flush()

    def handoff(key: str, tier: str, at: Any, wait: float | None, handle: float | None,
                agent: StaffUser | None, end: str | None) -> Handoff:
        row = Handoff(conversation_id=convs[key].id, user_id=convs[key].user_id,
                      channel=convs[key].channel, reason="requested", group="general",
                      tier=tier, requested_at=at, queued_at=at,
                      agent_id=agent.id if agent else None,
                      assigned_at=at + _delta(wait) if wait is not None else None,
                      resolved_at=at + _delta(wait + handle) if wait is not None and
                      handle is not None else None, end_reason=end)
        s.add(row)
        return row

    h1 = handoff("c3", "platinum", _at(D1, 12, 30), 120, 600, a1, "resolved")
    h2 = handoff("c5", "platinum", _at(D2, 10, 30), 400, 300, a2, "resolved")
    handoff("c7", "standard", _at(D2, 11), None, None, None, "cancelled")
    handoff("c8", "gold", _at(D2, 13), 60, None, a1, None)
    s.flush()
    s.add_all([Survey(conversation_id=h1.conversation_id, handoff_id=h1.id, agent_id=a1.id,
                      status="done", score=5, answered_at=_at(D1, 13)),
               Survey(conversation_id=h2.conversation_id, handoff_id=h2.id, agent_id=a2.id,
                      status="done", score=2, answered_at=_at(D2, 11))])

    def nps(row: ServiceSession, at: Any, score: int | None, csat: int | None,
            status: str) -> None:
        s.add(NpsResponse(conversation_id=row.conversation_id, session_id=row.id,
                          channel=row.channel, tier=row.tier, human=row.handoff,
                          kb_entries=[], trigger="goodbye", status=status, score=score,
                          csat=csat, asked_at=at, answered_at=at if score is not None else None))

    nps(s1, _at(D1, 10, 600), 10, 4, "done")
    nps(s2, _at(D1, 11, 600), 3, None, "done")
    nps(s4, _at(D2, 9, 600), 9, None, "done")
    nps(s3, _at(D1, 14), None, None, "ignored")
    msg = Message(conversation_id=convs["c1"].id, sender="user", text="账单",
                  created_at=_at(D1, 10))
    s.add(msg)
    s.flush()
    for entry, outcome, helpful in (("bill-001", "answered", None), ("bill-001", "answered", False),
                                    ("bill-001", "answered", True), ("limit-002", "answered", None),
                                    ("bill-001", "clarify", None)):
        s.add(KBEvent(conversation_id=convs["c1"].id, user_message_id=msg.id, query="q",
                      outcome=outcome, entry_id=entry, helpful=helpful,
                      created_at=_at(D1, 10, 30)))
    q1 = QualityInspection(conversation_id=h1.conversation_id, handoff_id=h1.id,
                           agent_id=a1.id, inspected_at=_at(D1, 13), flags=2)
    q2 = QualityInspection(conversation_id=h2.conversation_id, handoff_id=h2.id,
                           agent_id=a2.id, inspected_at=_at(D2, 11), flags=0)
    s.add_all([q1, q2])
    s.flush()
    s.add_all([QualityFlag(inspection_id=q1.id, conversation_id=h1.conversation_id,
                           agent_id=a1.id, rule="forbidden_promise", severity="major",
                           status="open", created_at=_at(D1, 13)),
               QualityFlag(inspection_id=q1.id, conversation_id=h1.conversation_id,
                           agent_id=a1.id, rule="no_greeting", severity="minor",
                           status="dismissed")])
    s.commit()
    return {"a1": a1.id, "a2": a2.id}


def _delta(seconds: float) -> Any:
    from datetime import timedelta

    return timedelta(seconds=seconds)


EXPECTED = {
    "from": D1, "to": D2, "conversations": 5, "bot_turns": 9, "resolution_rate": 0.4,
    "clarify_rate": 0.1111, "fallback_rate": 0.2222, "handoff_rate": 0.4, "handoffs": 4,
    "queue_wait_p50_seconds": 120.0, "queue_wait_p90_seconds": 400.0,
    "helped_within_5min_rate": 0.5, "abandonment_rate": 0.25, "agent_handle_seconds": 450.0,
    "csat": 3.67, "csat_responses": 3, "nps": 33.3, "nps_responses": 3, "nps_promoters": 2,
    "nps_detractors": 1, "assigned": 3,
}
EXPECTED_VIP = {"conversations": 2, "resolution_rate": 0.0, "handoff_rate": 1.0, "handoffs": 2,
                "queue_wait_p50_seconds": 120.0, "queue_wait_p90_seconds": 400.0,
                "helped_within_5min_rate": 0.5, "abandonment_rate": 0.0, "csat": 3.5,
                "csat_responses": 2, "nps": None, "nps_responses": 0}
EXPECTED_WEB = {"conversations": 3, "resolution_rate": 0.3333, "clarify_rate": 0.1667,
                "fallback_rate": 0.1667, "handoff_rate": 0.3333, "handoffs": 3,
                "nps_responses": 2, "nps": 0.0, "csat": 3.0, "csat_responses": 2}
EXPECTED_SERIES = {
    "conversations": [{"day": D1, "channel": "web", "conversations": 2},
                      {"day": D1, "channel": "wechat", "conversations": 1},
                      {"day": D2, "channel": "app", "conversations": 1},
                      {"day": D2, "channel": "web", "conversations": 1}],
    "nps": [{"day": D1, "nps": 0.0, "responses": 2}, {"day": D2, "nps": 100.0, "responses": 1}],
}


def check_known(summary: dict[str, Any], vip: dict[str, Any], web: dict[str, Any],
                series: dict[str, Any], breakdowns: dict[str, Any], ids: dict[str, int]) -> None:
    """The figures of `build_known`, computed by hand."""
    assert {k: summary[k] for k in EXPECTED} == EXPECTED
    assert {k: vip[k] for k in EXPECTED_VIP} == EXPECTED_VIP
    assert {k: web[k] for k in EXPECTED_WEB} == EXPECTED_WEB
    assert series["conversations"] == EXPECTED_SERIES["conversations"]
    assert series["nps"] == EXPECTED_SERIES["nps"]
    rates = {r["day"]: r for r in series["rates"]}
    assert rates[D1] == {"day": D1, "conversations": 3, "resolution_rate": 0.3333,
                         "handoff_rate": 0.3333, "clarify_rate": 0.1667, "fallback_rate": 0.3333}
    assert rates[D2] == {"day": D2, "conversations": 2, "resolution_rate": 0.5,
                         "handoff_rate": 0.5, "clarify_rate": 0.0, "fallback_rate": 0.0}
    assert breakdowns["handoff_reasons"] == [{"reason": "complaint", "count": 1},
                                             {"reason": "requested", "count": 1}]
    assert breakdowns["csat_distribution"] == [{"score": 1, "count": 0}, {"score": 2, "count": 1},
                                               {"score": 3, "count": 0}, {"score": 4, "count": 1},
                                               {"score": 5, "count": 1}]
    agents = {a["agent_id"]: a for a in breakdowns["agents"]}
    a1, a2 = agents[ids["a1"]], agents[ids["a2"]]
    assert (a1["agent_no"], a1["resolved"], a1["handle_seconds"], a1["csat"],
            a1["csat_responses"]) == ("2001", 1, 600.0, 5.0, 1)
    assert (a1["inspected"], a1["flagged"], a1["quality_score"], a1["open_flags"]) == (1, 1, 0.0, 1)
    assert (a2["resolved"], a2["handle_seconds"], a2["csat"], a2["quality_score"],
            a2["open_flags"]) == (1, 300.0, 2.0, 100.0, 0)
    assert breakdowns["top_entries"] == [
        {"entry_id": "bill-001", "answers": 3, "thumbs_down": 1, "thumbs_down_rate": 0.3333},
        {"entry_id": "limit-002", "answers": 1, "thumbs_down": 0, "thumbs_down_rate": 0.0}]


def pg_h18_database() -> Any:
    """A fresh PostgreSQL database `h18_<random>` (this feature's own name), dropped afterwards;
    skips with the reason when no driver or no server is usable."""
    from tests.migration_support import pg_database

    return pg_database("h18")
