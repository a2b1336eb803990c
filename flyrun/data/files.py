"""``FlyteFile`` and ``FlyteDirectory``: a path or URI that tasks pass around, stream from and write to.

Nothing moves until asked: ``open()`` streams through fsspec, ``download()`` (or ``os.fspath()``) fetches a local
copy once. A task that returns one whose data sits on local disk has it uploaded under the run's raw output prefix
(see ``flyrun.data.blob_type``); files written with ``new_remote_file()`` / ``new_remote()`` are already there.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import typing
from collections.abc import Iterator
from typing import Any

from flyrun.data import fs as storage
from flyrun.data import transfer
from flyrun.data.blob_type import BlobTransformer
from flyrun.data.transfer import download_directory, download_file
from flyrun.sdk.context import current_context


def _context() -> Any:
    return current_context().ensure_storage()


def _new_location(name: str | None) -> str:
    """A fresh place under the current run's raw output prefix: ``<prefix>/<random>[/<name>]``."""
    prefix = _context().raw_output_prefix or tempfile.mkdtemp(prefix="flyrun-raw-")
    unique = secrets.token_hex(8)
    if not name:
        return storage.join(prefix, unique)
    return storage.join(prefix, unique, storage.basename(storage.normalize(name)) or unique)


class _Stored(os.PathLike):
    """What files and directories share: where the data is, where it goes, and its Flyte literal type."""

    extension = ""  # the blob format: "" for any, "csv" for FlyteFile[TypeVar("csv")]
    dimensionality = "SINGLE"

    def __init__(self, path: str | os.PathLike[str], remote_path: str | None = None) -> None:
        raw = path.path if isinstance(path, _Stored) else path
        self._path = storage.normalize(raw)
        self._remote_path = storage.normalize(remote_path) if remote_path else None
        self._local_copy: str | None = None

    @property
    def path(self) -> str:
        """Where the data is: a local path, or a URI such as ``s3://bucket/key``."""
        return self._path

    @property
    def remote_path(self) -> str | None:
        """The storage URI: where the data is if it is remote, else where it will be uploaded if one was given."""
        if self._remote_path:
            return self._remote_path
        return None if storage.is_local(self._path) else self._path

    @property
    def is_remote(self) -> bool:
        return not storage.is_local(self._path)

    def __fspath__(self) -> str:
        return self.download()

    def download(self) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        return self._path

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._path!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Stored) or other.dimensionality != self.dimensionality:
            return NotImplemented
        return (self._path, self.remote_path) == (other._path, other.remote_path)

    def __hash__(self) -> int:
        return hash((self.dimensionality, self._path))

    def __class_getitem__(cls, item: Any) -> type:
        """``FlyteFile[TypeVar("csv")]`` (or ``FlyteFile["csv"]``): the same, typed with a blob format."""
        if isinstance(item, typing.TypeVar):
            fmt = item.__name__
        elif isinstance(item, str):
            fmt = item
        else:
            raise TypeError(f"{cls.__name__}[...] takes a format: a TypeVar such as TypeVar('csv'), or a string")
        if cls.extension:
            raise TypeError(f"{cls.__name__} already has a format")
        return _typed_class(cls, fmt.lstrip("."))

    @classmethod
    def __flyrun_transformer__(cls) -> Any:
        return BlobTransformer()

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        """So a pydantic model may have a file or directory field (only pydantic calls this)."""
        from pydantic_core import core_schema

        def validate(value: Any) -> Any:
            if isinstance(value, cls):
                return value
            if isinstance(value, dict) and isinstance(value.get("path"), str):
                return cls(value["path"])
            if isinstance(value, (str, os.PathLike)):
                return cls(value)
            raise ValueError(f"expected {cls.__name__} or a path, got {type(value).__name__}")

        return core_schema.no_info_plain_validator_function(
            validate, serialization=core_schema.plain_serializer_function_ser_schema(lambda v: {"path": v.path}))

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        return {"title": cls.__name__, "type": "object", "properties": {"path": {"type": "string"}},
                "required": ["path"]}


def _typed_class(base: type, fmt: str) -> type:
    # One class per (base, format), so that FlyteFile[csv] is FlyteFile[csv] wherever it is written.
    forms = base.__dict__.get("_formats")
    if forms is None:
        forms = {}
        base._formats = forms  # type: ignore[attr-defined]
    if fmt not in forms:
        name = f"{base.__name__}[{fmt}]"
        forms[fmt] = type(name, (base,), {"extension": fmt, "__qualname__": name, "__module__": base.__module__})
    return forms[fmt]


