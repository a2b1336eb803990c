"""Mistakes in a workflow's definition fail when the module loads, naming file, line, node and input."""

from __future__ import annotations

import pytest

HEADER = '''
from typing import List
from flyrun import task, workflow

@task
def to_str(x: int) -> str:
    return str(x)

@task
def inc(x: int) -> int:
    return x + 1

'''

CASES = {
    "str_into_int": ("@workflow\ndef wf(x: int) -> int:\n    return inc(x=to_str(x=x))\n",
                     "bad.py:15: in workflow 'bad.wf', node n1 (bad.inc): input 'x' expects int but "
                     "n0.o0 (bad.to_str) is str"),
    "missing_input": ("@workflow\ndef wf(x: int) -> int:\n    return inc()\n",
                      "node n0 (bad.inc): missing required input 'x' (int)"),
    "unknown_keyword": ("@workflow\ndef wf(x: int) -> int:\n    return inc(x=x, y=1)\n",
                        "node n0 (bad.inc): unknown input 'y'; inputs are: x"),
    "positional": ("@workflow\ndef wf(x: int) -> int:\n    return inc(x)\n",
                   "node n0 (bad.inc): positional arguments are not allowed inside a workflow"),
    "control_flow": ("@workflow\ndef wf(x: int) -> int:\n    y = inc(x=x)\n    if y:\n        pass\n"
                     "    return y\n",
                     "bad.py:16: n0.o0 (bad.inc) is a promise, not a value: it cannot be used in Python "
                     "control flow"),
    "input_type_constant": ("@workflow\ndef wf() -> int:\n    return inc(x='three')\n",
                            "input 'x' expects int: expected int, got str 'three'"),
    "output_type": ("@workflow\ndef wf(x: int) -> int:\n    return to_str(x=x)\n",
                    "output 'o0' expects int but n0.o0 (bad.to_str) is str"),
    "unannotated": ("@task\ndef t(x) -> int:\n    return x\n", "task 'bad.t': input 'x' has no type annotation"),
    "unsupported": ("@task\ndef t(x: set) -> int:\n    return 1\n", "input 'x': type set is not supported"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_definition_error_at_load(cli, project, case):
    body, message = CASES[case]
    root = project({"bad.py": HEADER + body})
    result = cli("run", str(root / "bad.py"), "wf")
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_ordering_without_data_and_fan_out(cli, project):
    root = project({"order.py": '''
        from flyrun import task, workflow
        LOG = []

        @task
        def first() -> None:
            LOG.append("first")

        @task
        def second() -> int:
            LOG.append("second")
            return len(LOG)

        @task
        def add(a: int, b: int) -> int:
            return a + b

        @workflow
        def wf() -> int:
            s = second()
            f = first()
            f >> s
            return add(a=s, b=s)
    '''})
    result = cli("run", str(root / "order.py"), "wf")
    assert (result.exit_code, result.stdout) == (0, "o0: 4\n"), result.stderr


def test_direct_python_calls_run_locally():
    import textwrap
    import types

    from flyrun import task, workflow

    @task
    def mul(a: int, b: int = 2) -> int:
        return a * b

    @workflow
    def wf(a: int) -> int:
        return mul(a=mul(a=a), b=3)

    assert mul(4) == 8 and mul(a=4, b=5) == 20
    assert wf(a=2) == 12
    assert isinstance(textwrap, types.ModuleType)
