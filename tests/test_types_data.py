"""Data types of issue 16: pickles, pydantic models, structured datasets, numpy arrays, hash methods, user types.

Each with the real libraries (pandas, pyarrow, polars, pydantic, numpy); locally, serialized (parsed strictly into
flyteidl messages) and on the sandbox (tests/test_types_data_sandbox.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import typing
from pathlib import Path
from typing import Annotated, Dict, List

import msgpack
import pytest
from conftest import REPO

from flyrun.sdk.context import ExecutionContext, use_context
from flyrun.types import engine

FLOWS = '''
import dataclasses
import threading
import typing
from typing import Annotated, Dict, List

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
from pydantic import BaseModel

from flyrun import FlyteFile, HashMethod, kwtypes, task, workflow
from flyrun.types.structured import StructuredDataset


class Superhero:
    def __init__(self, name, power):
        self.name, self.power = name, power


@task
def make_hero(name: str) -> Superhero:
    return Superhero(name, 9000)


@task
def hero_name(h: Superhero) -> str:
    return f"{h.name}:{h.power}"


@task
def squad(n: int) -> List[Superhero]:
    return [Superhero(str(i), i) for i in range(n)]


@task
def by_name(heroes: List[Superhero]) -> Dict[str, Superhero]:
    return {h.name: h for h in heroes}


@task
def power(heroes: Dict[str, Superhero]) -> int:
    return sum(h.power for h in heroes.values())


@task
def locked() -> Superhero:
    return Superhero("lock", threading.Lock())


@workflow
def heroes(name: str = "bat", n: int = 4) -> typing.Tuple[str, int]:
    return hero_name(h=make_hero(name=name)), power(heroes=by_name(heroes=squad(n=n)))


class Inner(BaseModel):
    a: int
    tags: List[str]


class Outer(BaseModel):
    inner: Inner
    f: FlyteFile
    sd: StructuredDataset


@task
def make_outer(n: int) -> Outer:
    f = FlyteFile.new_remote_file("note.txt")
    with f.open("w") as out:
        out.write("hello")
    return Outer(inner=Inner(a=n, tags=["x"]), f=f, sd=StructuredDataset(dataframe=pd.DataFrame({"a": [1, 2]})))


@task
def read_outer(o: Outer) -> str:
    with o.f.open("r") as note:
        text = note.read()
    return f"{o.inner.a} {o.inner.tags} {text} {int(o.sd.open(pd.DataFrame).all()['a'].sum())}"


@workflow
def models(n: int = 3) -> str:
    return read_outer(o=make_outer(n=n))


@task
def inner_size(m: Inner) -> int:
    return m.a + len(m.tags)


@task
def make_df() -> Annotated[pd.DataFrame, kwtypes(name=str, age=int)]:
    return pd.DataFrame({"name": ["a", "b"], "age": [1, 2], "extra": [0.5, 0.25]})


@task
def ages(df: Annotated[StructuredDataset, kwtypes(age=int)]) -> int:
    frame = df.open(pd.DataFrame).all()
    assert list(frame.columns) == ["age"], frame.columns
    return int(frame["age"].sum())


@task
def to_polars(df: pd.DataFrame) -> pl.DataFrame:
    return pl.from_pandas(df)


@task
def to_arrow(df: pl.DataFrame) -> pa.Table:
    return df.to_arrow()


@task
def as_csv(t: pa.Table) -> Annotated[StructuredDataset, "csv"]:
    return StructuredDataset(dataframe=t)


@task
def rows(sd: StructuredDataset) -> int:
    return len(sd.open(pl.DataFrame).all())


@workflow
def frames() -> typing.Tuple[int, int]:
    df = make_df()
    return ages(df=df), rows(sd=as_csv(t=to_arrow(df=to_polars(df=df))))


@task
def df_sum(df: pd.DataFrame) -> int:
    return int(df.select_dtypes("number").sum().sum())


@task
def arange(n: int) -> np.ndarray:
    return np.arange(n)


@task
def arr_sum(a: np.ndarray) -> int:
    return int(a.sum())


@workflow
def arrays(n: int = 4) -> int:
    return arr_sum(a=arange(n=n))


def frame_hash(df: pd.DataFrame) -> str:
    return str(pd.util.hash_pandas_object(df).sum())


@task
def hashed(n: int) -> Annotated[pd.DataFrame, HashMethod(frame_hash)]:
    return pd.DataFrame({"v": list(range(n))})


@task(cache=True, cache_version="1")
def cached_total(df: pd.DataFrame) -> int:
    print("COMPUTED", flush=True)
    return int(df["v"].sum())


@workflow
def hashing(n: int = 5) -> int:
    return cached_total(df=hashed(n=n))
'''


@pytest.fixture
def flows(project):
    return project({"flows.py": FLOWS}) / "flows.py"


@pytest.fixture
def storage(tmp_path):
    with use_context(ExecutionContext(raw_output_prefix=str(tmp_path / "raw"))) as context:
        yield context


class Plain:
    def __init__(self, x):
        self.x = x


# -- pickles ------------------------------------------------------------------------------------------------------
def test_a_class_without_transformer_is_a_flytepickle_blob(storage, capsys):
    lt = engine.literal_type(Plain)
    assert lt == {"blob": {"format": "PythonPickle"}, "metadata": {"python_class_name": str(Plain)}}
    assert "Plain has no type transformer; values of it are pickled" in capsys.readouterr().err
    literal = engine.to_literal(Plain(3), Plain)
    blob = literal["scalar"]["blob"]
    assert blob["metadata"] == {"type": {"format": "PythonPickle"}}
    data = Path(blob["uri"]).read_bytes()
    assert blob["uri"].startswith(storage.raw_output_prefix) and blob["uri"].endswith(hashlib.md5(data).hexdigest())
    assert engine.to_python(literal, Plain).x == 3
    assert capsys.readouterr().err == ""  # warned once per class
    assert engine.literal_type(List[Plain]) == {"collection_type": lt}
    assert [p.x for p in engine.roundtrip([Plain(1), Plain(2)], List[Plain])] == [1, 2]
    assert engine.roundtrip({"k": Plain(5)}, Dict[str, Plain])["k"].x == 5
    _parses(lt, literal)


def test_pickled_objects_lists_and_dicts_flow_through_a_workflow(cli, flows):
    result = cli("run", str(flows), "heroes", "--n", "4")
    assert result.exit_code == 0, result.output
    assert result.stdout == "o0: bat:9000\no1: 6\n"


def test_an_unpicklable_output_is_a_one_line_error(cli, flows):
    result = cli("run", str(flows), "locked")
    assert result.exit_code == 6, result.output
    first = result.stderr.splitlines()[0]
    assert "Superhero value cannot be pickled: TypeError: cannot pickle '_thread.lock' object" in first
    assert "Traceback" not in result.stderr


def test_a_pickled_input_cannot_come_from_the_command_line(cli, flows):
    result = cli("run", str(flows), "hero_name", "--h", "x")
    assert result.exit_code == 2 and "Superhero is pickled; it cannot be given as text" in result.stderr


# -- dataclasses and pydantic models ------------------------------------------------------------------------------
@__import__("dataclasses").dataclass
class Point:
    x: int
    y: float


def test_dataclasses_are_msgpack_as_flytekit_1_16_and_the_generic_form_still_reads():
    lt = engine.literal_type(Point)
    assert lt["annotation"] == {"annotations": {"cache-key-metadata": {"serialization-format": "msgpack"}}}
    assert lt["structure"] == {"dataclass_type": {"x": {"simple": "INTEGER"}, "y": {"simple": "FLOAT"}}}
    literal = engine.to_literal(Point(1, 2.5), Point)
    binary = literal["scalar"]["binary"]
    assert binary["tag"] == "msgpack" and msgpack.unpackb(base64.b64decode(binary["value"])) == {"x": 1, "y": 2.5}
    assert engine.to_python(literal, Point) == Point(1, 2.5)
    assert engine.to_python({"scalar": {"generic": {"x": 1.0, "y": 2.5}}}, Point) == Point(1, 2.5)
    _parses(lt, literal)


def test_pydantic_models_nest_and_hold_files_and_datasets(cli, flows, storage):
    import pandas as pd
    from pydantic import BaseModel

    from flyrun import FlyteFile
    from flyrun.types.structured import StructuredDataset

    class Inner(BaseModel):
        a: int

    class Outer(BaseModel):
        inner: Inner
        f: FlyteFile
        sd: StructuredDataset

    lt = engine.literal_type(Outer)
    assert lt["metadata"] == Outer.model_json_schema() and lt["annotation"] == engine.MSGPACK_ANNOTATION
    assert lt["structure"]["dataclass_type"]["sd"] == {"structured_dataset_type": {}}
    note = storage.raw_output_prefix + "-note.txt"
    Path(note).write_text("hi")
    value = Outer(inner=Inner(a=2), f=FlyteFile(note), sd=StructuredDataset(dataframe=pd.DataFrame({"a": [1]})))
    literal = engine.to_literal(value, Outer)
    payload, _ = engine.struct_payload(literal, "Outer")
    assert payload["inner"] == {"a": 2} and payload["f"] == {"path": note}
    assert set(payload["sd"]) == {"uri", "file_format"} and payload["sd"]["file_format"] == "parquet"
    back = engine.to_python(literal, Outer)
    assert back.inner.a == 2 and back.f.path == note and back.sd.open(pd.DataFrame).all()["a"].tolist() == [1]
    _parses(lt, literal)

    result = cli("run", str(flows), "models", "--n", "7")
    assert result.exit_code == 0, result.output
    assert result.stdout == "o0: 7 ['x'] hello 3\n"


def test_model_inputs_from_json_and_yaml_and_a_bad_one(cli, flows, tmp_path):
    assert cli("run", str(flows), "inner_size", "--m", '{"a": 1, "tags": ["q", "r"]}').stdout == "o0: 3\n"
    inputs = tmp_path / "in.yaml"
    inputs.write_text("m:\n  a: 5\n  tags: [z]\n")
    assert cli("run", "--inputs-file", str(inputs), str(flows), "inner_size").stdout == "o0: 6\n"
    bad = cli("run", str(flows), "inner_size", "--m", '{"a": "many", "tags": []}')
    assert bad.exit_code == 2 and "Inner.a: expected int, got str 'many'" in bad.stderr


# -- structured datasets ------------------------------------------------------------------------------------------
def test_structured_dataset_literal_types_as_flytekit():
    import pandas as pd

    from flyrun import kwtypes
    from flyrun.types.structured import StructuredDataset

    assert engine.literal_type(pd.DataFrame) == {"structured_dataset_type": {}}
    assert engine.literal_type(Annotated[StructuredDataset, kwtypes(Name=str, Age=int)]) == {
        "structured_dataset_type": {"columns": [{"name": "Name", "literal_type": {"simple": "STRING"}},
                                                {"name": "Age", "literal_type": {"simple": "INTEGER"}}]}}
    assert engine.literal_type(Annotated[StructuredDataset, "csv"]) == {"structured_dataset_type": {"format": "csv"}}


@pytest.mark.parametrize("kind", ["pandas", "pyarrow", "polars"])
@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_each_frame_library_round_trips_in_parquet_and_csv(storage, kind, fmt):
    import pandas as pd
    import polars as pl
    import pyarrow as pa

    from flyrun import kwtypes

    frame = {"pandas": pd.DataFrame({"n": [1, 2], "s": ["a", "b"]}),
             "pyarrow": pa.table({"n": [1, 2], "s": ["a", "b"]}),
             "polars": pl.DataFrame({"n": [1, 2], "s": ["a", "b"]})}[kind]
    python_type = Annotated[type(frame), kwtypes(n=int, s=str), fmt]
    literal = engine.to_literal(frame, python_type)
    sd = literal["scalar"]["structured_dataset"]
    assert sd["metadata"]["structured_dataset_type"]["format"] == fmt
    assert [c["name"] for c in sd["metadata"]["structured_dataset_type"]["columns"]] == ["n", "s"]
    stored = Path(sd["uri"]) / "00000"
    assert sd["uri"].startswith(storage.raw_output_prefix) and stored.is_file()
    assert (stored.read_bytes()[:4] == b"PAR1") == (fmt == "parquet")
    back = engine.to_python(literal, python_type)
    assert type(back) is type(frame)
    columns = back.column_names if kind == "pyarrow" else list(back.columns)
    assert columns == ["n", "s"] and back.shape == (2, 2) if kind != "pyarrow" else back.num_rows == 2
    _parses(engine.literal_type(python_type), literal)


def test_local_workflow_passes_frames_between_libraries_and_reads_a_column_subset(cli, flows):
    result = cli("run", str(flows), "frames")
    assert result.exit_code == 0, result.output
    assert result.stdout == "o0: 3\no1: 2\n"


def test_cli_dataset_inputs_from_parquet_and_csv_files_and_folders(cli, flows, tmp_path):
    import pandas as pd

    frame = pd.DataFrame({"name": ["a", "b"], "age": [4, 6]})
    frame.to_parquet(tmp_path / "people.parquet")
    frame.to_csv(tmp_path / "people.csv", index=False)
    (tmp_path / "folder").mkdir()
    frame.to_parquet(tmp_path / "folder" / "part-0.parquet")
    frame.to_parquet(tmp_path / "folder" / "part-1.parquet")
    for path, total in (("people.parquet", 10), ("people.csv", 10), ("folder", 20)):
        result = cli("run", str(flows), "df_sum", "--df", str(tmp_path / path))
        assert result.exit_code == 0 and result.stdout == f"o0: {total}\n", (path, result.output)
    result = cli("run", str(flows), "ages", "--df", str(tmp_path / "people.parquet"))
    assert result.exit_code == 0 and result.stdout == "o0: 10\n", result.output


def test_a_parquet_file_without_the_declared_columns_is_a_one_line_error(cli, flows, tmp_path):
    import pandas as pd

    pd.DataFrame({"x": [1]}).to_parquet(tmp_path / "bad.parquet")
    result = cli("run", str(flows), "ages", "--df", str(tmp_path / "bad.parquet"))
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[0] == (f"Error: input 'df' of flows.ages: parquet dataset {tmp_path}/bad.parquet "
                                             "has columns x; the declared column age is not there")
    missing = cli("run", str(flows), "df_sum", "--df", str(tmp_path / "none.parquet"))
    assert missing.exit_code == 2 and "does not exist" in missing.stderr


def test_iter_streams_row_groups(storage):
    import pyarrow as pa

    from flyrun.types.structured import StructuredDataset

    batches = (pa.record_batch({"v": list(range(i * 10, i * 10 + 10))}) for i in range(5))
    literal = engine.to_literal(StructuredDataset(dataframe=batches), StructuredDataset)
    sd = engine.to_python(literal, StructuredDataset)
    parts = list(sd.open(pa.Table).iter())
    assert len(parts) == 5 and sum(p.num_rows for p in parts) == 50


@pytest.mark.parametrize("peer", ["s3_peer", "gcs_peer"])
def test_datasets_pickles_and_arrays_on_object_storage(request, peer):
    import numpy as np
    import pandas as pd

    from flyrun.types.structured import StructuredDataset

    server = request.getfixturevalue(peer)
    bucket = server.bucket("types-data")
    prefix = f"{server.protocol}://{bucket}/raw"
    with use_context(ExecutionContext(raw_output_prefix=prefix, storage_options={server.protocol: server.options})):
        frame = pd.DataFrame({"a": list(range(100))})
        literal = engine.to_literal(frame, pd.DataFrame)
        uri = literal["scalar"]["structured_dataset"]["uri"]
        assert uri.startswith(prefix + "/")
        assert server.filesystem().cat_file(uri.split("://", 1)[1] + "/00000")[:4] == b"PAR1"
        assert engine.to_python(literal, pd.DataFrame)["a"].sum() == 4950
        assert sum(len(p) for p in engine.to_python(literal, StructuredDataset).iter()) == 100
        assert engine.roundtrip(Plain(9), Plain).x == 9
        assert engine.roundtrip(np.arange(3), np.ndarray).tolist() == [0, 1, 2]


def test_a_missing_frame_library_names_its_extra(tmp_path):
    """pyarrow made unimportable in a real process: writing parquet from pandas says which extra to install."""
    flows = tmp_path / "pandas_only.py"
    flows.write_text("import pandas as pd\nfrom flyrun import task\n\n\n@task\ndef make_df() -> pd.DataFrame:\n"
                     "    return pd.DataFrame({'a': [1]})\n")
    script = tmp_path / "blocked.py"
    script.write_text("import sys\nsys.modules['pyarrow'] = None\n"
                      "from flyrun.cli.main import main\n"
                      "sys.argv = ['flyrun', 'run', sys.argv[1], 'make_df']\nmain()\n")
    proc = subprocess.run([sys.executable, str(script), str(flows)], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=120, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "writing parquet from pandas needs pyarrow, which is not installed" in proc.stderr
    assert "pip install 'flyrun[pyarrow]'" in proc.stderr and "Traceback" not in proc.stderr


# -- numpy --------------------------------------------------------------------------------------------------------
def test_numpy_arrays(cli, flows, storage):
    import numpy as np

    assert engine.literal_type(np.ndarray) == {"blob": {"format": "NumpyArray"}}
    literal = engine.to_literal(np.array([[1.5, 2.0]]), np.ndarray)
    assert literal["scalar"]["blob"]["metadata"] == {"type": {"format": "NumpyArray"}}
    assert Path(literal["scalar"]["blob"]["uri"]).read_bytes()[:6] == b"\x93NUMPY"
    assert engine.to_python(literal, np.ndarray).tolist() == [[1.5, 2.0]]
    _parses(engine.literal_type(np.ndarray), literal)
    assert cli("run", str(flows), "arrays", "--n", "5").stdout == "o0: 10\n"


# -- hash methods -------------------------------------------------------------------------------------------------
def test_hash_method_sets_the_literal_hash_and_feeds_the_downstream_cache_key(flyrun_process, flows, storage):
    import pandas as pd

    from flyrun import HashMethod

    hashed = Annotated[pd.DataFrame, HashMethod(lambda df: "h-" + str(len(df)))]
    assert engine.literal_type(hashed) == {"structured_dataset_type": {}}
    assert engine.to_literal(pd.DataFrame({"v": [1, 2]}), hashed)["hash"] == "h-2"

    # Each run writes the frame to a new place, so only the hash can make the second run a cache hit.
    cache = str(flows.parent / "cache")
    first = flyrun_process("run", str(flows), "hashing", env={"FLYRUN_CACHE_DIR": cache})
    second = flyrun_process("run", str(flows), "hashing", env={"FLYRUN_CACHE_DIR": cache})
    other = flyrun_process("run", str(flows), "hashing", "--n", "6", env={"FLYRUN_CACHE_DIR": cache})
    assert (first.exit_code, second.exit_code, other.exit_code) == (0, 0, 0), first.stderr + second.stderr
    assert first.output.count("COMPUTED") == 1 and first.stdout == "o0: 10\n"
    assert "COMPUTED" not in second.output and second.stdout == "o0: 10\n"
    assert "flows.cached_total: cached outputs reused" in second.stderr
    assert other.output.count("COMPUTED") == 1 and other.stdout == "o0: 15\n"


# -- user types ---------------------------------------------------------------------------------------------------
def test_the_custom_type_example_runs_and_serializes(cli, tmp_path):
    example = str(REPO / "examples" / "custom_type.py")
    assert cli("run", example, "wf", "--point", "3,4").stdout == "o0: 5.0\n"
    assert cli("run", example, "mirror", "--point", "3,4").stdout == "o0: 4.0,3.0\n"
    bad = cli("run", example, "mirror", "--point", "3,x")
    assert bad.exit_code == 2 and "'3,x' is not a point; write it as x,y" in bad.stderr
    out = tmp_path / "pkg"
    assert cli("package", example, "--output-dir", str(out)).exit_code == 0
    spec = json.loads(next(out.rglob("tasks/*mirror*.json")).read_text())
    assert spec["template"]["interface"]["inputs"]["variables"]["point"]["type"] == {"simple": "STRING"}


def test_type_engine_register_takes_a_flytekit_shaped_transformer(storage):
    from flyteidl.core import literals_pb2, types_pb2

    from flyrun.extend import TypeEngine, TypeTransformer

    class Celsius:
        def __init__(self, degrees: float) -> None:
            self.degrees = degrees

    class CelsiusTransformer(TypeTransformer[Celsius]):
        def __init__(self) -> None:
            super().__init__("celsius", Celsius)

        def get_literal_type(self, t):
            return types_pb2.LiteralType(simple=types_pb2.FLOAT)

        def to_literal(self, ctx, python_val, python_type, expected):
            assert expected.simple == types_pb2.FLOAT and ctx.raw_output_prefix
            return literals_pb2.Literal(scalar=literals_pb2.Scalar(
                primitive=literals_pb2.Primitive(float_value=python_val.degrees)))

        def to_python_value(self, ctx, lv, expected_python_type):
            return Celsius(lv.scalar.primitive.float_value)

    TypeEngine.register(CelsiusTransformer())
    assert engine.literal_type(Celsius) == {"simple": "FLOAT"}
    assert engine.to_literal(Celsius(21.5), Celsius) == {"scalar": {"primitive": {"float_value": 21.5}}}
    assert engine.roundtrip(Celsius(3.0), Celsius).degrees == 3.0
    assert TypeEngine.to_literal_type(List[Celsius]).collection_type.simple == types_pb2.FLOAT
    with pytest.raises(engine.TypeMismatch, match="celsius: type check: expected Celsius, got str"):
        engine.to_literal("hot", Celsius)


# -- serialized ---------------------------------------------------------------------------------------------------
def test_packaged_interfaces_parse_strictly(cli, flows, tmp_path):
    from flyteidl.admin import task_pb2
    from google.protobuf import json_format

    out = tmp_path / "pkg"
    result = cli("package", str(flows), "--output-dir", str(out))
    assert result.exit_code == 0, result.output
    specs = {p.name: json.loads(p.read_text()) for p in out.rglob("tasks/*.json")}
    for text in specs.values():
        json_format.ParseDict(text, task_pb2.TaskSpec(), ignore_unknown_fields=False)

    def variable(task, side, name):
        return specs[f"flows.{task}.json"]["template"]["interface"][side]["variables"][name]["type"]

    assert variable("make_hero", "outputs", "o0")["blob"] == {"format": "PythonPickle"}
    assert variable("ages", "inputs", "df") == {"structured_dataset_type": {"columns": [
        {"name": "age", "literal_type": {"simple": "INTEGER"}}]}}
    assert variable("as_csv", "outputs", "o0") == {"structured_dataset_type": {"format": "csv"}}
    assert variable("inner_size", "inputs", "m")["annotation"] == engine.MSGPACK_ANNOTATION
    assert variable("arange", "outputs", "o0") == {"blob": {"format": "NumpyArray"}}


def _parses(literal_type: dict, literal: dict) -> None:
    from flyteidl.core import literals_pb2, types_pb2

    from flyrun.idl.literals import parse

    parse(literal_type, types_pb2.LiteralType)
    parse(literal, literals_pb2.Literal)


def test_nothing_heavy_is_imported_by_flyrun_or_a_plain_run():
    code = ("import sys, flyrun\nfrom flyrun.types import engine\nengine.literal_type(int)\n"
            "print(sorted(m for m in ('pandas', 'pyarrow', 'polars', 'pydantic', 'numpy', 'msgpack', 'cloudpickle')"
            " if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=60)
    assert proc.stdout.strip() == "[]", proc.stderr
    assert typing is not None
