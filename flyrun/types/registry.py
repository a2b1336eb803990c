"""The transformer registry and the dispatch over it: ``TypeTransformer``, ``register``, ``transformer_for`` and
the conversions that go through it (``to_literal``, ``describe``...).

The families (``scalars``, ``containers``, ``structs``, ``annotated``, ``pickles``, the optional ones) import this
module and register themselves; they call back into the dispatch here for the types inside theirs (a list's
items). Nothing here imports a family by name, except the optional ones, by module name on first need, so the
direction is one-way. Code outside ``flyrun.types`` imports ``flyrun.types.engine``, which loads the built-in
families before anyone converts a value.

Literal types and literals are plain dicts in protojson form (snake_case, int64 as strings), so the IDL layer can
parse them straight into flyteidl messages and local runs never import protobuf.
"""

from __future__ import annotations

import contextvars
import typing
from typing import Any


class TypeMismatch(ValueError):
    """A value does not fit a type, or a type is not supported; the message says which and why."""


class TypeTransformer:
    """One family of Python types. Subclasses override what their family needs."""

    name = "type"

    def matches(self, python_type: Any) -> bool:
        raise NotImplementedError

    def literal_type(self, python_type: Any) -> dict:
        raise NotImplementedError

    def to_literal(self, value: Any, python_type: Any) -> dict:
        raise NotImplementedError

    def to_python(self, literal: dict, python_type: Any) -> Any:
        raise NotImplementedError

    def from_text(self, text: str, python_type: Any) -> Any:
        """A value typed on the command line."""
        return self.from_json(_parse_structured_text(text, describe(python_type)), python_type)

    def from_json(self, value: Any, python_type: Any) -> Any:
        """A value from JSON or YAML (an inputs file, or structured text on the command line)."""
        return value

    def to_json(self, value: Any, python_type: Any) -> Any:
        """A JSON-ready rendering of a value, for ``-o json`` and for readable output."""
        return value

    def to_payload(self, value: Any, python_type: Any) -> Any:
        """The value as a field of a msgpack struct (a dataclass or pydantic model), as flytekit 1.16 writes it:
        plain JSON-like data; files as ``{"path": uri}``, datasets as ``{"uri": ..., "file_format": ...}``."""
        self.check(value, python_type)
        return self.to_json(value, python_type)

    def from_payload(self, value: Any, python_type: Any) -> Any:
        return self.from_json(value, python_type)

    def fit(self, value: Any, python_type: Any) -> Any:
        """A value handed from one task to the next, as the receiving task's Python type: locally values (not
        literals) flow between tasks, and a literal type may have several Python types (a data frame and a
        ``StructuredDataset``). By default the value as it is."""
        return value

    def describe(self, python_type: Any) -> str:
        return getattr(python_type, "__name__", str(python_type))

    def check(self, value: Any, python_type: Any) -> None:
        """Raise TypeMismatch unless value fits; by default, converting to a literal is the check."""
        self.to_literal(value, python_type)

    def literal_is_reusable(self, literal: dict, python_type: Any) -> bool:
        """Whether a literal stored earlier (by the task cache) still stands for its value.

        By default: every local file or folder it points at still exists. A family whose literals point elsewhere
        (remote files) can override this with a check of its own.
        """
        return local_blobs_exist(literal)


_TRANSFORMERS: list[TypeTransformer] = []
# Users' transformers (flyrun.extend.TypeEngine.register): asked first, so they can take over any type.
_CUSTOM: list[TypeTransformer] = []
# Families whose types live in optional libraries (pydantic, pandas, numpy): they match by looking at a type's
# module and class names, so no library is imported until a value of its type is converted.
_LAZY: list[TypeTransformer] = []


def register(transformer_class: type[TypeTransformer]) -> type[TypeTransformer]:
    _TRANSFORMERS.append(transformer_class())
    return transformer_class


def register_custom(transformer: TypeTransformer) -> None:
    _CUSTOM.insert(0, transformer)


# Set by ``annotated.py`` and ``pickles.py`` when they load: ``Annotated[T, ...]`` is asked before anything else
# (the alias forwards attribute lookups to ``T``), the pickle fallback after everything else.
_ANNOTATED: list[TypeTransformer] = []
_FALLBACK: list[TypeTransformer] = []


def register_annotated(transformer_class: type[TypeTransformer]) -> type[TypeTransformer]:
    _ANNOTATED[:] = [transformer_class()]
    return transformer_class


def register_fallback(transformer_class: type[TypeTransformer]) -> type[TypeTransformer]:
    _FALLBACK[:] = [transformer_class()]
    return transformer_class


