"""The adaptive limit of bot turns in flight (api/conversation/limiter.py) and the gateway's use
of it: a slow bot lowers the limit, turns over it are answered from the KB at once."""

from __future__ import annotations

import pytest

from api.conversation.limiter import AdaptiveLimit
from tests.api.test_degraded import HIT, FakeKB, chat, use


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_a_quiet_service_keeps_the_maximum() -> None:
    limit = AdaptiveLimit(48, target=2.0, clock=Clock())
    for _ in range(100):
        limit.record(0.2)
    assert limit.current == 48 and limit.admits(47) and not limit.admits(48)


def test_slow_turns_halve_the_limit_at_most_once_per_target_window() -> None:
    clock = Clock()
    limit = AdaptiveLimit(48, minimum=4, target=2.0, clock=clock)
    for _ in range(10):  # one burst of slow turns is one signal
        limit.record(3.0)
    assert limit.current == 24 and limit.cuts == 1
    clock.t += 2.0
    limit.record(2.5)
    assert limit.current == 12
    for _ in range(5):
        clock.t += 2.0
        limit.record(2.5)
    assert limit.current == 4  # never below the minimum
    assert not limit.admits(4) and limit.admits(3)


def test_fast_turns_raise_the_limit_additively_up_to_the_maximum() -> None:
    clock = Clock()
    limit = AdaptiveLimit(10, minimum=2, target=1.0, clock=clock)
    limit.record(5.0)
    assert limit.current == 5
    for _ in range(6):  # about a limit-full of fast turns: +1
        limit.record(0.1)
    assert limit.current == 6
    for _ in range(200):
        limit.record(0.1)
    assert limit.current == 10


def test_maximum_zero_means_no_limit() -> None:
    limit = AdaptiveLimit(0)
    limit.record(30.0)
    assert limit.admits(10_000)
    limit.set_maximum(6)  # a ceiling set later (the gateway's max_bot_inflight) starts full
    assert limit.current == 6 and not limit.admits(6)
    limit.set_maximum(3)
    assert limit.current == 3


@pytest.mark.parametrize("kwargs", [{"minimum": 0}, {"target": 0}, {"backoff": 1.0},
                                    {"backoff": 0.0}])
def test_bad_settings_are_refused(kwargs) -> None:
    with pytest.raises(ValueError):
        AdaptiveLimit(8, **kwargs)


def test_a_slow_bot_lowers_the_gateway_limit_and_sheds_to_the_kb(client, fake_rasa) -> None:
    rasa = use(client, fake_rasa, budget=0.3, slow=1.0)
    gw = client.app.state.gateway
    gw.kb = FakeKB({"decision": "answer", "release": 7, "hits": [HIT]})
    gw.bot_limit = AdaptiveLimit(gw.max_bot_inflight, minimum=4, target=0.25)
    before = gw.bot_limit.current
    body = chat(client, "年费怎么收", user="lim-1")  # the bot misses the budget
    assert body["details"]["degraded"] and gw.bot_limit.current == max(
        gw.bot_limit.minimum, before // 2)
    # with as many turns in flight as the lowered limit, the next turn skips the bot
    rasa.delay["s"] = 0.0
    rasa.inflight = gw.bot_limit.current
    body = chat(client, "年费怎么收", user="lim-2")
    assert body["details"]["degraded_reason"].startswith("busy")
    assert fake_rasa.sent == []
    rasa.inflight = 0
    body = chat(client, "年费怎么收", user="lim-3")
    assert "degraded" not in body["details"]
    health = client.get("/health").json()
    assert health["components"]["rasa"]["limit"]["limit"] == gw.bot_limit.current
