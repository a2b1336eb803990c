"""A user type with its own transformer (flytekit's TypeTransformer shape):
`flyrun run examples/custom_type.py wf --point 3,4`.

``Point`` travels as a plain string literal ``"x,y"``: readable in the console, usable from the command line, and
cheap (no pickle). Register the transformer once, at import of the module that defines the type.
"""

from flyteidl.core import literals_pb2, types_pb2

from flyrun import task, workflow
from flyrun.extend import TypeEngine, TypeTransformer, TypeTransformerFailedError


class Point:
    def __init__(self, x: float, y: float) -> None:
        self.x, self.y = x, y

    def __repr__(self) -> str:
        return f"Point({self.x}, {self.y})"


class PointTransformer(TypeTransformer[Point]):
    def __init__(self) -> None:
        super().__init__(name="point", t=Point)

    def get_literal_type(self, t: type[Point]) -> types_pb2.LiteralType:
        return types_pb2.LiteralType(simple=types_pb2.STRING)

    def to_literal(self, ctx, python_val: Point, python_type: type[Point], expected) -> literals_pb2.Literal:
        text = f"{python_val.x},{python_val.y}"
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value=text)))

    def to_python_value(self, ctx, lv: literals_pb2.Literal, expected_python_type: type[Point]) -> Point:
        return self.from_json(lv.scalar.primitive.string_value, expected_python_type)

    def from_json(self, value, python_type: type[Point]) -> Point:
        try:
            x, y = (float(part) for part in str(value).split(","))
        except ValueError:
            raise TypeTransformerFailedError(f"{value!r} is not a point; write it as x,y (e.g. 3,4)") from None
        return Point(x, y)

    def to_json(self, value: Point, python_type: type[Point]) -> str:
        return f"{value.x},{value.y}"


TypeEngine.register(PointTransformer())


@task
def mirror(point: Point) -> Point:
    return Point(point.y, point.x)


@task
def length(point: Point) -> float:
    return (point.x ** 2 + point.y ** 2) ** 0.5


@workflow
def wf(point: Point) -> float:
    return length(point=mirror(point=point))
