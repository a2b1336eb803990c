"""Secrets for a task's process, as propeller's secrets webhook provides them in a pod.

The operator keeps them as files, ``<secrets-dir>/<group>[/<group_version>]/<key>`` (``flyrun sandbox start
--secrets-dir``). A task that requests secrets (``security_context.secrets``) gets
``FLYTE_SECRETS_DEFAULT_DIR=<secrets-dir>`` so flytekit's (and flyrun's) file lookup finds them; an ``ENV_VAR``
secret is also put in ``_FSEC_<GROUP>_<KEY>``, and ``env_var`` names a variable holding the file's path (ANY,
FILE) or the value (ENV_VAR). A requested secret that is not there fails the node before the task starts, naming
the file, never the value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flyrun.sandbox.engine.records import USER
from flyrun.sandbox.engine.runtime import NodeFailed

ENV_PREFIX = "_FSEC_"
_ENV_VAR = 1  # flyteidl.core.Secret.MountType.ENV_VAR


def secret_environment(task: Any, secrets_dir: Path | None) -> dict[str, str]:
    requested = list(task.security_context.secrets) if task.HasField("security_context") else []
    if not requested:
        return {}
    names = ", ".join(_shown(secret) for secret in requested)
    if secrets_dir is None:
        raise NodeFailed.of("SecretsUnavailable", f"task {task.id.name} requests secrets ({names}) but the sandbox "
                                                  "was started without --secrets-dir DIR", USER)
    env = {"FLYTE_SECRETS_DEFAULT_DIR": str(secrets_dir), "FLYTE_SECRETS_FILE_PREFIX": "",
           "FLYTE_SECRETS_ENV_PREFIX": ENV_PREFIX}
    for secret in requested:
        parts = [p.lower() for p in (secret.group, secret.group_version) if p]
        path = secrets_dir.joinpath(*parts, secret.key.lower())
        if not path.is_file():
            raise NodeFailed.of("SecretNotFound", f"task {task.id.name}: secret {_shown(secret)} is not in the "
                                                  f"sandbox's secrets folder (no file {path})", USER)
        if secret.mount_requirement == _ENV_VAR:
            value = path.read_text().strip()
            stem = "_".join(p for p in (secret.group, secret.group_version, secret.key) if p).upper()
            env[f"{ENV_PREFIX}{stem}"] = value
            if secret.env_var:
                env[secret.env_var] = value
        elif secret.env_var:
            env[secret.env_var] = str(path)
    return env


def _shown(secret: Any) -> str:
    return f"{secret.group}/{secret.key}" if secret.key else secret.group
