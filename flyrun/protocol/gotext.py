"""Go's text forms, which Flyte's data protocol is written in: ``%v`` of numbers, ``time.Duration``, and
``strconv.ParseBool``."""

from __future__ import annotations

import datetime as dt
import math
import re

_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_GO_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def go_float(value: float) -> str:
    """Go's ``%v`` of a float64: shortest digits, exponent form when the exponent is below -4 or at least 6."""
    if math.isnan(value) or math.isinf(value):
        return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    digits, point = _shortest_digits(abs(value))
    exponent = point - 1
    if value != 0 and (exponent < -4 or exponent >= 6):
        fraction = "." + digits[1:] if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{fraction}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    return sign + _plain(abs(value))


def go_float_plain(value: float) -> str:
    """``strconv.FormatFloat(v, 'f', -1, 64)``: shortest digits, never an exponent (copilot's input files)."""
    if math.isnan(value) or math.isinf(value):
        return go_float(value)
    return ("-" if math.copysign(1.0, value) < 0 else "") + _plain(abs(value))


def _shortest_digits(number: float) -> tuple[str, int]:
    """The shortest round-tripping digits of ``number`` and where the decimal point goes (Go's d and dp)."""
    from decimal import Decimal

    _, digit_tuple, exponent = Decimal(repr(number)).as_tuple()
    digits = "".join(map(str, digit_tuple))
    stripped = digits.rstrip("0") or "0"
    return stripped, len(digits) + int(exponent)


def _plain(number: float) -> str:
    from decimal import Decimal

    text = format(Decimal(repr(number)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def go_duration(value: dt.timedelta) -> str:
    """Go's ``time.Duration.String()``: ``1h30m0s``, ``1.5s``, ``250ms``, ``0s``."""
    total_ns = round(value.total_seconds() * 1e9)
    if total_ns == 0:
        return "0s"
    sign, total_ns = ("-" if total_ns < 0 else ""), abs(total_ns)
    if total_ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if total_ns >= size:
                return sign + _trim(total_ns / size) + unit
    hours, rest = divmod(total_ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds = _trim(rest / 1e9) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    return f"{sign}{minutes}m{seconds}" if minutes else sign + seconds


def _trim(number: float) -> str:
    return f"{number:.9f}".rstrip("0").rstrip(".")


def parse_go_duration(text: str) -> dt.timedelta:
    """Go's ``time.ParseDuration``: ``300ms``, ``-1.5h``, ``2h45m``."""
    body = text[1:] if text[:1] in "+-" else text
    parts = _GO_DURATION_PART.findall(body)
    if body == "0":
        return dt.timedelta(0)
    if not parts or "".join(n + u for n, u in parts) != body:
        raise ValueError(f"{text!r} is not a duration (e.g. 300ms, 1.5h, 2h45m)")
    seconds = sum(float(n) * _GO_UNITS[u] for n, u in parts)
    return dt.timedelta(seconds=-seconds if text.startswith("-") else seconds)


def parse_go_bool(text: str) -> bool:
    """``strconv.ParseBool``: exactly 1 t T TRUE true True, or 0 f F FALSE false False."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("expected one of 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False")
