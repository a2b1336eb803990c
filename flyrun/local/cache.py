"""The local task cache: outputs of ``cache=True`` tasks kept on disk between local runs.

An entry's key is the sha256 of the canonical JSON of everything that decides a task's outputs: its name, its
``cache_version``, its interface (the literal types of inputs and outputs) and its input values in literal form,
except the inputs its cache ignores (``Cache(ignored_inputs=...)``, Flyte's ``cache_ignore_input_vars``).
Entries live at ``<cache dir>/<task name>/<key>.json`` and hold the output literals. The cache dir is ``cache.dir``
from config (``$FLYRUN_CACHE_DIR``), else ``$XDG_CACHE_HOME/flyrun/task-cache``, else ``~/.cache/flyrun/task-cache``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flyrun.errors import UsageError
from flyrun.sdk.context import current_context
from flyrun.types import engine
from flyrun.types.annotated import known_hash

DirectorySource = str | os.PathLike | Callable[[], "str | None"] | None


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CACHE_HOME") or os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".cache")
    return Path(base) / "flyrun" / "task-cache"


def _canonical(document: Any) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _folder_name(task_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", task_name) or "_"


def _key_literal(value: Any, python_type: Any) -> dict:
    """An input as the cache key sees it: a value that came from an output with a ``HashMethod`` counts by its hash
    alone (as Flyte's cache key replaces a hashed literal with ``{hash}``), others by their literal."""
    digest = known_hash(value)
    if digest is not None:
        return {"hash": digest}
    return engine.to_literal(value, python_type)


class LocalCache:
    def __init__(self, directory: DirectorySource = None, environ: Mapping[str, str] | None = None) -> None:
        self._source = directory
        self._directory: Path | None = None
        self._environ = environ

    @staticmethod
    def notify(message: str) -> None:
        """Notices go wherever the running task's notices go (a map's worker collects them)."""
        current_context().notify(message)

    @property
    def directory(self) -> Path:
        """Resolved on first use, so that runs without cached tasks never read config for it."""
        if self._directory is None:
            chosen = self._source() if callable(self._source) else self._source
            self._directory = Path(chosen).expanduser() if chosen else default_cache_dir(self._environ)
        return self._directory

    def key_for(self, task: Any, inputs: dict[str, Any]) -> str:
        interface = task.interface
        ignored = set(getattr(task.metadata, "cache_ignore_input_vars", ()))
        document = {
            "task": task.name,
            "cache_version": task.metadata.cache_version,
            "inputs_types": {name: engine.literal_type(t) for name, t in interface.inputs.items()},
            "outputs_types": {name: engine.literal_type(t) for name, t in interface.outputs.items()},
            "inputs": {name: _key_literal(inputs[name], t) for name, t in interface.inputs.items()
                       if name not in ignored},
        }
        return hashlib.sha256(_canonical(document).encode("utf-8")).hexdigest()

    def path_for(self, key: str, task: Any) -> Path:
        return self.directory / _folder_name(task.name) / f"{key}.json"

    def get(self, key: str, task: Any) -> dict[str, Any] | None:
        """The cached outputs, or None when there are none or they can no longer be used."""
        path = self.path_for(key, task)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            literals = entry["outputs"]
            types = task.interface.outputs
            if entry.get("key") != key or set(literals) != set(types):
                return None
            if not all(engine.literal_is_reusable(literals[name], t) for name, t in types.items()):
                self.notify(f"{task.name}: cached outputs point at files that no longer exist; recomputing")
                return None
            return {name: engine.to_python(literals[name], t) for name, t in types.items()}
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            self.notify(f"{task.name}: cache entry {path} is unreadable ({type(exc).__name__}); recomputing")
            return None

    def put(self, key: str, task: Any, outputs: dict[str, Any]) -> None:
        path = self.path_for(key, task)
        entry = {"key": key, "task": task.name, "cache_version": task.metadata.cache_version,
                 "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                 "outputs": {name: engine.to_literal(outputs[name], t) for name, t in task.interface.outputs.items()}}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, partial = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(_canonical(entry))
            os.replace(partial, path)  # readers see the old entry or the new one, never half of one
        except OSError as exc:
            self.notify(f"Warning: {task.name}: could not write to the cache at {self.directory}: {exc.strerror}")

    def entries(self, task_name: str | None = None) -> list[Path]:
        if not self.directory.is_dir():
            return []
        folders = [self.directory / _folder_name(task_name)] if task_name else \
            [p for p in self.directory.iterdir() if p.is_dir()]
        return sorted(f for folder in folders if folder.is_dir() for f in folder.glob("*.json"))


@dataclass
class CacheSummary:
    directory: str
    entries: int
    bytes: int
    tasks: int


def summarize(cache: LocalCache) -> CacheSummary:
    entries = cache.entries()
    return CacheSummary(str(cache.directory), len(entries), sum(f.stat().st_size for f in entries),
                        len({f.parent for f in entries}))


def clear(cache: LocalCache, task_name: str | None = None) -> int:
    """Delete cache entries (all, or one task's) and return how many; other files in the folder are left alone."""
    if cache.directory.exists() and not cache.directory.is_dir():
        raise UsageError(f"the cache dir {cache.directory} is not a folder", hint="check cache.dir in your config")
    removed = 0
    for entry in cache.entries(task_name):
        entry.unlink(missing_ok=True)
        removed += 1
        try:
            entry.parent.rmdir()
        except OSError:
            pass  # more entries (or other files) left in that task's folder
    return removed