# The optional families' modules, imported the first time a type gets past the built-in ones: a run of ints and
# strings never loads them.
_LAZY_FAMILIES = (("flyrun.types.models", "PydanticTransformer"),
                  ("flyrun.types.structured.dataset", "StructuredDatasetTransformer"),
                  ("flyrun.types.numpy_type", "NumpyTransformer"),
                  ("flyrun.types.tensorflow", "KerasModelTransformer"),
                  ("flyrun.types.tensorflow", "TFRecordTransformer"),
                  ("flyrun.types.tensorflow", "TensorTransformer"))


def _lazy_families() -> list[TypeTransformer]:
    if not _LAZY:
        import importlib

        _LAZY.extend(getattr(importlib.import_module(module), name)() for module, name in _LAZY_FAMILIES)
    return _LAZY


def transformer_for(python_type: Any) -> TypeTransformer:
    if _ANNOTATED and typing.get_origin(python_type) is typing.Annotated:
        # Checked first: an Annotated alias forwards attribute lookups (__flyrun_transformer__) to its inner type.
        return _ANNOTATED[0]
    own = getattr(python_type, "__flyrun_transformer__", None)
    if own is not None:
        return own()
    for transformer in _CUSTOM + _TRANSFORMERS:
        if transformer.matches(python_type):
            return transformer
    for transformer in _lazy_families():
        if transformer.matches(python_type):
            return transformer
    for transformer in _FALLBACK:
        if transformer.matches(python_type):
            # flytekit's fallback: a class no transformer knows travels as a pickle (FlytePickle).
            return transformer
    raise TypeMismatch(f"type {describe(python_type)} is not supported")


def annotated_transformer(python_type: Any) -> TypeTransformer | None:
    """The transformer that takes an ``Annotated[T, ...]`` type whole (a dataset's columns), if one does."""
    for transformer in _CUSTOM + _lazy_families():
        if transformer.matches(python_type):
            return transformer
    return None


def literal_type(python_type: Any) -> dict:
    return transformer_for(python_type).literal_type(python_type)


def to_literal(value: Any, python_type: Any) -> dict:
    return transformer_for(python_type).to_literal(value, python_type)


def to_python(literal: dict, python_type: Any) -> Any:
    return transformer_for(python_type).to_python(literal, python_type)


def from_text(text: str, python_type: Any) -> Any:
    return transformer_for(python_type).from_text(text, python_type)


def from_json(value: Any, python_type: Any) -> Any:
    return transformer_for(python_type).from_json(value, python_type)


def to_json(value: Any, python_type: Any) -> Any:
    if value is None:
        return None
    return transformer_for(python_type).to_json(value, python_type)


def fit(value: Any, python_type: Any) -> Any:
    if value is None:
        return None
    return transformer_for(python_type).fit(value, python_type)


def to_payload(value: Any, python_type: Any) -> Any:
    if value is None:
        return None
    return transformer_for(python_type).to_payload(value, python_type)


def from_payload(value: Any, python_type: Any) -> Any:
    return transformer_for(python_type).from_payload(value, python_type)


MSGPACK_ANNOTATION = {"annotations": {"cache-key-metadata": {"serialization-format": "msgpack"}}}


def msgpack_literal(payload: Any) -> dict:
    """flytekit 1.16's default literal of a dataclass, a pydantic model or an untyped dict."""
    import base64

    import msgpack

    data = msgpack.packb(payload, use_bin_type=True)
    return {"scalar": {"binary": {"value": base64.b64encode(data).decode("ascii"), "tag": "msgpack"}}}


def struct_payload(literal: dict, what: str) -> tuple[Any, bool]:
    """The data of a struct literal, either form: msgpack ``binary`` (True) or a protobuf Struct ``generic``
    (False; flytekit's older form, also what ``FLYTE_USE_OLD_DC_FORMAT=true`` writes)."""
    scalar = literal.get("scalar") if isinstance(literal, dict) else None
    scalar = scalar or {}
    binary = scalar.get("binary")
    if isinstance(binary, dict):
        if binary.get("tag", "msgpack") != "msgpack":
            raise TypeMismatch(f"{what}: binary literal tagged {binary.get('tag')!r}, expected msgpack")
        import base64

        import msgpack

        raw = binary.get("value", "")
        data = base64.b64decode(raw) if isinstance(raw, str) else bytes(raw)
        try:
            return msgpack.unpackb(data, raw=False, strict_map_key=False), True
        except Exception as exc:
            raise TypeMismatch(f"{what}: msgpack data does not decode: {exc}") from None
    if "generic" in scalar:
        return scalar["generic"], False
    raise TypeMismatch(f"literal {literal!r} is not a struct (msgpack binary or generic)")


def check(value: Any, python_type: Any) -> None:
    transformer_for(python_type).check(value, python_type)


def literal_is_reusable(literal: dict, python_type: Any) -> bool:
    return transformer_for(python_type).literal_is_reusable(literal, python_type)


