"""Conversation credentials (issue 16 item 2): every conversation endpoint needs that
conversation's token; without it, with another's or a forged one the answer is 404."""

from __future__ import annotations

import pytest
from handoff_support import scripted_rasa
from starlette.websockets import WebSocketDisconnect

from tests.chat_support import auth_frame, signed

# Every HTTP endpoint under /api/v1/chat/{conversation_id}/ and a body that is valid for it.
ENDPOINTS = {
    ("get", "/api/v1/chat/{conversation_id}/messages"): None,
    ("get", "/api/v1/chat/{conversation_id}/status"): None,
    ("post", "/api/v1/chat/{conversation_id}/cancel"): None,
    ("post", "/api/v1/chat/{conversation_id}/survey"): {"score": 5},
    ("post", "/api/v1/chat/{conversation_id}/feedback"): {"kb_event_id": 1, "helpful": True},
}


def test_every_conversation_endpoint_is_covered(client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    found = {(method, path) for path, ops in paths.items() if "{conversation_id}" in path
             and path.startswith("/api/v1/chat/") for method in ops}
    assert found == set(ENDPOINTS)


def test_staff_endpoints_refuse_a_conversation_token(desk_app, client, fake_rasa) -> None:
    fake_rasa.reply = scripted_rasa
    victim = client.post("/api/v1/chat", json=signed("demo-gold-001", "转人工")).json()
    headers = {"Authorization": f"Bearer {victim['conversation_token']}"}
    paths = client.get("/openapi.json").json()["paths"]
    staff = [(m, p) for p, ops in paths.items() if p.startswith("/api/v1/agent/")
             and "{conversation_id}" in p for m in ops]
    assert len(staff) >= 5
    for method, path in staff:
        resp = client.request(method.upper(),
                              path.format(conversation_id=victim["conversation_id"]),
                              headers=headers, json={})
        assert resp.status_code == 401, (path, resp.status_code)


def call(client, method: str, path: str, cid: str, body, headers):
    url = path.format(conversation_id=cid)
    return client.request(method.upper(), url, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path"), list(ENDPOINTS))
def test_no_token_wrong_token_forged_token_all_404(desk_app, client, fake_rasa, method,
                                                   path) -> None:
    fake_rasa.reply = scripted_rasa
    victim = client.post("/api/v1/chat", json=signed("demo-gold-001", "转人工")).json()
    attacker = client.post("/api/v1/chat", json={"user_id": "x", "text": "你好"}).json()
    cid = victim["conversation_id"]
    for headers in ({}, {"Authorization": f"Bearer {attacker['conversation_token']}"},
                    {"Authorization": f"Bearer {cid}"},
                    {"Authorization": f"Bearer {cid}.{'A' * 43}"},
                    {"Authorization": victim["conversation_token"]},   # no scheme
                    {"Authorization": f"Basic {victim['conversation_token']}"}):
        resp = call(client, method, path, cid, ENDPOINTS[(method, path)], headers)
        assert resp.status_code == 404, (headers, resp.text)
        assert resp.json()["detail"]["code"] == "conversation_not_found"
        assert resp.json()["detail"]["message"] and resp.json()["detail"]["message_en"]
    # an unknown id answers exactly the same (no existence oracle)
    unknown = call(client, method, path, "no-such-conversation", ENDPOINTS[(method, path)], {})
    assert unknown.status_code == 404 and unknown.json() == resp.json()
    # the owner gets through (whatever the endpoint then says about the state)
    owner = call(client, method, path, cid, ENDPOINTS[(method, path)],
                 {"Authorization": f"Bearer {victim['conversation_token']}"})
    assert owner.json().get("detail", {}).get("code") != "conversation_not_found", owner.text


def test_websocket_needs_the_token_as_first_frame(desk_app, client, fake_rasa) -> None:
    fake_rasa.reply = scripted_rasa
    victim = client.post("/api/v1/chat", json=signed("demo-gold-001", "转人工")).json()
    other = client.post("/api/v1/chat", json={"user_id": "x", "text": "你好"}).json()
    cid = victim["conversation_id"]
    for frame in ({"type": "auth", "token": other["conversation_token"]},
                  {"type": "auth", "token": cid}, {"type": "ping"}, {"token": 5}):
        with client.websocket_connect(f"/api/v1/chat/{cid}/ws") as ws:
            ws.send_json(frame)
            assert ws.receive_json()["detail"]["code"] == "conversation_not_found"
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 4404
    with client.websocket_connect(f"/api/v1/chat/{cid}/ws") as ws:
        ws.send_text("not json")
        assert ws.receive_json()["detail"]["code"] == "conversation_not_found"
    with client.websocket_connect(f"/api/v1/chat/{cid}/ws") as ws:
        ws.send_json(auth_frame(cid))
        first = ws.receive_json()
        assert first["type"] == "state" and first["state"] == "queued"
