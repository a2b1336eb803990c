"""The wire format FlyteAdmin's REST gateway speaks: strict protojson in, protojson with every field out,
and ``google.rpc.Status``-shaped errors with gRPC codes mapped to HTTP statuses.
"""

from __future__ import annotations

import enum
from typing import Any, TypeVar

from google.protobuf.message import Message

M = TypeVar("M", bound=Message)


class Code(enum.IntEnum):
    """gRPC status codes, with the HTTP status grpc-gateway maps each to."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS[self]


_HTTP_STATUS = {
    Code.OK: 200, Code.CANCELLED: 499, Code.UNKNOWN: 500, Code.INVALID_ARGUMENT: 400,
    Code.DEADLINE_EXCEEDED: 504, Code.NOT_FOUND: 404, Code.ALREADY_EXISTS: 409, Code.PERMISSION_DENIED: 403,
    Code.RESOURCE_EXHAUSTED: 429, Code.FAILED_PRECONDITION: 400, Code.ABORTED: 409, Code.OUT_OF_RANGE: 400,
    Code.UNIMPLEMENTED: 501, Code.INTERNAL: 500, Code.UNAVAILABLE: 503, Code.DATA_LOSS: 500,
    Code.UNAUTHENTICATED: 401,
}


class ApiError(Exception):
    """An error answered as FlyteAdmin answers it: ``{"code": <int>, "message": ..., "details": []}``."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"code": int(self.code), "message": self.message, "details": []}


def invalid(message: str) -> ApiError:
    return ApiError(Code.INVALID_ARGUMENT, message)


def missing(field: str) -> ApiError:
    """FlyteAdmin's wording for an empty required field."""
    return ApiError(Code.INVALID_ARGUMENT, f"missing {field}")


def parse(body: bytes | str, message: M) -> M:
    """Fill ``message`` from a JSON body exactly as FlyteAdmin's gateway would: unknown fields are errors.

    An empty body is an empty message (grpc-gateway treats EOF so); anything that is not valid protojson is
    INVALID_ARGUMENT.
    """
    from google.protobuf import json_format

    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    if not text.strip():
        return message
    if not text.lstrip().startswith("{"):  # json_format accepts a bare array or number; protojson does not
        raise invalid("invalid request body: expected a JSON object")
    try:
        json_format.Parse(text, message, ignore_unknown_fields=False)
    except json_format.ParseError as error:
        raise invalid(f"invalid request body: {error}") from None
    except (ValueError, TypeError, RecursionError) as error:
        raise invalid(f"invalid request body: {error}") from None
    return message


# Binary protobuf bodies: the types protobuf HTTP clients use, and ``application/octet-stream``, which FlyteAdmin's
# gateway maps to its protobuf marshaler. Advertised on every API answer in ``Accept-Post``.
BINARY_TYPES = ("application/x-protobuf", "application/protobuf", "application/octet-stream")
ACCEPT_POST = ", ".join(("application/json", *BINARY_TYPES))


def body_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_binary(body: bytes, message: M) -> M:
    """Fill ``message`` from its binary form, as strictly as ``parse``: fields this message does not have are
    INVALID_ARGUMENT (protobuf would keep them silently as unknown fields)."""
    from google.protobuf.message import DecodeError

    if not body:
        return message
    try:
        message.ParseFromString(body)
    except (DecodeError, RecursionError, ValueError) as error:
        raise invalid(f"invalid request body: not a binary {message.DESCRIPTOR.full_name}: {error}") from None
    # Finding unknown fields means walking every sub-message in Python; comparing sizes without them is C speed.
    stripped = type(message)()
    stripped.CopyFrom(message)
    stripped.DiscardUnknownFields()
    if stripped.ByteSize() != message.ByteSize():
        where = _unknown_field(message, message.DESCRIPTOR.name) or message.DESCRIPTOR.full_name
        raise invalid(f"invalid request body: {where} has a field this server does not know")
    return message


def _unknown_field(message: Any, path: str) -> str | None:
    """The dotted path and number of the first unknown field in ``message`` (depth first), or None."""
    from google.protobuf import unknown_fields

    found = unknown_fields.UnknownFieldSet(message)
    if len(found):
        return f"{path} (field number {found[0].field_number})"
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if _is_map(field):
            items = value.values() if field.message_type.fields_by_name["value"].message_type else ()
        else:
            items = value if _is_repeated(field) else (value,)
        for index, item in enumerate(items):
            hit = _unknown_field(item, f"{path}.{field.name}" + (f"[{index}]" if _is_repeated(field) else ""))
            if hit:
                return hit
    return None


