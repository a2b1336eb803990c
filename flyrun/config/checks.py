"""Checks across keys (what one key's type cannot say): an auth type's required keys, files that must exist.

They run where the values are used (signing in, opening a session) and in ``flyrun config validate``; a local run
never needs them, so a half-finished remote setup does not stop it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from flyrun.config.loader import Config
from flyrun.errors import ConfigError


def effective_auth_type(config: Config) -> str:
    """The auth type in use. As in flytekit, a configured client secret means ClientSecret unless told otherwise."""
    auth_type = config.get("admin.authType")
    secret_given = config.get("admin.clientSecretLocation") or config.get("admin.clientSecretEnvVar")
    if not config.is_set("admin.authType") and secret_given:
        return "ClientSecret"
    return auth_type


def problems(config: Config) -> list[tuple[str, str]]:
    """(key, reason) for every inconsistency found; empty when the configuration hangs together."""
    found: list[tuple[str, str]] = []
    auth_type = effective_auth_type(config)
    if auth_type == "ClientSecret":
        if not config.get("admin.clientId"):
            found.append(("admin.clientId", "is required when admin.authType is ClientSecret"))
        if not (config.get("admin.clientSecretLocation") or config.get("admin.clientSecretEnvVar")):
            found.append(("admin.clientSecretLocation",
                          "or admin.clientSecretEnvVar is required when admin.authType is ClientSecret"))
    if auth_type == "ExternalCommand" and not config.get("admin.command"):
        found.append(("admin.command", "is required when admin.authType is ExternalCommand"))
    for key in ("admin.caCertFilePath", "admin.clientSecretLocation"):
        location = config.get(key)
        if location and not Path(location).expanduser().is_file():
            found.append((key, f"names {location}, which does not exist"))
    has_access, has_secret = (config.get(f"storage.connection.{k}") for k in ("access-key", "secret-key"))
    if bool(has_access) != bool(has_secret):
        found.append(("storage.connection.secret-key" if has_access else "storage.connection.access-key",
                      "is required with the other half of the key pair"))
    return found


def require_consistent(config: Config, keys: tuple[str, ...] | None = None) -> None:
    """Raise ``ConfigError`` for the first problem (among ``keys``, when given), naming where the key was set."""
    for key, reason in problems(config):
        if keys is None or key in keys:
            raise ConfigError(f"{describe_key(config, key)} {reason}",
                              hint=f"fix it in {config.path}" if config.path else "set it in ~/.flyrun/config.yaml")


def describe_key(config: Config, key: str) -> str:
    source = config.source(key)
    return f"key '{key}'" + (f" (from {source})" if source != "default" else "")


def read_client_secret(config: Config, environ: Mapping[str, str]) -> str:
    """The client secret from ``admin.clientSecretLocation`` (trailing newline dropped) or the named env var."""
    location = config.get("admin.clientSecretLocation")
    if location:
        path = Path(location).expanduser()
        try:
            secret = path.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not readable text"
            where = describe_key(config, "admin.clientSecretLocation")
            raise ConfigError(f"cannot read the client secret file {path} ({where}): {reason}") from None
        if not secret:
            raise ConfigError(f"the client secret file {path} is empty")
        return secret
    variable = config.get("admin.clientSecretEnvVar")
    if variable:
        secret = environ.get(variable, "")
        if not secret:
            raise ConfigError(f"admin.clientSecretEnvVar names ${variable}, which is not set or empty",
                              hint=f"export {variable}=<the client secret>")
        return secret
    raise ConfigError("no client secret configured",
                      hint="set admin.clientSecretLocation (a file) or admin.clientSecretEnvVar")
