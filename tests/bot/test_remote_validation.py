"""bot/remote_validation.py: Rasa's check of action-server responses with a validator built once
gives the same answers and the same errors as Rasa's own (jsonschema.validate per call)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

from bot import remote_validation

VALID = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "language", "value": "en", "timestamp": None}],
     "responses": [{"text": "您好", "custom": {"meta": {"outcome": "answered"}}}]},
    {},
]
INVALID = [
    {"events": "not a list"},
    {"events": [{"event": "no_such_event"}]},
    {"events": [{"event": "slot", "name": 3}], "responses": []},
    {"responses": "nope"},
]


@pytest.fixture()
def original_and_patched(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    original = RemoteAction._validate_action_result
    monkeypatch.setattr(remote_validation, "_INSTALLED", False)
    remote_validation.install()
    patched = RemoteAction._validate_action_result
    assert patched is not original
    yield original, patched
    RemoteAction._validate_action_result = original  # type: ignore[method-assign]


def test_same_verdicts_and_errors_as_rasa(original_and_patched: tuple[Any, Any]) -> None:
    original, patched = original_and_patched
    action = RemoteAction("action_set_language", None)
    for body in VALID:
        assert original(action, body) is True
        assert patched(action, body) is True
    for body in INVALID:
        with pytest.raises(ValidationError) as theirs:
            original(action, body)
        with pytest.raises(ValidationError) as ours:
            patched(action, body)
        assert ours.value.message == theirs.value.message
        assert list(ours.value.path) == list(theirs.value.path)


def test_install_is_idempotent(original_and_patched: tuple[Any, Any]) -> None:
    _, patched = original_and_patched
    remote_validation.install()
    assert RemoteAction._validate_action_result is patched
