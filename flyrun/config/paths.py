"""Where the config file is: the one search order, light enough for a local run to ask whether there is one."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from flyrun.errors import ConfigError


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