class FlyteFile(_Stored):
    """A single file on local disk or in object storage (S3, GCS, anything fsspec reaches)."""

    dimensionality = "SINGLE"

    def download(self) -> str:
        """A local path holding the file's bytes; a remote file is fetched once, on first call."""
        if not self.is_remote:
            return self._path
        if self._local_copy is None or not os.path.exists(self._local_copy):
            folder = tempfile.mkdtemp(prefix="flyrun-download-")
            local = os.path.join(folder, storage.basename(self._path) or "file")
            download_file(self._path, local, _context())
            self._local_copy = local
        return self._local_copy

    def open(self, mode: str = "rb", cache_type: str | None = None, cache_options: dict[str, Any] | None = None,
             **kwargs: Any) -> Any:
        """Stream the file. Reads fetch bytes as they are read (``cache_type``/``cache_options`` as in fsspec,
        plus ``"simplecache"`` for a whole-file local cache); writes are atomic: the file appears at its path
        only when the stream is closed without an error. ``kwargs`` go to fsspec (``block_size``, ``encoding``)."""
        plain = mode.replace("t", "")
        if plain not in ("r", "rb", "w", "wb"):
            raise ValueError(f"mode {mode!r} is not supported: use 'r', 'rb', 'w' or 'wb'")
        if "b" not in mode:
            kwargs.setdefault("encoding", "utf-8")  # the same text on every machine, whatever its locale
        if plain.startswith("r"):
            transfer.check_cache_type(cache_type)
            return transfer.open_for_read(self._path, _context(), mode, cache_type, cache_options, **kwargs)
        self._local_copy = None
        return transfer.open_for_write(self._path, _context(), text="b" not in mode, **kwargs)

    @classmethod
    def new_remote_file(cls, name: str | None = None) -> FlyteFile:
        """A new file under the current run's raw output prefix (a local folder, ``s3://`` or ``gs://``): the
        last part of ``name`` (or a random name) inside a fresh folder, so that names never collide."""
        return cls(_new_location(name))


class FlyteDirectory(_Stored):
    """A directory tree on local disk or under a prefix in object storage."""

    dimensionality = "MULTIPART"

    def __init__(self, path: str | os.PathLike[str], remote_directory: str | None = None) -> None:
        super().__init__(path, remote_directory)

    def download(self) -> str:
        """A local directory holding every file; a remote directory is fetched once, on first call."""
        if not self.is_remote:
            return self._path
        if self._local_copy is None or not os.path.isdir(self._local_copy):
            folder = tempfile.mkdtemp(prefix="flyrun-download-")
            local = os.path.join(folder, storage.basename(self._path) or "dir")
            download_directory(self._path, local, _context())
            self._local_copy = local
        return self._local_copy

    def crawl(self, maxdepth: int | None = None, topdown: bool = True) -> Iterator[tuple[str, str]]:
        """``(base, relative_path)`` of every file below, without downloading; ``os.path.join(base, relative)``
        is the file's path or URI. Relative paths use ``/``."""
        context = _context()
        fs, base = storage.filesystem_for(self._path, context.storage_options)
        with storage.storage_errors("list", self._path, context.storage_options):
            walked = list(fs.walk(base, maxdepth=maxdepth, topdown=topdown, on_error="raise"))
        for root, _dirs, names in walked:
            inside = root[len(base):].strip("/")
            for name in sorted(names):
                yield self._path, f"{inside}/{name}" if inside else name

    def listing(self) -> list[FlyteFile | FlyteDirectory]:
        """The files and directories directly inside, as ``FlyteFile`` and ``FlyteDirectory``."""
        context = _context()
        fs, base = storage.filesystem_for(self._path, context.storage_options)
        with storage.storage_errors("list", self._path, context.storage_options):
            entries = fs.ls(base, detail=True)
        children: list[FlyteFile | FlyteDirectory] = []
        for entry in sorted(entries, key=lambda e: e["name"]):
            name = entry["name"].rstrip("/").rsplit("/", 1)[-1]
            child = storage.join(self._path, name)
            children.append(FlyteDirectory(child) if entry.get("type") == "directory" else FlyteFile(child))
        return children

    def new_file(self, name: str) -> FlyteFile:
        """A file at ``name`` (may hold ``/``) inside this directory; write it with ``.open("wb")``."""
        return FlyteFile(storage.join(self._path, name))

    def new_dir(self, name: str) -> FlyteDirectory:
        return FlyteDirectory(storage.join(self._path, name))

    @classmethod
    def new_remote(cls, name: str | None = None) -> FlyteDirectory:
        """A new, empty directory under the current run's raw output prefix."""
        return cls(_new_location(name))
