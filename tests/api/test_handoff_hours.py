"""Working hours of the human desk."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from api.handoff.hours import WorkingHours

SH = ZoneInfo("Asia/Shanghai")


def at(y, mo, d, h, mi=0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SH)


def test_default_is_7x24() -> None:
    hours = WorkingHours.parse("00:00-24:00", "1-7", "Asia/Shanghai")
    assert hours.always and hours.describe() == "7×24 小时"
    assert hours.describe("en") == "24/7"
    assert hours.is_open(at(2026, 1, 4, 3)) and hours.is_open(at(2026, 1, 5, 23, 59))


def test_weekday_office_hours() -> None:
    hours = WorkingHours.parse("09:00-18:00", "1-5", "Asia/Shanghai")
    monday = at(2026, 1, 5, 9)  # 2026-01-05 is a Monday
    assert hours.is_open(monday)
    assert hours.is_open(at(2026, 1, 5, 17, 59))
    assert not hours.is_open(at(2026, 1, 5, 18))
    assert not hours.is_open(at(2026, 1, 5, 8, 59))
    assert not hours.is_open(at(2026, 1, 10, 10))  # Saturday
    assert hours.describe() == "周一至周五 09:00-18:00"
    assert hours.describe("en") == "Mon-Fri 09:00-18:00"


def test_time_zone_is_applied_to_utc_now() -> None:
    hours = WorkingHours.parse("09:00-18:00", "1-7", "Asia/Shanghai")
    assert hours.is_open(datetime(2026, 1, 5, 1, 30, tzinfo=timezone.utc))  # 09:30 in Shanghai
    assert not hours.is_open(datetime(2026, 1, 5, 10, 30, tzinfo=timezone.utc))  # 18:30


def test_overnight_window_belongs_to_the_day_it_opened() -> None:
    hours = WorkingHours.parse("22:00-06:00", "5", "Asia/Shanghai")  # Friday night
    assert hours.is_open(at(2026, 1, 9, 23))  # Friday 23:00
    assert hours.is_open(at(2026, 1, 10, 5, 59))  # Saturday 05:59
    assert not hours.is_open(at(2026, 1, 10, 6))
    assert not hours.is_open(at(2026, 1, 10, 23))  # Saturday night is not in the set
    assert not hours.is_open(at(2026, 1, 9, 5))  # Friday early morning: Thursday's window


def test_weekday_lists() -> None:
    hours = WorkingHours.parse("10:00-16:00", "1,3,5", "Asia/Shanghai")
    assert hours.describe() == "周一、周三、周五 10:00-16:00"
    assert hours.describe("en") == "Mon, Wed, Fri 10:00-16:00"
    assert not hours.is_open(at(2026, 1, 6, 12))  # Tuesday


@pytest.mark.parametrize(("hours", "days"), [
    ("9-18", "1-5"), ("09:00", "1-5"), ("25:00-26:00", "1-5"), ("09:00-09:00", "1-5"),
    ("09:60-10:00", "1-5"), ("09:00-18:00", "0-5"), ("09:00-18:00", "8"),
    ("09:00-18:00", ""),
])
def test_bad_configuration_is_rejected(hours, days) -> None:
    with pytest.raises(ValueError):
        WorkingHours.parse(hours, days, "Asia/Shanghai")