def emit(message: Any) -> dict[str, Any]:
    """protojson with proto field names and unpopulated fields, as FlyteAdmin renders every response.

    Go's ``EmitUnpopulated`` writes ``null`` for an unset singular message field outside any oneof; Python's
    ``always_print_fields_with_no_presence`` leaves those out, so they are added here.
    """
    from google.protobuf import json_format

    document = json_format.MessageToDict(message, preserving_proto_field_name=True,
                                         always_print_fields_with_no_presence=True)
    _add_nulls(message, document)
    return document


def _add_nulls(message: Any, document: dict[str, Any]) -> None:
    descriptor = message.DESCRIPTOR
    if descriptor.full_name.startswith("google.protobuf."):
        return
    for field in descriptor.fields:
        if field.message_type is None:
            continue
        value = getattr(message, field.name)
        if _is_map(field):
            entry_value = field.message_type.fields_by_name["value"]
            if entry_value.message_type is not None:
                for key, item in value.items():
                    _add_nulls(item, document[field.name][str(key)])
        elif _is_repeated(field):
            for item, rendered in zip(value, document.get(field.name, [])):
                if isinstance(rendered, dict):
                    _add_nulls(item, rendered)
        elif message.HasField(field.name):
            rendered = document.get(field.name)
            if isinstance(rendered, dict):
                _add_nulls(value, rendered)
        elif field.containing_oneof is None:
            document[field.name] = None


def _is_repeated(field: Any) -> bool:
    is_repeated = getattr(field, "is_repeated", None)
    if is_repeated is not None:
        return bool(is_repeated)
    return field.label == field.LABEL_REPEATED


def _is_map(field: Any) -> bool:
    return _is_repeated(field) and field.message_type.GetOptions().map_entry


def set_field(message: Any, path: str, text: str) -> None:
    """Set ``a.b.c`` on a request from a path or query parameter, as grpc-gateway does.

    Unknown names are ignored (grpc-gateway logs and skips them); a value of the wrong type is INVALID_ARGUMENT.
    """
    *parents, leaf = path.split(".")
    target = message
    for name in parents:
        field = target.DESCRIPTOR.fields_by_name.get(name)
        if field is None or field.message_type is None or _is_repeated(field):
            return
        target = getattr(target, name)
    field = target.DESCRIPTOR.fields_by_name.get(leaf)
    if field is None or field.message_type is not None:
        return
    value = _scalar_from_text(field, text, path)
    try:
        if _is_repeated(field):
            getattr(target, leaf).append(value)
        else:
            setattr(target, leaf, value)
    except (ValueError, TypeError):  # a number outside the field's range (limit=99999999999)
        raise invalid(f"invalid value {text!r} for parameter {path}: out of range") from None


def _scalar_from_text(field: Any, text: str, path: str) -> Any:
    from google.protobuf.descriptor import FieldDescriptor as F

    try:
        if field.type == F.TYPE_ENUM:
            by_name = field.enum_type.values_by_name.get(text)
            return by_name.number if by_name is not None else field.enum_type.values_by_number[int(text)].number
        if field.type == F.TYPE_BOOL:
            if text not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return text in ("true", "1")
        if field.type in (F.TYPE_FLOAT, F.TYPE_DOUBLE):
            return float(text)
        if field.type == F.TYPE_STRING:
            return text
        if field.type == F.TYPE_BYTES:
            import base64

            return base64.b64decode(text)
        number = int(text)
        unsigned = field.type in (F.TYPE_UINT32, F.TYPE_UINT64, F.TYPE_FIXED32, F.TYPE_FIXED64)
        if unsigned and number < 0:
            raise ValueError(text)
        return number
    except (ValueError, KeyError):
        raise invalid(f"invalid value {text!r} for parameter {path}") from None


def id_text(message: Any) -> str:
    """An identifier as FlyteAdmin prints one in messages: ``project:"p" domain:"d" name:"n"``."""
    from google.protobuf import text_format

    return text_format.MessageToString(message, as_one_line=True)


def stamp(timestamp: Any, seconds: float) -> None:
    timestamp.FromNanoseconds(int(seconds * 1e9))


def load(message: M, data: bytes | None) -> M:
    """A message from its stored binary form (an empty message for None)."""
    if data:
        message.ParseFromString(data)
    return message


def dump(message: Any) -> bytes:
    """Binary form with map entries sorted, so equal messages give equal bytes (used for digests)."""
    return message.SerializeToString(deterministic=True)
