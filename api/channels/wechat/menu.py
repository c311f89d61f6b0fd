"""Custom-menu CLICK keys -> what the bot receives (an intent / KB-entry payload or text).

The mapping lives in a JSON or YAML file (WECHAT_MENU_FILE), e.g.

    {"MENU_BILL": "/check_bill", "MENU_FAQ_LOST": "/faq{\"kb_entry_id\":\"lost-001\"}"}

The keys are the `key` values of the `click` buttons created with the menu/create API.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

MAX_KEY_BYTES = 128  # WeChat's limit for a menu key


def load_menu(path: Path) -> dict[str, str]:
    """Read and validate the key -> payload mapping; ValueError with the reason if invalid."""
    if not path.is_file():
        raise ValueError(f"WECHAT_MENU_FILE {path} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text) if path.suffix in (".yml", ".yaml") else json.loads(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"WECHAT_MENU_FILE {path} is not valid: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"WECHAT_MENU_FILE {path} must map menu keys to payloads")
    menu: dict[str, str] = {}
    for key, payload in data.items():
        if not isinstance(key, str) or not key or len(key.encode("utf-8")) > MAX_KEY_BYTES:
            raise ValueError(f"menu key {key!r} must be a string of 1-{MAX_KEY_BYTES} bytes")
        if not isinstance(payload, str) or not payload.strip():
            raise ValueError(f"menu key {key!r} needs a non-empty payload string")
        menu[key] = payload.strip()
    return menu
