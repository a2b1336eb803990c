"""The type engine: Python type <-> Flyte ``LiteralType`` and Python value <-> Flyte ``Literal``.

This is the module the rest of flyrun imports. The registry and the dispatch live in ``registry.py``; importing
this module also loads the built-in families, which register themselves there (in this order: scalars,
containers, structs; ``Annotated`` first and the pickle fallback last whatever the order). Families import
``registry``, never this module, so the imports point one way: engine -> families -> registry.

Literal types and literals are plain dicts in protojson form (snake_case, int64 as strings), so the IDL layer can
parse them straight into flyteidl messages and local runs never import protobuf.
"""

from __future__ import annotations

from flyrun.types import annotated, containers, pickles, scalars, structs  # noqa: F401  (they register themselves)
from flyrun.types.registry import (
    MSGPACK_ANNOTATION,
    TypeMismatch,
    TypeTransformer,
    _is_union_type,
    _strip,
    annotated_transformer,
    check,
    describe,
    fit,
    from_json,
    from_payload,
    from_text,
    is_assignable,
    literal_is_reusable,
    literal_type,
    local_blobs_exist,
    msgpack_literal,
    producing_outputs,
    register,
    register_custom,
    roundtrip,
    struct_payload,
    to_json,
    to_literal,
    to_payload,
    to_python,
    transformer_for,
)

__all__ = ["MSGPACK_ANNOTATION", "TypeMismatch", "TypeTransformer", "_is_union_type", "_strip",
           "annotated_transformer", "check", "describe", "fit", "from_json", "from_payload", "from_text",
           "is_assignable", "literal_is_reusable", "literal_type", "local_blobs_exist", "msgpack_literal",
           "producing_outputs", "register", "register_custom", "roundtrip", "struct_payload", "to_json",
           "to_literal", "to_payload", "to_python", "transformer_for"]
