"""A project written the way flytekit programs are: conditionals, named and tuple outputs, promise attributes.

Shared by tests/test_language.py's local, serialization and sandbox tests, so all three run the same code.
"""

from __future__ import annotations

LANG = {
    "lang/__init__.py": "",
    "lang/branches.py": '''
        import sys
        from typing import Optional

        from flyrun import conditional, task, workflow


        @task
        def square(n: float) -> float:
            return n * n


        @task
        def double(n: float) -> float:
            return 2 * n


        @task
        def coin(seed: int) -> bool:
            return seed % 2 == 0


        @task
        def maybe(seed: int) -> Optional[int]:
            return None if seed < 0 else seed


        @task
        def shout(text: str) -> str:
            return text.upper()


        @task
        def note(text: str):
            print(text, file=sys.stderr)


        @workflow
        def shape(x: float, big: float = 10.0) -> float:
            d = conditional("size").if_((x >= 0.1) & (x < 1)).then(square(n=x)) \\
                .elif_((x >= 1) & (x <= big)).then(double(n=x)) \\
                .else_().fail("x must be between 0.1 and big")
            return double(n=d)


        @workflow
        def nested(x: float, seed: int) -> str:
            c = coin(seed=seed)
            m = maybe(seed=seed)
            return conditional("outer").if_(c.is_true() | m.is_none()).then(
                conditional("inner").if_(x > 1).then(shout(text="big heads")).else_().then(shout(text="small heads"))
            ).else_().then(shout(text="tails"))


        @workflow
        def quiet(seed: int) -> str:
            conditional("noisy").if_(coin(seed=seed).is_false()).then(note(text="odd")) \\
                .else_().then(note(text="even"))
            return shout(text="done")


        @workflow
        def twice(x: float) -> float:
            return double(n=double(n=x))


        @workflow
        def via_sub(x: float) -> float:
            return conditional("sub").if_(x > 0).then(twice(x=x)).else_().then(square(n=x))


        @workflow
        def same(a: int, b: int) -> str:
            return conditional("eq").if_(a == b).then(shout(text="same")) \\
                .elif_(a != 3).then(shout(text="not three")).else_().then(shout(text="three"))
        ''',
    "lang/outputs.py": '''
        from dataclasses import dataclass
        from typing import Dict, List, NamedTuple, Tuple

        from flyrun import task, workflow


        class Slope(NamedTuple):
            slope: float


        class Pair(NamedTuple):
            a: int
            b: str


        @dataclass
        class Inner:
            v: List[int]


        @dataclass
        class Fruit:
            name: str
            inner: Inner


        @task
        def bare(x: float) -> Slope:
            return x * 2


        @task
        def wrapped(x: float) -> Slope:
            return Slope(slope=x * 3)


        @task
        def pair(x: float) -> (float, float):
            return x, x + 1


        @task
        def typed(x: int) -> Tuple[int, str]:
            return x, str(x)


        @task
        def named(x: int) -> Pair:
            return Pair(a=x, b=str(x))


        @task
        def add(a: float, b: float) -> float:
            return a + b


        @workflow
        def sub(x: float) -> Tuple[float, float]:
            p, q = pair(x=x)
            return q, p


        @workflow
        def outs(x: float = 1.5) -> Tuple[float, float, str, str]:
            s = bare(x=x)
            t = wrapped(x=x)
            u, v = sub(x=x)
            typed_out = typed(x=4)
            return add(a=s, b=t.slope), add(a=u, b=v), named(x=3).b, typed_out.o1


        @task
        def numbers(n: int) -> List[int]:
            return list(range(n))


        @task
        def counts(n: int) -> Dict[str, int]:
            return {"k": n}


        @task
        def fruit(n: int) -> Fruit:
            return Fruit(name="apple", inner=Inner(v=[n, n + 1]))


        @task
        def show(a: int, b: int, c: str, d: int) -> str:
            return f"{a} {b} {c} {d}"


        @task
        def inc(n: int) -> int:
            return n + 1


        @workflow
        def first(xs: List[int], names: Dict[str, str]) -> Tuple[int, str]:
            return inc(n=xs[0]), names["a"]


        @workflow
        def attrs(n: int = 3) -> str:
            f = fruit(n=n)
            return show(a=numbers(n=n)[1], b=counts(n=n)["k"], c=f.name, d=f.inner.v[1])
        ''',
}

# (module, workflow, inputs, outputs) for runs that succeed; the same on every runner.
RUNS = [
    ("branches", "shape", ["--x", "0.5"], {"o0": 0.5}),
    ("branches", "shape", ["--x", "3"], {"o0": 12.0}),
    ("branches", "nested", ["--x", "2", "--seed", "2"], {"o0": "BIG HEADS"}),
    ("branches", "nested", ["--x", "0.5", "--seed", "4"], {"o0": "SMALL HEADS"}),
    ("branches", "nested", ["--x", "2", "--seed", "-1"], {"o0": "BIG HEADS"}),
    ("branches", "nested", ["--x", "2", "--seed", "3"], {"o0": "TAILS"}),
    ("branches", "quiet", ["--seed", "3"], {"o0": "DONE"}),
    ("branches", "same", ["--a", "3", "--b", "3"], {"o0": "SAME"}),
    ("branches", "same", ["--a", "3", "--b", "4"], {"o0": "THREE"}),
    ("branches", "same", ["--a", "5", "--b", "4"], {"o0": "NOT THREE"}),
    ("branches", "via_sub", ["--x", "1.5"], {"o0": 6.0}),
    ("branches", "via_sub", ["--x", "-2"], {"o0": 4.0}),
    ("outputs", "outs", [], {"o0": 7.5, "o1": 4.0, "o2": "3", "o3": "4"}),
    ("outputs", "first", ["--xs", "[4, 5]", "--names", '{"a": "b"}'], {"o0": 5, "o1": "b"}),
    ("outputs", "attrs", [], {"o0": "1 3 apple 4"}),
]
FAIL_MESSAGE = "x must be between 0.1 and big"
