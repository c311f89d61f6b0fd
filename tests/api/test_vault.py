"""Ticket callback numbers sealed at rest (api/core/vault.py)."""

from __future__ import annotations

import pytest

from api.core.vault import PiiVault


def test_seal_open_round_trip_and_no_clear_digits() -> None:
    vault = PiiVault("a-deployment-key")
    sealed = vault.seal("13812345678")
    assert sealed.startswith("v1:") and "1381234" not in sealed and "5678" not in sealed
    assert vault.open(sealed) == "13812345678"
    assert vault.seal("13812345678") != sealed  # random IV: equal numbers don't look equal


def test_values_from_before_sealing_are_read_as_they_are() -> None:
    assert PiiVault("k").open("010-12345678") == "010-12345678"
    assert PiiVault("k").open(None) is None


def test_another_key_cannot_open_and_does_not_crash() -> None:
    sealed = PiiVault("old-key").seal("13812345678")
    assert PiiVault("new-key").open(sealed) is None


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="PII_ENCRYPTION_KEY"):
        PiiVault("")
