"""Starter config files for ``flyrun config init``: local only, the sandbox, or a cluster endpoint."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from flyrun.config.items import ITEMS_BY_KEY
from flyrun.config.values import coerce
from flyrun.errors import ConfigError, UsageError

_HEADER = """\
# flyrun configuration, in Flyte's YAML format (pyflyte and flytectl read this file too).
# `flyrun config show` prints every value and where it came from.
"""

_TASK = """\
task:
  project: flytesnacks
  domain: development
"""

_LOCAL = """\
# Local runs need no other settings. To run on a cluster: flyrun config init --endpoint HOST --force
"""

_SANDBOX = """\
admin:
  # `flyrun sandbox start` listens here, over plain http.
  endpoint: dns:///localhost:30080
  insecure: true
  # The sandbox asks for no sign-in unless started with --auth; then sign in headless with:
  # authType: DeviceFlow
console:
  endpoint: http://localhost:30080
"""

_ENDPOINT = """\
admin:
  endpoint: {endpoint}
  # DeviceFlow signs in from any terminal (`flyrun auth login`); Pkce opens a browser.
  authType: {auth_type}
{auth_keys}  insecure: {insecure}
  # In CI, use a client secret from an environment variable instead:
  #   authType: ClientSecret
  #   clientId: my-ci-client
  #   clientSecretEnvVar: FLYTE_CLIENT_SECRET
"""


def starter_text(kind: str, endpoint: str | None = None, auth_type: str = "DeviceFlow",
                 insecure: bool = False, client_id: str | None = None,
                 secret_env_var: str = "FLYTE_CLIENT_SECRET", command: str | None = None) -> str:
    """The YAML text of a starter file; ``kind`` is ``local``, ``sandbox`` or ``endpoint``.

    ClientSecret needs ``client_id`` (the secret's variable defaults to FLYTE_CLIENT_SECRET); ExternalCommand needs
    ``command``: so the file written is complete and passes ``flyrun config validate``.
    """
    if kind == "local":
        return _HEADER + _LOCAL + _TASK
    if kind == "sandbox":
        return _HEADER + _SANDBOX + _TASK
    if not endpoint:
        raise UsageError("an endpoint is needed, e.g. --endpoint flyte.example.com")
    try:
        checked = coerce(ITEMS_BY_KEY["admin.endpoint"], endpoint, "--endpoint")
        chosen = coerce(ITEMS_BY_KEY["admin.authType"], auth_type, "--auth-type")
    except ConfigError as error:  # a bad flag is bad input (exit 2), not a bad config file
        raise UsageError(error.message, hint=error.hint) from None
    if "://" not in checked:
        checked = "dns:///" + checked.removeprefix("dns:///")
    auth_keys = _auth_keys(chosen, client_id, secret_env_var, command)
    body = _ENDPOINT.format(endpoint=checked, auth_type=chosen, auth_keys=auth_keys, insecure=str(insecure).lower())
    return _HEADER + body + _TASK


def _auth_keys(auth_type: str, client_id: str | None, secret_env_var: str, command: str | None) -> str:
    """The extra ``admin`` lines an auth type needs, as YAML (values JSON-quoted, which YAML reads as strings)."""
    if auth_type == "ClientSecret":
        if not client_id:
            raise UsageError("--auth-type ClientSecret needs --client-id")
        return f"  clientId: {json.dumps(client_id)}\n  clientSecretEnvVar: {json.dumps(secret_env_var)}\n"
    if auth_type == "ExternalCommand":
        if not command:
            raise UsageError("--auth-type ExternalCommand needs --command")
        try:
            words = coerce(ITEMS_BY_KEY["admin.command"], command, "--command")
        except ConfigError as error:
            raise UsageError(error.message) from None
        return f"  command: {json.dumps(words)}\n"
    return ""


def write_starter(path: Path, text: str, force: bool = False) -> Path:
    """Write ``text`` to ``path`` whole or not at all; an existing file is kept unless ``force``."""
    path = path.expanduser()
    if path.exists() and not force:
        raise UsageError(f"{path} already exists", hint="pass --force to overwrite it")
    if path.is_dir():
        raise UsageError(f"{path} is a directory")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".config-", suffix=".yaml", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
