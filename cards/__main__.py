"""`python -m cards migrate --url <CARD_DB_URL>`: bring the card-account store to the newest
schema from either runtime (the service runtime's `python -m api migrate` does it as well)."""

from __future__ import annotations

import argparse
import os

import migrations


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cards")
    parser.add_argument("command", choices=("migrate",))
    parser.add_argument("--url", default=os.environ.get("CARD_DB_URL", "sqlite:///var/cards.db"),
                        help="the store's database (default: $CARD_DB_URL)")
    args = parser.parse_args(argv)
    migrations.upgrade("cards", args.url)


if __name__ == "__main__":
    main()
