"""Launch plan schedules: ``CronSchedule`` and ``FixedRate``, and the 5-field cron parser both the SDK (to reject a
bad schedule when it is defined) and the sandbox (to fire it) use.

Cron follows Flyte's native scheduler: ``minute hour day-of-month month day-of-week`` in UTC, with ``*``, ``?``,
lists, ranges, steps and month/day names, and the ``@hourly``-style aliases. When both day fields are restricted a
day matches either of them, as in every cron.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from flyrun.errors import WorkflowDefinitionError
from flyrun.sdk.graph import user_call_site

_ALIASES = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
            "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
# flytekit also takes the aliases without their "@".
_ALIASES.update({name[1:]: value for name, value in list(_ALIASES.items())})
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
# (name, lowest, highest, names for values starting at lowest)
_FIELDS = (("minute", 0, 59, None), ("hour", 0, 23, None), ("day of month", 1, 31, None),
           ("month", 1, 12, _MONTHS), ("day of week", 0, 7, _DAYS))
_SEARCH_YEARS = 5  # a schedule that matches no minute in this many years never fires (e.g. "0 0 30 2 *")


class CronError(ValueError):
    """A cron expression Flyte's scheduler would refuse; the message names the field and why."""


@dataclass(frozen=True)
class Cron:
    """A parsed cron expression: the allowed values of each field."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool  # day of month is "*"
    any_weekday: bool  # day of week is "*"

    def matches_day(self, day: dt.date) -> bool:
        if day.month not in self.months:
            return False
        in_month = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return in_month and in_week
        return in_month or in_week

    def next_after(self, moment: dt.datetime) -> dt.datetime | None:
        """The first matching minute strictly after ``moment`` (naive UTC), or None within five years."""
        start = moment.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        day = start.date()
        for _ in range(366 * _SEARCH_YEARS):
            if self.matches_day(day):
                first_hour = start.hour if day == start.date() else 0
                for hour in sorted(h for h in self.hours if h >= first_hour):
                    first_minute = start.minute if (day == start.date() and hour == start.hour) else 0
                    minutes = [m for m in sorted(self.minutes) if m >= first_minute]
                    if minutes:
                        return dt.datetime(day.year, day.month, day.day, hour, minutes[0])
            day += dt.timedelta(days=1)
        return None


def parse_cron(text: str) -> Cron:
    """Parse Flyte's 5-field cron (or an alias); raises CronError naming what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise CronError("the schedule is empty")
    expanded = _ALIASES.get(text.strip().lower(), text.strip())
    words = expanded.split()
    if len(words) != 5:
        raise CronError(f"expected 5 fields (minute hour day-of-month month day-of-week) or an alias such as "
                        f"@hourly, got {len(words)}")
    sets = [_parse_field(word, *spec) for word, spec in zip(words, _FIELDS)]
    weekdays = frozenset(d % 7 for d in sets[4])
    cron = Cron(text, frozenset(sets[0]), frozenset(sets[1]), frozenset(sets[2]), frozenset(sets[3]), weekdays,
                any_day=words[2] in ("*", "?"), any_weekday=words[4] in ("*", "?"))
    if cron.next_after(dt.datetime(2000, 1, 1)) is None:
        raise CronError("it matches no date (check the day of month against the month)")
    return cron


def _parse_field(word: str, name: str, low: int, high: int, names: list[str] | None) -> set[int]:
    values: set[int] = set()
    for part in word.split(","):
        if not part:
            raise CronError(f"{name}: empty item in {word!r}")
        span, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{name}: step {step_text!r} is not a positive number")
            step = int(step_text)
        if span in ("*", "?"):
            first, last = low, high
        elif "-" in span:
            first_text, _, last_text = span.partition("-")
            first, last = _value(first_text, name, low, high, names), _value(last_text, name, low, high, names)
            if first > last:
                raise CronError(f"{name}: range {span!r} runs backwards")
        else:
            first = _value(span, name, low, high, names)
            last = high if slash else first
        values.update(range(first, last + 1, step))
    return values


