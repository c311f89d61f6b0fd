"""Cardholder profile for the agent desk and the queue: tier and masked cards.

Read through the card-account store shared with the Rasa runtime (`cards`, CARD_DB_URL; no
framework of either runtime). Unknown users, and a store that cannot be read, give the `standard`
tier: the queue never fails because a profile is missing.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from cards.client import client_for

logger = logging.getLogger(__name__)

STANDARD = "standard"
TIER_RANK = {"standard": 0, "gold": 1, "platinum": 2}
TIER_LABELS = {"standard": "普卡", "gold": "金卡", "platinum": "白金卡"}
CARD_STATUS_LABELS = {"inactive": "未激活", "active": "正常", "frozen": "已冻结", "lost": "已挂失"}
VIP_TIERS = frozenset({"platinum"})


@dataclass
class Profile:
    """What an agent may see about a cardholder (no full card or ID numbers)."""

    user_id: str
    known: bool = False
    tier: str = STANDARD
    tier_label: str = TIER_LABELS[STANDARD]
    name: str = ""  # masked: 张**
    cards: list[dict[str, Any]] = field(default_factory=list)

    @property
    def vip(self) -> bool:
        return self.tier in VIP_TIERS

    def public(self) -> dict[str, Any]:
        return {**asdict(self), "vip": self.vip}


def mask_name(name: str) -> str:
    """张三丰 -> 张**; keeps only the family name."""
    return name[:1] + "*" * max(1, len(name) - 1) if name else ""


class ProfileLookup:
    """Looks up profiles in the card-account store at `card_db_url`."""

    def __init__(self, card_db_url: str) -> None:
        self.card_db_url = card_db_url

    def get(self, user_id: str) -> Profile:
        try:
            view = client_for(self.card_db_url).profile(user_id)
        except Exception as exc:  # store down: queue as a standard cardholder
            logger.warning("card-account store unavailable (%s); tier defaults to standard",
                           type(exc).__name__)
            return Profile(user_id=user_id)
        if view is None:
            return Profile(user_id=user_id)
        tier = view.tier if view.tier in TIER_RANK else STANDARD
        return Profile(
            user_id=user_id, known=True, tier=tier, tier_label=TIER_LABELS[tier],
            name=mask_name(view.name),
            cards=[{"number": f"**** **** **** {c.last4}", "last4": c.last4, "tier": c.tier,
                    "tier_label": TIER_LABELS.get(c.tier, c.tier), "status": c.status,
                    "status_label": CARD_STATUS_LABELS.get(c.status, c.status)}
                   for c in view.cards],
        )
