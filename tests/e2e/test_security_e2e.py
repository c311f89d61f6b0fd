"""Issue 16 done-when on the real stack (Rasa + action server + API):

* an unsigned caller who knows a cardholder's user id and the README's identity answers gets no
  account data, and a transcript cannot be read with its bare id;
* after full card, ID and mobile numbers were sent, no database file holds them in clear;
* no configured secret is in any process's log or on any process's command line.

The cardholder talks on channel "app" so the other e2e modules' web conversations of the same
demo cardholders are untouched.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from api.core.config import DEV_SECRETS

pytestmark = pytest.mark.e2e

USER, CARD4, ID6 = "demo-standard-002", "4402", "210012"
FULL_CARD = "6222021234567890128"       # Luhn-valid
FULL_ID = "11010519491231002X"          # GB 11643 check digit valid
FULL_PHONE = "13812345678"
PII = (FULL_CARD, FULL_ID, FULL_PHONE)


def unsigned(stack, text: str, token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    resp = httpx.post(f"{stack.base_url}/api/v1/chat", headers=headers, timeout=60,
                      json={"user_id": USER, "text": text, "channel": "app"})
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_unsigned_caller_with_the_identity_answers_gets_no_account_data(stack, chat,
                                                                       texts) -> None:
    # The real cardholder (signed by the bank's server) passes the check and sees the limit.
    chat(USER, "我的额度还有多少", channel="app")
    chat(USER, CARD4, channel="app")
    owner = chat(USER, ID6, channel="app")
    assert "身份核验通过" in texts(owner)
    amounts = set(re.findall(r"\d{1,3}(?:,\d{3})+(?:\.\d{2})?", texts(owner)))
    assert amounts, texts(owner)  # the limit and the available amount
    # The outsider: same user id, the README's answers, no signature.
    first = unsigned(stack, "我的额度还有多少")
    token = first["conversation_token"]
    replies = [first, unsigned(stack, CARD4, token), unsigned(stack, ID6, token),
               unsigned(stack, "我的额度还有多少", token)]
    assert all(r["conversation_id"] == first["conversation_id"] != owner["conversation_id"]
               for r in replies)
    seen = "\n".join(texts(r) for r in replies)
    assert "身份核验通过" not in seen
    assert not [a for a in amounts if a in seen], seen  # the KB how-to at most, no figures
    # ... and cannot read the owner's transcript with its bare id (nor with its own token)
    cid = owner["conversation_id"]
    for headers in ({}, {"Authorization": f"Bearer {token}"}):
        resp = httpx.get(f"{stack.base_url}/api/v1/chat/{cid}/messages", headers=headers,
                         timeout=30)
        assert resp.status_code == 404
    mine = httpx.get(f"{stack.base_url}/api/v1/chat/{cid}/messages", timeout=30,
                     headers={"Authorization": f"Bearer {owner['conversation_token']}"})
    assert mine.status_code == 200 and mine.json()["messages"]


def test_no_full_card_id_or_phone_number_in_any_database_file(stack, chat) -> None:
    chat("demo-gold-001", f"我的卡号是{FULL_CARD}，身份证{FULL_ID}，手机{FULL_PHONE}",
         channel="app")
    chat("demo-gold-001", f"卡号 {FULL_CARD[:4]} {FULL_CARD[4:8]} {FULL_CARD[8:12]} "
                          f"{FULL_CARD[12:16]} {FULL_CARD[16:]} 丢了怎么办", channel="app")
    unsigned(stack, f"{FULL_CARD} 帮我查一下")
    files = [p for p in Path(stack.tmp).rglob("*") if p.is_file()
             and (".db" in p.name or p.suffix in (".sqlite", ".sqlite3"))]
    names = {p.name for p in files}
    assert {"app.db", "cards.db", "tracker.db"} <= names, names
    for path in files:
        data = path.read_bytes()
        for number in PII:
            for form in (number, f"{number[:4]} {number[4:8]} {number[8:12]}"):
                assert form.encode() not in data, (path.name, form)


def test_no_secret_in_logs_or_command_lines(stack) -> None:
    # exercise the token-protected Rasa API a few times (health probes, tracker sync)
    for _ in range(3):
        httpx.get(f"{stack.base_url}/health", timeout=30)
    secrets = {stack.env.get(name.upper(), DEV_SECRETS[name]) for name in DEV_SECRETS}
    secrets |= {stack.env.get("JWT_SECRET", ""), stack.env.get("RASA_TOKEN", "")}
    secrets.discard("")
    for name in ("rasa", "actions", "api"):
        log = (Path(stack.tmp) / f"{name}.log").read_text(errors="replace")
        assert log, name
        for secret in secrets:
            assert secret not in log, (name, secret[:6] + "…")
        assert "token=" not in log, name
    for name, proc in stack.procs.items():
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode(errors="replace")
        for secret in secrets:
            assert secret not in cmdline, (name, secret[:6] + "…")


def test_rasa_http_api_refuses_url_tokens_and_bare_calls(stack) -> None:
    token = stack.env.get("RASA_TOKEN", DEV_SECRETS["rasa_token"])
    assert httpx.get(f"{stack.rasa_url}/status", timeout=10).status_code == 401
    assert httpx.get(f"{stack.rasa_url}/status", params={"token": token},
                     timeout=10).status_code == 401