def _value(text: str, name: str, low: int, high: int, names: list[str] | None) -> int:
    if names and text.upper() in names:
        return names.index(text.upper()) + low
    if not text.isdigit():
        raise CronError(f"{name}: {text!r} is not a number" + (f" or a name ({names[0]}..{names[-1]})" if names
                                                                    else ""))
    value = int(text)
    if not low <= value <= high:
        raise CronError(f"{name}: {value} is out of range {low}-{high}")
    return value


def _where() -> str:
    return user_call_site()


class CronSchedule:
    """Run a launch plan on a cron schedule (UTC); ``kickoff_time_input_arg`` names a datetime input that gets the
    scheduled time."""

    def __init__(self, schedule: str | None = None, offset: str | None = None,
                 kickoff_time_input_arg: str | None = None, cron_expression: str | None = None) -> None:
        where = _where()
        if cron_expression is not None:
            raise WorkflowDefinitionError(f"{where}: CronSchedule(cron_expression=...) is the deprecated AWS form "
                                          "Flyte no longer runs", hint="use CronSchedule(schedule='*/5 * * * *')")
        try:
            self.cron = parse_cron(schedule)  # type: ignore[arg-type]
        except CronError as error:
            raise WorkflowDefinitionError(f"{where}: CronSchedule({schedule!r}) is not a valid cron schedule: "
                                          f"{error}",
                                          hint="e.g. '*/5 * * * *', '0 9 * * MON-FRI' or '@daily'") from None
        self.schedule = schedule
        self.offset = offset
        self.kickoff_time_input_arg = kickoff_time_input_arg
        self.call_site = where

    def to_dict(self) -> dict:
        cron: dict = {"schedule": self.schedule}
        if self.offset:
            cron["offset"] = self.offset
        return _with_kickoff({"cron_schedule": cron}, self.kickoff_time_input_arg)

    def __repr__(self) -> str:
        return f"CronSchedule({self.schedule!r})"


_UNITS = (("DAY", 86400), ("HOUR", 3600), ("MINUTE", 60))


class FixedRate:
    """Run a launch plan every ``duration`` (whole minutes, at least one)."""

    def __init__(self, duration: dt.timedelta, kickoff_time_input_arg: str | None = None) -> None:
        where = _where()
        if not isinstance(duration, dt.timedelta):
            raise WorkflowDefinitionError(f"{where}: FixedRate needs a timedelta, not {duration!r}",
                                          hint="e.g. FixedRate(duration=timedelta(minutes=10))")
        seconds = duration.total_seconds()
        if seconds < 60 or seconds % 60:
            raise WorkflowDefinitionError(f"{where}: FixedRate({duration}) must be a whole number of minutes, at "
                                          "least one", hint="e.g. FixedRate(duration=timedelta(minutes=10))")
        self.duration = duration
        self.unit, size = next((unit, size) for unit, size in _UNITS if seconds % size == 0)
        self.value = int(seconds // size)
        self.kickoff_time_input_arg = kickoff_time_input_arg
        self.call_site = where

    def to_dict(self) -> dict:
        rate: dict = {"value": self.value}
        if self.unit != "MINUTE":  # MINUTE is the enum's zero value: protojson leaves it out
            rate["unit"] = self.unit
        return _with_kickoff({"rate": rate}, self.kickoff_time_input_arg)

    def __repr__(self) -> str:
        return f"FixedRate({self.duration})"


def _with_kickoff(schedule: dict, kickoff: str | None) -> dict:
    if kickoff:
        schedule["kickoff_time_input_arg"] = kickoff
    return schedule


_parsed = functools.lru_cache(maxsize=64)(parse_cron)


def next_fire(schedule: dict, last: dt.datetime) -> dt.datetime | None:
    """When a serialized ``Schedule`` (protojson dict) fires next after ``last`` (naive UTC)."""
    if "cron_schedule" in schedule:
        return _parsed(schedule["cron_schedule"]["schedule"]).next_after(last)
    rate = schedule.get("rate")
    if rate:
        size = dict(_UNITS)[rate.get("unit", "MINUTE")]
        return last + dt.timedelta(seconds=size * int(rate["value"]))
    return None
