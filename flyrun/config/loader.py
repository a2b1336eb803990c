"""Find, read and validate the config file, then layer environment overrides on top.

Nothing here runs at import time; the CLI builds one ``Config`` per invocation, lazily.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flyrun.config.items import FLYTE_KEYS_IGNORED, ITEMS, ITEMS_BY_KEY, ConfigItem
from flyrun.errors import ConfigError

_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f", ""}


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


def strip_dns_scheme(endpoint: str) -> str:
    for prefix in ("dns:///", "dns://"):
        if endpoint.startswith(prefix):
            return endpoint[len(prefix):]
    return endpoint


def find_config_file(explicit: str | None, environ: Mapping[str, str], home: Path) -> Path | None:
    """The search order of DESIGN.md section 4; an explicitly named file must exist."""
    for name, candidate in (("--config", explicit), ("FLYRUN_CONFIG", environ.get("FLYRUN_CONFIG")),
                            ("FLYTECTL_CONFIG", environ.get("FLYTECTL_CONFIG"))):
        if candidate:
            path = Path(candidate).expanduser()
            if not path.is_file():
                raise ConfigError(f"config file {path} (from {name}) does not exist",
                                  hint="create it with `flyrun config init` or fix the path")
            return path
    for path in (home / ".flyrun" / "config.yaml", home / ".flyte" / "config.yaml"):
        if path.is_file():
            return path
    return None


def load_config(explicit: str | None = None, environ: Mapping[str, str] | None = None,
                home: Path | None = None) -> Config:
    environ = os.environ if environ is None else environ
    home = Path(environ.get("HOME", "~")).expanduser() if home is None else home
    path = find_config_file(explicit, environ, home)
    config = Config(path=path)
    if path is not None:
        _apply_file(config, path)
    _apply_environment(config, environ)
    return config


def read_yaml_file(path: Path) -> dict[str, Any]:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
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


def _apply_file(config: Config, path: Path) -> None:
    for key, value in _flatten(read_yaml_file(path)):
        item = ITEMS_BY_KEY.get(key)
        if item is None:
            if not _is_known_flyte_key(key):
                config.warnings.append(f"{path}: unknown key '{key}' ignored")
            continue
        config.values[key] = coerce(item, value, f"{path}")
        config.sources[key] = str(path)


def _apply_environment(config: Config, environ: Mapping[str, str]) -> None:
    for item in ITEMS:
        for var in item.env:
            if var in environ:
                config.values[item.key] = coerce(item, environ[var], f"${var}")
                config.sources[item.key] = f"${var}"
                break


def _flatten(data: dict[str, Any], prefix: str = ""):
    for name, value in data.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict) and key not in ITEMS_BY_KEY:
            yield from _flatten(value, key + ".")
        else:
            yield key, value


def _is_known_flyte_key(key: str) -> bool:
    return any(key == known or key.startswith(known + ".") for known in FLYTE_KEYS_IGNORED)


def coerce(item: ConfigItem, value: Any, source: str) -> Any:
    """Turn a YAML or environment value into the item's type, or say which key is wrong and why."""
    where = f"{source}: key '{item.key}'"
    if value is None:
        return None
    if item.kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ConfigError(f"{where} must be true or false, not {value!r}")
    if item.kind == "int":
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where} must be an integer, not {value!r}") from None
    if item.kind == "list":
        if isinstance(value, str):
            return [part for part in value.replace(",", " ").split() if part]
        if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
            return [str(v) for v in value]
        raise ConfigError(f"{where} must be a list of strings, not {value!r}")
    if item.kind == "map":
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
        raise ConfigError(f"{where} must be a mapping, not {type(value).__name__}")
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ConfigError(f"{where} must be a string, not {type(value).__name__}")
    text = str(value)
    if item.kind == "choice":
        canonical = item.aliases.get(text.lower(), text)
        matches = [c for c in item.choices if c.lower() == canonical.lower()]
        if not matches:
            raise ConfigError(f"{where} is {text!r}; expected one of: {', '.join(item.choices)}")
        return matches[0]
    return text
