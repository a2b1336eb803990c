"""FlyteFile / FlyteDirectory <-> Flyte blob literals.

LiteralType ``{"blob": {"format": "csv", "dimensionality": "SINGLE"}}`` (``MULTIPART`` for a directory); Literal
``{"scalar": {"blob": {"metadata": {"type": <the inner BlobType>}, "uri": "..."}}}``. As a task's output, data on
local disk is uploaded under the run's raw output prefix first (``engine.roundtrip(..., output=True)``); otherwise
values are referenced where they are, never copied.
"""

from __future__ import annotations

import os
from typing import Any

from flyrun.data import fs as storage
from flyrun.data import transfer
from flyrun.sdk.context import current_context
from flyrun.types.registry import TypeMismatch, TypeTransformer, producing_outputs


def _kind(python_type: Any) -> str:
    return "directory" if python_type.dimensionality == "MULTIPART" else "file"


class BlobTransformer(TypeTransformer):
    name = "blob"

    def matches(self, python_type: Any) -> bool:
        return isinstance(python_type, type) and hasattr(python_type, "dimensionality")

    def literal_type(self, python_type: Any) -> dict:
        return {"blob": {"format": python_type.extension, "dimensionality": python_type.dimensionality}}

    def describe(self, python_type: Any) -> str:
        return python_type.__name__

    def to_literal(self, value: Any, python_type: Any) -> dict:
        stored = self._coerce(value, python_type)
        uri = self._store(stored, python_type) if producing_outputs() else _literal_uri(stored.path)
        # BlobMetadata.type is the BlobType itself, not the LiteralType that wraps it.
        return {"scalar": {"blob": {"metadata": {"type": self.literal_type(python_type)["blob"]}, "uri": uri}}}

    def to_python(self, literal: dict, python_type: Any) -> Any:
        try:
            uri = literal["scalar"]["blob"]["uri"]
        except (KeyError, TypeError):
            raise TypeMismatch(f"literal {literal!r} is not a blob") from None
        return python_type(uri)

    def check(self, value: Any, python_type: Any) -> None:
        self._coerce(value, python_type)

    def from_text(self, text: str, python_type: Any) -> Any:
        return self.from_json(text, python_type)

    def from_json(self, value: Any, python_type: Any) -> Any:
        """A local path (which must exist, and be a file or a directory as declared) or a URI."""
        if isinstance(value, python_type):
            return value
        if isinstance(value, dict) and set(value) == {"path"}:
            value = value["path"]  # the form flytekit writes inside a dataclass or model
        if not isinstance(value, str) or not value.strip():
            raise TypeMismatch(f"expected a path or URI for {python_type.__name__}, got {value!r}")
        location = storage.normalize(value.strip())
        if storage.is_local(location):
            _check_local(location, python_type, value)
            return python_type(os.path.abspath(location))
        _check_protocol(location)
        return python_type(location)

    def to_json(self, value: Any, python_type: Any) -> str:
        return str(value.path) if hasattr(value, "path") else os.fspath(value)

    def to_payload(self, value: Any, python_type: Any) -> dict:
        # flytekit's FlyteFile/FlyteDirectory inside a dataclass or model: {"path": <the blob literal's uri>}.
        return {"path": self.to_literal(value, python_type)["scalar"]["blob"]["uri"]}

    def from_payload(self, value: Any, python_type: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("path"), str):
            return python_type(value["path"])
        if isinstance(value, str):
            return python_type(value)
        raise TypeMismatch(f"expected {{'path': ...}} for {python_type.__name__}, got {value!r}")

    def _coerce(self, value: Any, python_type: Any) -> Any:
        if isinstance(value, python_type):
            return value
        if isinstance(value, (str, os.PathLike)) and not hasattr(value, "dimensionality"):
            return python_type(value)
        if hasattr(value, "dimensionality") and value.dimensionality == python_type.dimensionality:
            return python_type(value.path, value.remote_path if not value.is_remote else None)
        raise TypeMismatch(f"expected {python_type.__name__} (or a path), got {type(value).__name__} {value!r}")

    def _store(self, value: Any, python_type: Any) -> str:
        """The URI a task's output is recorded under: uploaded first if its data is on local disk outside the
        raw output prefix, or if it names a remote_path of its own."""
        if value.is_remote:
            return value.path

        context = current_context().ensure_storage()
        local = os.path.abspath(value.path)
        kind = _kind(python_type)
        if not os.path.exists(local) and kind == "directory" and _within(local, context.raw_output_prefix):
            os.makedirs(local, exist_ok=True)  # made with new_remote() and left empty: an empty directory
        _check_local(local, python_type, value.path)
        destination = value.remote_path
        if destination is None:
            if _within(local, context.raw_output_prefix):
                return local
            destination = _destination(context.raw_output_prefix, local, kind)

        upload = transfer.upload_directory if kind == "directory" else transfer.upload_file
        with storage.storage_errors(f"upload {kind}", value.path, context.storage_options):
            upload(local, destination, context)
        return _literal_uri(destination)


def _destination(prefix: str, local: str, kind: str) -> str:
    import secrets
    import tempfile

    prefix = prefix or tempfile.mkdtemp(prefix="flyrun-raw-")
    unique = secrets.token_hex(8)
    if kind == "directory":
        return storage.join(prefix, unique)
    return storage.join(prefix, unique, os.path.basename(local))


def _literal_uri(path: str) -> str:
    return os.path.abspath(path) if storage.is_local(path) else path


def _within(path: str, prefix: str) -> bool:
    if not prefix or not storage.is_local(prefix):
        return False
    root = os.path.realpath(storage.normalize(prefix))
    try:
        return os.path.commonpath([os.path.realpath(path), root]) == root
    except ValueError:
        return False


def _check_local(location: str, python_type: Any, shown: Any) -> None:
    kind = _kind(python_type)
    if not os.path.exists(location):
        raise TypeMismatch(f"local {kind} {shown} does not exist")
    if kind == "file" and os.path.isdir(location):
        raise TypeMismatch(f"{shown} is a directory; {python_type.__name__} takes a file (use FlyteDirectory)")
    if kind == "directory" and not os.path.isdir(location):
        raise TypeMismatch(f"{shown} is not a directory; {python_type.__name__} takes a directory")


def _check_protocol(uri: str) -> None:
    import fsspec

    protocol = storage.protocol_of(uri)
    if protocol not in fsspec.available_protocols():
        raise TypeMismatch(f"{uri}: unknown storage scheme {protocol}://; use a local path, s3:// or gs://")
