"""The benches against `make run` wait out the new-visitor limit's 429 instead of failing."""

from __future__ import annotations

from typing import Any

from bench import common


class Resp:
    def __init__(self, status_code: int, retry_after: str | None = None) -> None:
        self.status_code = status_code
        self.headers = {"Retry-After": retry_after} if retry_after else {}


class Client:
    def __init__(self, statuses: list[tuple[int, str | None]]) -> None:
        self.statuses = statuses
        self.sent: list[dict[str, Any]] = []

    def post(self, url: str, json: dict[str, Any]) -> Resp:
        self.sent.append(json)
        return Resp(*self.statuses[len(self.sent) - 1])


def test_a_429_is_waited_out_by_its_retry_after_and_the_line_sent_again(monkeypatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(common.time, "sleep", slept.append)
    client = Client([(429, "7"), (429, "3"), (200, None)])
    logs: list[str] = []
    resp, took = common.post_first_turn(client, "http://x/api/v1/chat", {"text": "t"},
                                        logs.append)
    assert resp.status_code == 200 and took >= 0
    assert slept == [7.0, 3.0] and len(client.sent) == 3 and len(logs) == 2


def test_it_gives_up_after_a_bounded_number_of_waits(monkeypatch) -> None:
    monkeypatch.setattr(common.time, "sleep", lambda s: None)
    client = Client([(429, "1")] * (common.RATE_LIMIT_WAITS + 5))
    resp, _ = common.post_first_turn(client, "http://x/api/v1/chat", {"text": "t"})
    assert resp.status_code == 429 and len(client.sent) == common.RATE_LIMIT_WAITS + 1


def test_other_answers_are_returned_at_once(monkeypatch) -> None:
    monkeypatch.setattr(common.time, "sleep", lambda s: (_ for _ in ()).throw(AssertionError))
    for status in (200, 422, 503):
        resp, _ = common.post_first_turn(Client([(status, None)]), "http://x", {})
        assert resp.status_code == status
