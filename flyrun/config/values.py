"""Turning a YAML or environment value into an item's type, or saying which key is wrong and why."""

from __future__ import annotations

import re
from typing import Any

from flyrun.config.items import ConfigItem
from flyrun.errors import ConfigError

_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f", ""}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)")
_DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_HOST = re.compile(r"^[A-Za-z0-9._:\-]+$")


def coerce(item: ConfigItem, value: Any, source: str) -> Any:
    """The value as the item's kind; a ``ConfigError`` naming the source, the key and the reason otherwise."""
    where = f"{source}: key '{item.key}'"
    if value is None:
        return None
    converter = _CONVERTERS.get(item.kind, _to_str)
    return converter(item, value, where)


def _to_bool(item: ConfigItem, value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ConfigError(f"{where} must be true or false, not {value!r}")


def _to_int(item: ConfigItem, value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{where} must be an integer, not {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where} must be an integer, not {value!r}") from None


def _to_list(item: ConfigItem, value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        return [part for part in value.replace(",", " ").split() if part]
    if isinstance(value, list) and all(_is_scalar(v) for v in value):
        return [str(v) for v in value]
    raise ConfigError(f"{where} must be a list of strings, not {value!r}")


def _to_command(item: ConfigItem, value: Any, where: str) -> list[str]:
    import shlex

    if isinstance(value, str):
        try:
            words = shlex.split(value)
        except ValueError as exc:
            raise ConfigError(f"{where} is not a valid command line: {exc}") from None
    elif isinstance(value, list) and all(_is_scalar(v) for v in value):
        words = [str(v) for v in value]
    else:
        raise ConfigError(f"{where} must be a command: a list of words or a string, not {type(value).__name__}")
    if not words:
        raise ConfigError(f"{where} is an empty command")
    return words


def _to_map(item: ConfigItem, value: Any, where: str) -> dict[str, str]:
    if isinstance(value, dict) and all(_is_scalar(v) for v in value.values()):
        return {str(k): str(v) for k, v in value.items()}
    raise ConfigError(f"{where} must be a mapping of names to strings, not {type(value).__name__}")


def _to_duration(item: ConfigItem, value: Any, where: str) -> float:
    """Seconds as a number, or a Go-style duration such as ``90s``, ``5m`` or ``1h30m``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    text = str(value).strip() if isinstance(value, str) else ""
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    if text and re.fullmatch(f"(?:{_DURATION_PART.pattern})+", text):
        return sum(float(n) * _DURATION_UNITS[unit] for n, unit in _DURATION_PART.findall(text))
    raise ConfigError(f"{where} must be a duration such as 30s, 5m or 1h30m, not {value!r}")


def _to_choice(item: ConfigItem, value: Any, where: str) -> str:
    text = _to_str(item, value, where)
    canonical = item.aliases.get(text.lower(), text)
    matches = [c for c in item.choices if c.lower() == canonical.lower()]
    if not matches:
        raise ConfigError(f"{where} is {text!r}; expected one of: {', '.join(item.choices)}")
    return matches[0]


def _to_endpoint(item: ConfigItem, value: Any, where: str) -> str:
    """Flyte writes ``dns:///host:port``; flyrun also takes ``host:port`` and ``http(s)://host:port``."""
    from urllib.parse import urlsplit

    text = _to_str(item, value, where).strip()
    bare = text.removeprefix("dns:///").removeprefix("dns://")
    scheme = bare.split("://", 1)[0] if "://" in bare else ""
    if scheme not in ("", "http", "https"):
        raise ConfigError(f"{where} has scheme {scheme!r}; use dns:///host:port, host:port or an http(s) URL")
    try:
        parts = urlsplit(bare if scheme else f"//{bare}")
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        valid = parts.hostname is not None and _HOST.match(parts.hostname) is not None
    except ValueError:
        valid = False
    if not valid or (not scheme and parts.path not in ("", "/")):
        raise ConfigError(f"{where} is {text!r}, which is not host[:port], dns:///host[:port] or an "
                          "http(s):// URL", hint="for example: dns:///flyte.example.com or localhost:30080")
    return text


def _to_str(item: ConfigItem, value: Any, where: str) -> str:
    if not _is_scalar(value) or isinstance(value, bool):
        raise ConfigError(f"{where} must be a string, not {type(value).__name__}")
    return str(value)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float))  # bool is an int


_CONVERTERS = {
    "bool": _to_bool,
    "int": _to_int,
    "list": _to_list,
    "command": _to_command,
    "map": _to_map,
    "duration": _to_duration,
    "choice": _to_choice,
    "endpoint": _to_endpoint,
    "str": _to_str,
}
