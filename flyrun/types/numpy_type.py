"""``numpy.ndarray`` as flytekit stores it: a blob of format ``NumpyArray`` holding one ``.npy`` file
(``numpy.save``, no pickles). numpy is an optional extra, imported only when an array is converted."""

from __future__ import annotations

from typing import Any

from flyrun.data import fs as storage
from flyrun.data import transfer
from flyrun.types.registry import TypeMismatch, TypeTransformer
from flyrun.types.structured.dataset import _context, require

FORMAT = "NumpyArray"


def is_ndarray(python_type: Any) -> bool:
    return isinstance(python_type, type) and python_type.__module__ == "numpy" and python_type.__name__ == "ndarray"


class NumpyTransformer(TypeTransformer):
    name = "numpy"

    def matches(self, python_type: Any) -> bool:
        return is_ndarray(python_type)

    def literal_type(self, python_type: Any) -> dict:
        return {"blob": {"format": FORMAT}}

    def describe(self, python_type: Any) -> str:
        return "ndarray"

    def check(self, value: Any, python_type: Any) -> None:
        if not isinstance(value, python_type):
            raise TypeMismatch(f"expected a numpy ndarray, got {type(value).__name__}")

    def to_literal(self, value: Any, python_type: Any) -> dict:
        self.check(value, python_type)
        import secrets

        numpy = require("numpy", "storing a numpy array")
        context = _context()
        prefix = context.raw_output_prefix
        if not prefix:
            import tempfile

            prefix = tempfile.mkdtemp(prefix="flyrun-raw-")
        uri = storage.join(prefix, secrets.token_hex(16), "array.npy")
        with transfer.open_for_write(uri, context) as writer:
            try:
                numpy.save(writer, value, allow_pickle=False)
            except ValueError as exc:
                raise TypeMismatch(f"this array cannot be stored without pickling (dtype {value.dtype}): "
                                   f"{exc}") from None
        return {"scalar": {"blob": {"metadata": {"type": {"format": FORMAT}}, "uri": uri}}}

    def to_python(self, literal: dict, python_type: Any) -> Any:
        try:
            uri = literal["scalar"]["blob"]["uri"]
        except (KeyError, TypeError):
            raise TypeMismatch(f"literal {literal!r} is not a numpy blob") from None

        numpy = require("numpy", "reading a numpy array")
        with transfer.open_for_read(uri, _context()) as reader:
            return numpy.load(reader, allow_pickle=False)

    def from_json(self, value: Any, python_type: Any) -> Any:
        numpy = require("numpy", "reading a numpy array")
        if isinstance(value, numpy.ndarray):
            return value
        if isinstance(value, str) and value.endswith(".npy"):
            return self.to_python({"scalar": {"blob": {"uri": value}}}, python_type)
        if isinstance(value, list):
            return numpy.asarray(value)
        raise TypeMismatch(f"expected a JSON list or a .npy path for an ndarray, got {value!r}")

    def to_json(self, value: Any, python_type: Any) -> Any:
        return value.tolist()
