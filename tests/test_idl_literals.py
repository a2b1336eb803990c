"""Every type the type engine knows crosses flyteidl's messages and binary protobuf and comes back equal."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Dict, List, Optional

import pytest

from flyrun.idl import literals
from flyrun.types import engine


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Inner:
    n: int
    label: str


@dataclass
class Outer:
    inner: Inner
    weights: List[float]
    ratio: float
    flag: bool


CASES = [
    (int, -42),
    (int, 0),
    (float, 2.5),
    (str, "héllo"),
    (str, ""),
    (bool, False),
    (bool, True),
    (dt.datetime, dt.datetime(2024, 5, 1, 12, 30, 15, 250000, tzinfo=dt.timezone.utc)),
    (dt.timedelta, dt.timedelta(hours=1, milliseconds=5)),
    (Color, Color.BLUE),
    (Inner, Inner(n=3, label="x")),
    (Outer, Outer(inner=Inner(n=1, label="a"), weights=[1.0, 2.5], ratio=0.5, flag=True)),
    (List[int], [1, 2, 3]),
    (List[int], []),
    (List[List[str]], [["a"], [], ["b", "c"]]),
    (Dict[str, int], {"a": 1, "b": 2}),
    (Dict[str, List[Inner]], {"k": [Inner(n=2, label="y")]}),
    (Optional[int], None),
    (Optional[int], 5),
    (Optional[Inner], Inner(n=9, label="z")),
    (List[Optional[float]], [1.0, None]),
]


@pytest.mark.parametrize("python_type,value", CASES, ids=[f"{engine.describe(t)}-{i}" for i, (t, _) in
                                                          enumerate(CASES)])
def test_value_survives_flyteidl_binary_round_trip(python_type, value):
    from flyteidl.core import literals_pb2, types_pb2

    literals.parse(engine.literal_type(python_type), types_pb2.LiteralType)
    literals.parse(engine.to_literal(value, python_type), literals_pb2.Literal)
    data = literals.literal_map_to_bytes(literals.to_literal_map({"v": value}, {"v": python_type}))
    decoded = literals.from_literal_map(literals.literal_map_from_bytes(data), {"v": python_type})
    assert decoded == {"v": value}


def test_literal_map_built_by_flyteidl_decodes():
    from flyteidl.core import literals_pb2 as L
    from google.protobuf import struct_pb2

    generic = struct_pb2.Struct()
    generic.update({"n": 4, "label": "q"})
    message = L.LiteralMap(literals={
        "i": L.Literal(scalar=L.Scalar(primitive=L.Primitive(integer=7))),
        "d": L.Literal(scalar=L.Scalar(generic=generic)),
        "xs": L.Literal(collection=L.LiteralCollection(literals=[
            L.Literal(scalar=L.Scalar(primitive=L.Primitive(string_value=s))) for s in "ab"])),
    })
    decoded = literals.from_literal_map(literals.literal_map_from_bytes(message.SerializeToString()),
                                        {"i": int, "d": Inner, "xs": List[str]})
    assert decoded == {"i": 7, "d": Inner(n=4, label="q"), "xs": ["a", "b"]}


def test_constant_collections_become_binding_collections():
    literal = engine.to_literal({"a": [1, 2]}, Dict[str, List[int]])
    data = literals.binding_data(literal)
    assert data == {"map": {"bindings": {"a": {"collection": {"bindings": [
        {"scalar": {"primitive": {"integer": "1"}}}, {"scalar": {"primitive": {"integer": "2"}}}]}}}}}
    from flyteidl.core import literals_pb2

    literals.parse(data, literals_pb2.BindingData)
