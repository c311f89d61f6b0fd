"""Working hours of the human desk (HANDOFF_HOURS, HANDOFF_WEEKDAYS, HANDOFF_TIMEZONE)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

WEEKDAY_NAMES = "一二三四五六日"


def _parse_time(text: str) -> int:
    """'09:30' -> minutes since midnight; '24:00' is allowed as the end of the day."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if not match:
        raise ValueError(f"bad time {text!r}, expected HH:MM")
    hours, minutes = int(match[1]), int(match[2])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise ValueError(f"bad time {text!r}")
    return hours * 60 + minutes


def _parse_weekdays(text: str) -> frozenset[int]:
    """'1-5', '1,3,5' or '1-5,7' (ISO: 1 = Monday ... 7 = Sunday)."""
    days: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        if "-" in part:
            start, end = (int(x) for x in part.split("-", 1))
            days.update(range(start, end + 1))
        else:
            days.add(int(part))
    if not days or not days <= set(range(1, 8)):
        raise ValueError(f"bad weekdays {text!r}, expected ISO days 1-7 such as '1-5'")
    return frozenset(days)


@dataclass(frozen=True)
class WorkingHours:
    """Daily window [start, end) on the given weekdays, in a time zone.

    A window whose end is before its start runs over midnight (22:00-06:00); the weekday is
    the day on which the window opened. The development default is 7×24.
    """

    start: int  # minutes since midnight
    end: int
    weekdays: frozenset[int]
    tz: ZoneInfo

    @classmethod
    def parse(cls, hours: str, weekdays: str, tz: str) -> WorkingHours:
        start_text, sep, end_text = hours.partition("-")
        if not sep:
            raise ValueError(f"bad hours {hours!r}, expected HH:MM-HH:MM")
        start, end = _parse_time(start_text), _parse_time(end_text)
        if start == end:
            raise ValueError(f"empty working hours {hours!r}")
        return cls(start, end, _parse_weekdays(weekdays), ZoneInfo(tz))

    @property
    def always(self) -> bool:
        return self.start == 0 and self.end == 24 * 60 and len(self.weekdays) == 7

    def is_open(self, now: datetime | None = None) -> bool:
        """Whether the desk is staffed at `now` (default: the current time)."""
        local = (now or datetime.now(timezone.utc)).astimezone(self.tz)
        minute = local.hour * 60 + local.minute
        day = local.isoweekday()
        if self.start < self.end:
            return day in self.weekdays and self.start <= minute < self.end
        if minute >= self.start:  # evening part of an overnight window
            return day in self.weekdays
        previous = 7 if day == 1 else day - 1
        return minute < self.end and previous in self.weekdays

    def describe(self, lang: str = "zh") -> str:
        """Description for the cardholder, e.g. '周一至周五 09:00-18:00' / 'Mon-Fri 09:00-18:00'."""
        if self.always:
            return "24/7" if lang == "en" else "7×24 小时"

        def fmt(m: int) -> str:
            return time(m // 60, m % 60).strftime("%H:%M") if m < 24 * 60 else "24:00"

        days = sorted(self.weekdays)
        if lang == "en":
            return f"{self._days_en(days)} {fmt(self.start)}-{fmt(self.end)}"
        if len(days) == 7:
            label = "每天"
        elif days == list(range(days[0], days[-1] + 1)):
            label = f"周{WEEKDAY_NAMES[days[0] - 1]}至周{WEEKDAY_NAMES[days[-1] - 1]}"
        else:
            label = "、".join(f"周{WEEKDAY_NAMES[d - 1]}" for d in days)
        return f"{label} {fmt(self.start)}-{fmt(self.end)}"

    @staticmethod
    def _days_en(days: list[int]) -> str:
        names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
        if len(days) == 7:
            return "daily"
        if days == list(range(days[0], days[-1] + 1)):
            return f"{names[days[0] - 1]}-{names[days[-1] - 1]}"
        return ", ".join(names[d - 1] for d in days)
