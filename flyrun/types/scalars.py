"""int, float, str, bool, datetime and timedelta."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flyrun.types.registry import TypeMismatch, TypeTransformer, register


def _primitive(literal: dict, field: str) -> Any:
    try:
        return literal["scalar"]["primitive"][field]
    except (KeyError, TypeError):
        raise TypeMismatch(f"literal {literal!r} has no primitive {field}") from None


class _Primitive(TypeTransformer):
    python_type: type = object
    simple = ""
    field = ""

    def matches(self, python_type: Any) -> bool:
        return python_type is self.python_type

    def literal_type(self, python_type: Any) -> dict:
        return {"simple": self.simple}

    def describe(self, python_type: Any) -> str:
        return self.python_type.__name__

    def to_literal(self, value: Any, python_type: Any) -> dict:
        return {"scalar": {"primitive": {self.field: self.encode(self.validate(value))}}}

    def to_python(self, literal: dict, python_type: Any) -> Any:
        return self.decode(_primitive(literal, self.field))

    def validate(self, value: Any) -> Any:
        if type(value) is not self.python_type:
            raise TypeMismatch(f"expected {self.describe(None)}, got {type(value).__name__} {value!r}")
        return value

    def encode(self, value: Any) -> Any:
        return value

    def decode(self, raw: Any) -> Any:
        return raw

    def from_json(self, value: Any, python_type: Any) -> Any:
        return self.validate(value)

    def to_payload(self, value: Any, python_type: Any) -> Any:
        return self.to_json(self.validate(value), python_type)


@register
class IntTransformer(_Primitive):
    python_type, simple, field = int, "INTEGER", "integer"

    def encode(self, value: int) -> str:
        return str(value)  # int64 is a string in protojson

    def decode(self, raw: Any) -> int:
        return int(raw)

    def to_python(self, literal: dict, python_type: Any) -> Any:
        primitive = literal.get("scalar", {}).get("primitive", {})
        whole = primitive.get("float_value")
        if "integer" not in primitive and isinstance(whole, (int, float)) and float(whole).is_integer():
            # An attribute path into a dataclass's Struct yields a double (propeller walks JSON numbers as
            # doubles): a whole one is the int the dataclass field holds.
            return int(whole)
        return super().to_python(literal, python_type)

    def from_text(self, text: str, python_type: Any) -> int:
        try:
            return int(text.strip())
        except ValueError:
            raise TypeMismatch(f"{text!r} is not a valid integer") from None


@register
class FloatTransformer(_Primitive):
    python_type, simple, field = float, "FLOAT", "float_value"

    def validate(self, value: Any) -> float:
        # An int is a fine float (Python's own numeric tower); a bool is not.
        if type(value) is int:
            return float(value)
        return super().validate(value)

    def decode(self, raw: Any) -> float:
        return float(raw)

    def from_text(self, text: str, python_type: Any) -> float:
        try:
            return float(text.strip())
        except ValueError:
            raise TypeMismatch(f"{text!r} is not a valid number") from None


@register
class StrTransformer(_Primitive):
    python_type, simple, field = str, "STRING", "string_value"

    def from_text(self, text: str, python_type: Any) -> str:
        return text


@register
class BoolTransformer(_Primitive):
    python_type, simple, field = bool, "BOOLEAN", "boolean"

    def from_text(self, text: str, python_type: Any) -> bool:
        lowered = text.strip().lower()
        if lowered in ("true", "1", "yes", "y", "on"):
            return True
        if lowered in ("false", "0", "no", "n", "off"):
            return False
        raise TypeMismatch(f"{text!r} is not a valid boolean (true/false)")


@register
class DatetimeTransformer(_Primitive):
    python_type, simple, field = dt.datetime, "DATETIME", "datetime"

    def encode(self, value: dt.datetime) -> str:
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.isoformat(timespec="microseconds").rstrip("0").rstrip(".") + "Z"

    def decode(self, raw: str) -> dt.datetime:
        parsed = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        return parsed.replace(tzinfo=dt.timezone.utc) if parsed.tzinfo is None else parsed

    def from_text(self, text: str, python_type: Any) -> dt.datetime:
        try:
            return dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            raise TypeMismatch(f"{text!r} is not an ISO 8601 datetime (e.g. 2024-05-01T12:00:00)") from None

    def from_json(self, value: Any, python_type: Any) -> dt.datetime:
        if isinstance(value, dt.datetime):
            return value
        if isinstance(value, str):
            return self.from_text(value, python_type)
        raise TypeMismatch(f"expected an ISO 8601 datetime, got {value!r}")

    def to_json(self, value: dt.datetime, python_type: Any) -> str:
        return value.isoformat()


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|h|m|s|d)")
_UNIT_SECONDS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6}


def parse_duration(text: str) -> dt.timedelta:
    """``90``, ``1.5``, ``1h30m``, ``45s``, ``250ms``, ``2d``; the protojson form ``3600s`` too."""
    cleaned = text.strip().replace(" ", "")
    try:
        return dt.timedelta(seconds=float(cleaned))
    except ValueError:
        pass
    parts = _DURATION_PART.findall(cleaned)
    if not parts or "".join(n + u for n, u in parts) != cleaned:
        raise TypeMismatch(f"{text!r} is not a duration (e.g. 90, 1h30m, 45s, 250ms)")
    return dt.timedelta(seconds=sum(float(n) * _UNIT_SECONDS[u] for n, u in parts))


def format_duration(value: dt.timedelta) -> str:
    """protojson's Duration: seconds with up to nine fractional digits and an ``s``."""
    seconds = value.total_seconds()
    return (f"{seconds:.9f}".rstrip("0").rstrip(".") if seconds != int(seconds) else str(int(seconds))) + "s"


@register
class TimedeltaTransformer(_Primitive):
    python_type, simple, field = dt.timedelta, "DURATION", "duration"

    def encode(self, value: dt.timedelta) -> str:
        return format_duration(value)

    def decode(self, raw: str) -> dt.timedelta:
        return parse_duration(raw)

    def from_text(self, text: str, python_type: Any) -> dt.timedelta:
        return parse_duration(text)

    def from_json(self, value: Any, python_type: Any) -> dt.timedelta:
        if isinstance(value, dt.timedelta):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return dt.timedelta(seconds=value)
        if isinstance(value, str):
            return parse_duration(value)
        raise TypeMismatch(f"expected a duration, got {value!r}")

    def to_json(self, value: dt.timedelta, python_type: Any) -> str:
        return format_duration(value)


@register
class NoneTransformer(TypeTransformer):
    def matches(self, python_type: Any) -> bool:
        return python_type is None or python_type is type(None)

    def literal_type(self, python_type: Any) -> dict:
        return {"simple": "NONE"}

    def to_literal(self, value: Any, python_type: Any) -> dict:
        if value is not None:
            raise TypeMismatch(f"expected None, got {value!r}")
        return {"scalar": {"none_type": {}}}

    def to_python(self, literal: dict, python_type: Any) -> None:
        return None

    def describe(self, python_type: Any) -> str:
        return "None"
