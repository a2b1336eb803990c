"""The type engine: literal types and literals in Flyte's protojson shapes, and round trips."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from enum import Enum
from typing import Optional

import pytest

from flyrun.types import engine
from flyrun.types.scalars import format_duration, parse_duration


class Color(Enum):
    RED = "red"
    GREEN = "green"


@dataclass
class Point:
    x: int
    y: float


@dataclass
class Shape:
    name: str
    corners: list[Point]
    color: Color


LITERAL_TYPES = [
    (int, {"simple": "INTEGER"}),
    (float, {"simple": "FLOAT"}),
    (str, {"simple": "STRING"}),
    (bool, {"simple": "BOOLEAN"}),
    (dt.datetime, {"simple": "DATETIME"}),
    (dt.timedelta, {"simple": "DURATION"}),
    (Color, {"enum_type": {"values": ["red", "green"]}}),
    (list[int], {"collection_type": {"simple": "INTEGER"}}),
    (dict[str, list[float]], {"map_value_type": {"collection_type": {"simple": "FLOAT"}}}),
]


@pytest.mark.parametrize(("python_type", "expected"), LITERAL_TYPES)
def test_literal_types(python_type, expected):
    assert engine.literal_type(python_type) == expected


def test_optional_is_a_union_with_none():
    assert engine.literal_type(Optional[int]) == {"union_type": {"variants": [
        {"simple": "INTEGER", "structure": {"tag": "int"}}, {"simple": "NONE", "structure": {"tag": "none"}}]}}


def test_scalar_literals_use_protojson_forms():
    assert engine.to_literal(3, int) == {"scalar": {"primitive": {"integer": "3"}}}
    assert engine.to_literal(dt.timedelta(hours=1, milliseconds=5), dt.timedelta) == {
        "scalar": {"primitive": {"duration": "3600.005s"}}}
    when = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)
    assert engine.to_literal(when, dt.datetime) == {"scalar": {"primitive": {"datetime": "2024-05-01T12:00:00Z"}}}


ROUND_TRIPS = [
    (5, int), (2.5, float), ("héllo", str), (True, bool), (Color.GREEN, Color),
    (dt.timedelta(minutes=90), dt.timedelta), ([1, 2], list[int]), ({"a": [1.0]}, dict[str, list[float]]),
    (None, Optional[int]), (4, Optional[int]), (Point(1, 2.5), Point),
    (Shape("tri", [Point(0, 0.0), Point(1, 1.5)], Color.RED), Shape),
    ([Point(1, 1.0)], list[Point]),
]


@pytest.mark.parametrize(("value", "python_type"), ROUND_TRIPS)
def test_round_trip(value, python_type):
    assert engine.roundtrip(value, python_type) == value


def test_datetime_round_trip_is_utc():
    naive = dt.datetime(2024, 1, 2, 3, 4, 5, 600000)
    assert engine.roundtrip(naive, dt.datetime) == naive.replace(tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(("value", "python_type", "message"), [
    ("3", int, "expected int, got str '3'"),
    (True, int, "expected int, got bool True"),
    ([1, "x"], list[int], "item 1: expected int"),
    ({"a": "b"}, dict[str, int], "key 'a': expected int"),
    (Point(1, "no"), Point, "Point.y: expected float"),
    ("blue", Color, "'blue' is not one of red, green"),
])
def test_mismatches_name_what_and_where(value, python_type, message):
    with pytest.raises(engine.TypeMismatch, match=None) as info:
        engine.to_literal(value, python_type)
    assert message in str(info.value)


def test_durations_parse_human_forms():
    assert parse_duration("1h30m") == dt.timedelta(minutes=90)
    assert parse_duration("90") == dt.timedelta(seconds=90)
    assert parse_duration("250ms") == dt.timedelta(milliseconds=250)
    assert format_duration(dt.timedelta(seconds=3600)) == "3600s"
    with pytest.raises(engine.TypeMismatch):
        parse_duration("soon")


def test_assignability():
    assert engine.is_assignable(engine.literal_type(int), engine.literal_type(Optional[int]))
    assert not engine.is_assignable(engine.literal_type(str), engine.literal_type(int))
    assert not engine.is_assignable(engine.literal_type(Optional[int]), engine.literal_type(int))


def test_struct_ints_survive_json_floats():
    assert engine.from_json({"x": 1.0, "y": 2}, Point) == Point(1, 2.0)


def test_an_untyped_dict_is_a_struct_of_json():
    assert engine.literal_type(dict) == {"simple": "STRUCT", "annotation": engine.MSGPACK_ANNOTATION}
    value = {"a": [1, "two"], "b": {"c": None}}
    assert engine.struct_payload(engine.to_literal(value, dict), "dict") == (value, True)
    assert engine.to_python({"scalar": {"generic": value}}, dict) == value  # the older form still reads
    assert engine.roundtrip(value, dict) == value
    assert engine.from_text('{"k": 1}', dict) == {"k": 1}
    with pytest.raises(engine.TypeMismatch, match="expected a dict"):
        engine.from_json([1], dict)
    with pytest.raises(engine.TypeMismatch, match="must hold JSON values"):
        engine.to_literal({"when": dt.datetime(2024, 1, 1)}, dict)


def test_types_built_from_the_servers_literal_types_check_values_as_the_classes_would():
    """A name-only launch has only the server's interface: a dataclass's STRUCT (with its schema and structure),
    an enum, lists and maps of them, files."""
    from flyrun.data.files import FlyteFile
    from flyrun.idl.interface import python_type_for

    shape = python_type_for(engine.literal_type(Shape))
    assert engine.describe(shape) == "Shape"
    given = {"name": "s", "corners": [{"x": 1.0, "y": 2}], "color": "green"}
    assert engine.to_json(engine.from_json(given, shape), shape) == {
        "name": "s", "corners": [{"x": 1, "y": 2.0}], "color": "green"}
    literal = engine.to_literal(engine.from_json(given, shape), shape)
    assert literal == engine.to_literal(Shape("s", [Point(1, 2.0)], Color.GREEN), Shape)  # as the class writes it
    for bad, message in [({"name": "s", "corners": [], "colour": "red"}, "Shape has no field 'colour'"),
                         ({"name": "s", "corners": []}, "Shape needs field 'color'"),
                         ({**given, "color": "blue"}, "Shape.color: 'blue' is not one of red, green"),
                         ({**given, "corners": [{"x": "1", "y": 2}]}, r"Shape.corners: Point.x: expected int")]:
        with pytest.raises(engine.TypeMismatch, match=message):
            engine.from_json(bad, shape)

    many = python_type_for(engine.literal_type(dict[str, list[Shape]]))
    assert engine.describe(many) == "Dict[str, List[Shape]]"
    assert engine.to_json(engine.from_text(json.dumps({"k": [given]}), many), many)["k"][0]["color"] == "green"
    color = python_type_for(engine.literal_type(Color))
    assert engine.to_literal(engine.from_text("red", color), color) == engine.to_literal(Color.RED, Color)
    assert python_type_for({"blob": {"format": "csv", "dimensionality": "SINGLE"}}) is FlyteFile["csv"]


def test_a_struct_described_only_by_a_json_schema_with_refs():
    """flytekit's schemas: marshmallow's ``definitions`` and mashumaro's ``$defs``, referenced by ``$ref``."""
    from flyrun.idl.interface import python_type_for

    size = {"type": "object", "title": "Size", "required": ["w"], "properties": {"w": {"type": "integer"}}}
    tags = {"type": "array", "items": {"type": "string"}}
    box_schema = {"type": "object", "title": "Box", "required": ["size"],
                  "properties": {"size": {"$ref": "#/definitions/SizeSchema"}, "tags": tags, "any": {}}}
    schema = {"$ref": "#/definitions/BoxSchema", "definitions": {"BoxSchema": box_schema, "SizeSchema": size}}
    box = python_type_for({"simple": "STRUCT", "metadata": schema})
    given = {"size": {"w": 2.0}, "tags": ["a"], "any": [1]}
    assert engine.from_json(given, box) == {"size": {"w": 2}, "tags": ["a"], "any": [1]}
    with pytest.raises(engine.TypeMismatch, match="Box.size: Size needs field 'w'"):
        engine.from_json({"size": {}}, box)
    anything = python_type_for({"simple": "STRUCT"})
    assert engine.from_json({"free": 1}, anything) == {"free": 1}
