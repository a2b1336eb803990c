"""Find, read and validate the config file, then layer environment overrides on top.

Search order (the first that exists wins; an explicitly named file must exist): ``--config``, ``$FLYRUN_CONFIG``,
``$FLYTECTL_CONFIG``, ``~/.flyrun/config.yaml``, ``~/.flyte/config.yaml``, then the built-in defaults. Per key,
an environment variable from the table in ``items.py`` wins over the file.

Nothing here runs at import time; the CLI builds one ``Config`` per invocation, lazily.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flyrun.config.items import (
    FLYTE_KEYS_IGNORED_LOWER,
    ITEMS,
    ITEMS_BY_KEY,
    ITEMS_BY_LOWER_KEY,
    SECTIONS,
    ConfigItem,
)
from flyrun.config.paths import find_config_file
from flyrun.config.values import coerce
from flyrun.errors import ConfigError

REDACTED = "********"


@dataclass
class Config:
    """Resolved configuration: a value and its source for every item of the table."""

    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    path: Path | None = None
    warnings: list[str] = field(default_factory=list)

    def get(self, key: str) -> Any:
        if key not in ITEMS_BY_KEY:
            raise KeyError(key)
        return self.values.get(key, ITEMS_BY_KEY[key].default)

    def source(self, key: str) -> str:
        return self.sources.get(key, "default")

    def is_set(self, key: str) -> bool:
        """True when the file, the environment or the command line gave the key a value."""
        return key in self.sources

    def with_overrides(self, overrides: Mapping[str, Any], source: str = "command line") -> Config:
        values, sources = dict(self.values), dict(self.sources)
        for key, value in overrides.items():
            if value is not None:
                values[key] = coerce(ITEMS_BY_KEY[key], value, source)
                sources[key] = source
        return Config(values, sources, self.path, list(self.warnings))

    @property
    def endpoint(self) -> str | None:
        raw = self.get("admin.endpoint")
        return strip_dns_scheme(raw) if raw else None

    def describe(self) -> list[tuple[str, Any, str]]:
        """(key, value, source) for every item, with secrets redacted: what ``flyrun config show`` prints."""
        rows = []
        for item in ITEMS:
            value = self.get(item.key)
            if item.secret and value:
                value = REDACTED
            rows.append((item.key, value, self.source(item.key)))
        return rows


def strip_dns_scheme(endpoint: str) -> str:
    for prefix in ("dns:///", "dns://"):
        if endpoint.startswith(prefix):
            return endpoint[len(prefix):]
    return endpoint


def load_config(explicit: str | None = None, environ: Mapping[str, str] | None = None,
                home: Path | None = None) -> Config:
    environ = os.environ if environ is None else environ
    home = Path(environ.get("HOME", "~")).expanduser() if home is None else home
    path = find_config_file(explicit, environ, home)
    config = load_file(path) if path is not None else Config()
    _apply_environment(config, environ)
    return config


def load_file(path: Path) -> Config:
    """One file alone, without environment overrides: what ``flyrun config validate`` checks."""
    config = Config(path=path)
    for key, value in _flatten(read_yaml_file(path), path):
        item = ITEMS_BY_LOWER_KEY.get(key.lower())
        if item is None:
            if not _is_known_flyte_key(key):
                config.warnings.append(f"{path}: unknown key '{key}' ignored{_suggestion(key)}")
            continue
        config.values[item.key] = coerce(item, value, str(path))
        config.sources[item.key] = str(path)
    return config


def read_yaml_file(path: Path) -> dict[str, Any]:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"cannot read config file {path}: {reason}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"config file {path}{where}: {problem}", hint="fix the YAML syntax") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: the top level must be a mapping of sections, not "
                          f"{type(data).__name__}")
    return data


def _apply_environment(config: Config, environ: Mapping[str, str]) -> None:
    for item in ITEMS:
        for var in item.env:
            if var in environ:
                config.values[item.key] = coerce(item, environ[var], f"${var}")
                config.sources[item.key] = f"${var}"
                break


def _flatten(data: dict[str, Any], path: Path, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name, value in data.items():
        key = f"{prefix}{name}"
        lowered = key.lower()
        if lowered in SECTIONS and lowered not in ITEMS_BY_LOWER_KEY:
            if value is None:
                continue  # an empty section, e.g. "storage:" with nothing under it
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: key '{key}' must be a section (a mapping of keys), "
                                  f"not {type(value).__name__}")
        if isinstance(value, dict) and lowered not in ITEMS_BY_LOWER_KEY:
            yield from _flatten(value, path, key + ".")
        else:
            yield key, value


def _is_known_flyte_key(key: str) -> bool:
    lowered = key.lower()
    return any(lowered == known or lowered.startswith(known + ".") for known in FLYTE_KEYS_IGNORED_LOWER)


def _suggestion(key: str) -> str:
    close = difflib.get_close_matches(key, list(ITEMS_BY_KEY), n=1, cutoff=0.75)
    return f" (did you mean '{close[0]}'?)" if close else ""


__all__ = ["Config", "ConfigItem", "REDACTED", "coerce", "find_config_file", "load_config", "load_file",
           "read_yaml_file", "strip_dns_scheme"]