def local_blobs_exist(literal: Any) -> bool:
    """False if the literal, at any depth, is a blob whose URI is a local path that no longer exists."""
    if not isinstance(literal, dict):
        return True
    scalar = literal.get("scalar") or {}
    uri = (scalar.get("blob") or {}).get("uri")
    if isinstance(uri, str):
        import os

        path = uri[len("file://"):] if uri.startswith("file://") else uri
        if "://" not in path and not os.path.exists(path):
            return False
    nested = [(scalar.get("union") or {}).get("value")]
    nested += (literal.get("collection") or {}).get("literals", [])
    nested += list(((literal.get("map") or {}).get("literals") or {}).values())
    return all(local_blobs_exist(item) for item in nested if item is not None)


# True while a task's own results are turned into literals (see ``roundtrip(..., output=True)``).
_PRODUCING_OUTPUTS: contextvars.ContextVar[bool] = contextvars.ContextVar("flyrun_producing_outputs", default=False)


def roundtrip(value: Any, python_type: Any, *, output: bool = False) -> Any:
    """Pass a value through its literal form, as it would cross a task boundary on a cluster.

    ``output=True`` when a task hands back what it produced: transformers may then store data (a file on local disk
    goes under the run's raw output prefix); otherwise values are only referenced, never copied.
    """
    token = _PRODUCING_OUTPUTS.set(output)
    try:
        return to_python(to_literal(value, python_type), python_type)
    finally:
        _PRODUCING_OUTPUTS.reset(token)


def producing_outputs() -> bool:
    """Whether the literal being built is a task's output (see ``roundtrip``)."""
    return _PRODUCING_OUTPUTS.get()


def describe(python_type: Any) -> str:
    """A readable name for a type: ``int``, ``List[int]``, ``Optional[Point]``."""
    if python_type is type(None):
        return "None"
    origin = typing.get_origin(python_type)
    if origin is None:
        return getattr(python_type, "__name__", str(python_type).replace("typing.", ""))
    if origin is typing.Annotated:
        return transformer_for(python_type).describe(python_type)
    args = typing.get_args(python_type)
    if origin is typing.Union or _is_union_type(origin):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and len(args) == 2:
            return f"Optional[{describe(rest[0])}]"
        return "Union[" + ", ".join(describe(a) for a in args) + "]"
    names = {list: "List", dict: "Dict"}
    base = names.get(origin, getattr(origin, "__name__", str(origin)))
    return f"{base}[" + ", ".join(describe(a) for a in args) + "]"


def _is_union_type(origin: Any) -> bool:
    import types

    return origin is getattr(types, "UnionType", None)


def is_assignable(source: dict, target: dict) -> bool:
    """Whether a value of literal type ``source`` can bind to an input of literal type ``target``."""
    if _strip(source) == _strip(target):
        return True
    if "blob" in source and "blob" in target:
        return _blob_assignable(source["blob"], target["blob"])
    if "structured_dataset_type" in source and "structured_dataset_type" in target:
        return _dataset_assignable(source["structured_dataset_type"], target["structured_dataset_type"])
    variants = target.get("union_type", {}).get("variants")
    if variants:
        return any(is_assignable(source, variant) for variant in variants)
    if "collection_type" in source and "collection_type" in target:
        return is_assignable(source["collection_type"], target["collection_type"])
    if "map_value_type" in source and "map_value_type" in target:
        return is_assignable(source["map_value_type"], target["map_value_type"])
    if source.get("simple") == "NONE" and "union_type" in target:
        return True
    return False


def _blob_assignable(source: dict, target: dict) -> bool:
    # As in Flyte's type checker: a blob without a format fits any format of the same dimensionality.
    if source.get("dimensionality", "SINGLE") != target.get("dimensionality", "SINGLE"):
        return False
    return not source.get("format") or not target.get("format") or source["format"] == target["format"]


def _dataset_assignable(source: dict, target: dict) -> bool:
    # As Flyte's checker: no columns on either side fit anything; else every column the target reads must be
    # among the source's, with the same type. Formats must agree only when both sides name one.
    if source.get("format") and target.get("format") and source["format"] != target["format"]:
        return False
    source_columns = {c.get("name"): c.get("literal_type") for c in source.get("columns") or []}
    target_columns = target.get("columns") or []
    if not source_columns or not target_columns:
        return True
    return all(c.get("name") in source_columns and source_columns[c.get("name")] == c.get("literal_type")
               for c in target_columns)


def _strip(literal_type_dict: dict) -> dict:
    # Union variants carry a structure tag; it does not change what a value is.
    return {k: v for k, v in literal_type_dict.items() if k not in ("structure", "metadata")}


def _parse_structured_text(text: str, type_name: str) -> Any:
    import json

    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        import yaml

        return yaml.safe_load(text)
    except Exception:
        raise TypeMismatch(f"{text!r} is not valid JSON or YAML for {type_name}") from None
