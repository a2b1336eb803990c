"""Secrets a task asks for (``@task(secret_requests=[Secret(...)])``) and reads at run time, as flytekit does.

Where a secret is found, in this order (flytekit's conventions, so the same task finds its secrets on a Flyte
cluster, where propeller's webhook puts them):

1. the environment variable ``<prefix><GROUP>[_<GROUP_VERSION>]_<KEY>``, upper-cased; the prefix is
   ``$FLYTE_SECRETS_ENV_PREFIX`` (default ``_FSEC_``); in a local run also the unprefixed ``<GROUP>_<KEY>``;
2. the file ``<dir>/<group>[/<group_version>]/<file prefix><key>``, lower-cased, with ``<dir>`` from
   ``$FLYTE_SECRETS_DEFAULT_DIR`` (default ``/etc/secrets``) and the prefix from ``$FLYTE_SECRETS_FILE_PREFIX``;
   the value is stripped.

A secret's value is never logged or put in an error message.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from dataclasses import dataclass

from flyrun.errors import ConfigError, WorkflowDefinitionError

ENV_PREFIX_VAR = "FLYTE_SECRETS_ENV_PREFIX"
DIR_VAR = "FLYTE_SECRETS_DEFAULT_DIR"
FILE_PREFIX_VAR = "FLYTE_SECRETS_FILE_PREFIX"
DEFAULT_ENV_PREFIX = "_FSEC_"
DEFAULT_DIR = "/etc/secrets"


@dataclass(frozen=True)
class Secret:
    """A secret a task needs: ``Secret(group="db", key="password", mount_requirement=Secret.MountType.FILE)``."""

    class MountType(enum.Enum):
        ANY = 0
        ENV_VAR = 1
        FILE = 2

    group: str | None = None
    key: str | None = None
    group_version: str | None = None
    mount_requirement: Secret.MountType = MountType.ANY
    env_var: str | None = None

    def __post_init__(self) -> None:
        if not self.group:  # flytekit's default secrets plugin requires the group
            raise WorkflowDefinitionError(f"Secret(key={self.key!r}) needs a group",
                                          hint='Secret(group="my-group", key="my-key")')
        if not isinstance(self.mount_requirement, Secret.MountType):
            raise WorkflowDefinitionError(f"Secret {self.group}/{self.key}: mount_requirement must be a "
                                          f"Secret.MountType, not {self.mount_requirement!r}")

    def to_wire(self) -> dict:
        """``core.Secret`` in protojson; defaults (``ANY``, empty strings) are left out as flytekit leaves them."""
        wire: dict = {"group": self.group}
        if self.group_version:
            wire["group_version"] = self.group_version
        if self.key:
            wire["key"] = self.key
        if self.mount_requirement is not Secret.MountType.ANY:
            wire["mount_requirement"] = self.mount_requirement.name
        if self.env_var:
            wire["env_var"] = self.env_var
        return wire


def checked_secret_requests(requests: object, where: str) -> list[Secret]:
    if requests is None:
        return []
    if not isinstance(requests, (list, tuple)) or not all(isinstance(s, Secret) for s in requests):
        raise WorkflowDefinitionError(f"{where}: secret_requests must be a list of flyrun Secret(...), not "
                                      f"{requests!r}")
    return list(requests)


class SecretNotFoundError(ConfigError, ValueError):
    """A secret is in neither place it may be. A ValueError too, as flytekit raises one."""


class SecretsManager:
    """``current_context().secrets``: ``get(group, key)`` reads a secret from the environment or a file."""

    def __init__(self, environ: Mapping[str, str] | None = None, local: bool = False,
                 folder: str | None = None, owner: str = "") -> None:
        self._environ = os.environ if environ is None else environ
        self._local = local
        self._owner = f"task {owner}: " if owner else ""
        self._folder = folder  # flyrun run --secrets-dir: wins over $FLYTE_SECRETS_DEFAULT_DIR

    def get(self, group: str | None = None, key: str | None = None, group_version: str | None = None,
            encode_mode: str = "r") -> str | bytes:
        """The secret's value (``encode_mode="rb"``: its bytes)."""
        if not group:
            raise SecretNotFoundError("secrets.get needs a group", hint="current_context().secrets.get(group, key)")
        for name in self._env_names(group, key, group_version):
            if name in self._environ:
                value = self._environ[name]
                return value.encode() if "b" in encode_mode else value
        path = self.get_secrets_file(group, key, group_version)
        if os.path.isfile(path):
            with open(path, encode_mode) as handle:
                return handle.read().strip()
        shown = f"{group}/{key}" if key else group
        names = " or ".join(f"${name}" for name in self._env_names(group, key, group_version))
        raise SecretNotFoundError(f"{self._owner}secret {shown} not found: set {names}, or write it to the file {path}",
                                  hint=f"the folder is ${DIR_VAR} (flyrun run --secrets-dir DIR)")

    def get_secrets_env_var(self, group: str | None = None, key: str | None = None,
                            group_version: str | None = None) -> str:
        return self._env_names(group or "", key, group_version)[0]

    def get_secrets_file(self, group: str | None = None, key: str | None = None,
                         group_version: str | None = None) -> str:
        folder = self._folder or self._environ.get(DIR_VAR) or DEFAULT_DIR
        prefix = self._environ.get(FILE_PREFIX_VAR, "")
        parts = [p for p in (group, group_version) if p]
        return os.path.join(folder, *[p.lower() for p in parts], f"{prefix}{key or ''}".lower())

    def _env_names(self, group: str, key: str | None, group_version: str | None) -> list[str]:
        prefix = self._environ.get(ENV_PREFIX_VAR, DEFAULT_ENV_PREFIX)
        stem = "_".join(p for p in (group, group_version, key) if p).upper()
        return [f"{prefix}{stem}", stem] if self._local else [f"{prefix}{stem}"]
