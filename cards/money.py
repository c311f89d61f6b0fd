"""Money of the card store: integer fen, shown to people as yuan."""

from __future__ import annotations


def fen_to_yuan(fen: int) -> str:
    """Integer fen as a yuan string for people: 300000 -> "3,000.00"."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100:,}.{fen % 100:02d}"
