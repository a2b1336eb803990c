"""Registration bodies as binary protobuf, for servers that say they take it (``flyrun sandbox`` does).

A 10,000-node workflow is a 2.7 MiB protojson body; parsing that with protobuf's pure-Python ``json_format`` is
most of what registering it costs a server, while the binary form parses in C in milliseconds. A server lists the
body types it takes in an ``Accept-Post`` header on its API answers; FlyteAdmin's gateway does not, so it keeps
getting JSON.
"""

from __future__ import annotations

from typing import Any

BINARY_TYPE = "application/x-protobuf"
_MESSAGES = {"TASK": ("flyteidl.admin.task_pb2", "TaskCreateRequest"),
             "WORKFLOW": ("flyteidl.admin.workflow_pb2", "WorkflowCreateRequest"),
             "LAUNCH_PLAN": ("flyteidl.admin.launch_plan_pb2", "LaunchPlanCreateRequest")}


def takes_protobuf(accept_post: str | None) -> bool:
    kinds = {part.split(";", 1)[0].strip().lower() for part in (accept_post or "").split(",")}
    return BINARY_TYPE in kinds


def create_request(resource_type: str, body: dict[str, Any]) -> bytes | None:
    """The binary ``<Entity>CreateRequest`` for ``body`` (protojson as a dict), or None when it cannot be made
    here (flyteidl missing, or a body flyteidl refuses: then the JSON body goes, and the server names the fault)."""
    import importlib

    target = _MESSAGES.get(resource_type)
    if target is None:
        return None
    try:
        from google.protobuf import json_format

        message = getattr(importlib.import_module(target[0]), target[1])()
    except ImportError:
        return None
    try:
        fill(message, body)
    except (_Unusual, ValueError, TypeError, KeyError, AttributeError):
        message.Clear()  # anything the fast path does not know: json_format decides (and names what is wrong)
        try:
            json_format.ParseDict(body, message, ignore_unknown_fields=False)
        except (json_format.Error, ValueError, TypeError, RecursionError):
            return None
    return message.SerializeToString()


class _Unusual(Exception):
    """A value the fast path leaves to json_format."""


# descriptor full name -> {json key: (field, kind)}; kinds: "map", "messages", "scalars", "message", "scalar".
_FIELDS: dict[str, dict[str, tuple[Any, str]]] = {}
_WELL_KNOWN = "google.protobuf."


def _fields(descriptor: Any) -> dict[str, tuple[Any, str]]:
    known = _FIELDS.get(descriptor.full_name)
    if known is None:
        known = {}
        for field in descriptor.fields:
            repeated = getattr(field, "is_repeated", None)
            if repeated is None:
                repeated = field.label == field.LABEL_REPEATED
            if repeated and field.message_type is not None and field.message_type.GetOptions().map_entry:
                kind = "map"
            elif repeated:
                kind = "messages" if field.message_type is not None else "scalars"
            else:
                kind = "message" if field.message_type is not None else "scalar"
            known[field.name] = known[field.json_name] = (field, kind)
        _FIELDS[descriptor.full_name] = known
    return known


def fill(message: Any, data: Any) -> None:
    """Set ``message`` from protojson ``data`` (a dict) field by field: what ``json_format.ParseDict`` does for the
    plain messages a registration is made of, a few times faster. Well-known types (Struct, Duration, Timestamp,
    wrappers...) go to json_format; anything else unusual raises, and the caller lets json_format do it all."""
    from google.protobuf import json_format

    descriptor = message.DESCRIPTOR
    if descriptor.full_name.startswith(_WELL_KNOWN):
        json_format.ParseDict(data, message, ignore_unknown_fields=False)
        return
    if not isinstance(data, dict):
        raise _Unusual(descriptor.full_name)
    fields = _fields(descriptor)
    for key, value in data.items():
        field, kind = fields[key]
        if value is None:
            if field.message_type is not None and field.message_type.full_name == "google.protobuf.Value":
                raise _Unusual(key)  # null is a value there
            continue
        if kind == "scalar":
            setattr(message, field.name, _scalar(field, value))
        elif kind == "message":
            target = getattr(message, field.name)
            target.SetInParent()
            fill(target, value)
        elif kind == "scalars":
            getattr(message, field.name).extend([_scalar(field, item) for item in value])
        elif kind == "messages":
            target = getattr(message, field.name)
            for item in value:
                fill(target.add(), item)
        else:
            target = getattr(message, field.name)
            key_field = field.message_type.fields_by_name["key"]
            value_field = field.message_type.fields_by_name["value"]
            for item_key, item in value.items():
                map_key = item_key if key_field.type == key_field.TYPE_STRING else _scalar(key_field, item_key)
                if value_field.message_type is not None:
                    fill(target[map_key], item)
                else:
                    target[map_key] = _scalar(value_field, item)


def _scalar(field: Any, value: Any) -> Any:
    kind = field.type
    if kind == field.TYPE_STRING:
        if not isinstance(value, str):
            raise _Unusual(field.name)
        return value
    if kind == field.TYPE_ENUM:
        if isinstance(value, str):
            return field.enum_type.values_by_name[value].number
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _Unusual(field.name)
    if kind == field.TYPE_BOOL:
        if not isinstance(value, bool):
            raise _Unusual(field.name)
        return value
    if kind in (field.TYPE_DOUBLE, field.TYPE_FLOAT):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Unusual(field.name)  # "NaN", "Infinity" and friends
        return float(value)
    if kind == field.TYPE_BYTES:
        raise _Unusual(field.name)
    if isinstance(value, bool):
        raise _Unusual(field.name)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    raise _Unusual(field.name)
