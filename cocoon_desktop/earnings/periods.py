"""Calendar periods in the user's local time: where "today" and "the last 7 days" begin.

Day boundaries are local midnights computed with the IANA zone, so a day with a daylight-saving
change is 23 or 25 hours long, as a person would count it.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def local_zone() -> tzinfo:
    """The user's zone: `$TZ`, then /etc/localtime, then the current UTC offset as a last resort
    (right except across a daylight-saving change)."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    localtime = Path("/etc/localtime")
    if localtime.exists():
        try:
            with localtime.open("rb") as handle:
                return ZoneInfo.from_file(handle, key="localtime")
        except (OSError, ValueError):
            pass
    return datetime.now().astimezone().tzinfo or UTC


def local_midnight(day: date, zone: tzinfo) -> datetime:
    """The first instant of `day` in `zone`, as an aware datetime (in `zone`)."""
    return datetime.combine(day, time(0), tzinfo=zone)


def day_start(moment: datetime, zone: tzinfo, days_back: int = 0) -> datetime:
    """Local midnight of the day `days_back` days before `moment`'s local day."""
    local_day = moment.astimezone(zone).date() - timedelta(days=days_back)
    return local_midnight(local_day, zone)


def hour_start(moment: datetime, zone: tzinfo) -> datetime:
    """The start of `moment`'s local hour (a fold-aware aware datetime)."""
    local = moment.astimezone(zone)
    return local.replace(minute=0, second=0, microsecond=0)
