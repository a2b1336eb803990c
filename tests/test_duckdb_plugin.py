"""DuckDBQuery (flyrun.plugins.duckdb) with the real duckdb: the DuckDB guide's examples (aggregations over a
parquet dataset, a parameterised query, a list of queries), locally, serialized, and on `flyrun sandbox`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO

pytest.importorskip("duckdb")
pytest.importorskip("pandas")

PROGRAM = '''
from typing import List

import pandas as pd
import pyarrow as pa

from flyrun import kwtypes, task, workflow
from flyrun.plugins.duckdb import DuckDBQuery
from flyrun.types.structured import StructuredDataset


@task
def make_trips(n: int) -> StructuredDataset:
    frame = pd.DataFrame({"vendor": [i % 3 for i in range(n)], "fare": [float(i) for i in range(n)]})
    return StructuredDataset(dataframe=frame)


@task
def make_parquet(n: int) -> str:
    import os, tempfile
    path = os.path.join(tempfile.mkdtemp(), "trips.parquet")
    pd.DataFrame({"fare": [float(i) for i in range(n)]}).to_parquet(path)
    return path


by_vendor = DuckDBQuery(
    name="by_vendor",
    query="SELECT vendor, COUNT(*) AS trips, SUM(fare) AS total, MAX(fare) AS top FROM trips "
          "GROUP BY vendor ORDER BY vendor",
    inputs=kwtypes(trips=StructuredDataset),
)

over = DuckDBQuery(
    name="over",
    query="SELECT COUNT(*) AS n FROM trips WHERE fare > $min_fare AND vendor = $vendor",
    inputs=kwtypes(trips=StructuredDataset, min_fare=float, vendor=int),
)

simple = DuckDBQuery(name="simple", query="SELECT SUM(a) AS total FROM mydf", inputs=kwtypes(mydf=pd.DataFrame))


@task
def make_frame() -> pd.DataFrame:
    return pd.DataFrame({"a": [1, 2, 3]})

parquet_max = DuckDBQuery(name="parquet_max", query="SELECT MAX(fare) AS top FROM read_parquet($1)",
                          inputs=kwtypes(params=List[str]))

items = DuckDBQuery(
    name="items",
    query=[
        "CREATE TABLE items(item VARCHAR, value DECIMAL(10,2), count INTEGER)",
        "INSERT INTO items VALUES (?, ?, ?)",
        "SELECT $1 AS one, $1 AS two, $2 AS three",
    ],
    inputs=kwtypes(params=list),
)

stock = DuckDBQuery(
    name="stock",
    query=[
        "CREATE TABLE items(item VARCHAR, value DECIMAL(10,2), count INTEGER)",
        "INSERT INTO items VALUES (?, ?, ?)",
        "SELECT item, CAST(value * count AS DOUBLE) AS worth FROM items ORDER BY worth DESC",
    ],
    inputs=kwtypes(params=list),
)


@task
def rows(sd: StructuredDataset) -> List[List[str]]:
    frame = sd.open(pd.DataFrame).all()
    return [[str(v) for v in row] for row in frame.itertuples(index=False)]


@workflow
def trips_wf(n: int = 10, min_fare: float = 2.5) -> List[List[str]]:
    trips = make_trips(n=n)
    return rows(sd=by_vendor(trips=trips))


@workflow
def params_wf(n: int = 10) -> List[List[str]]:
    trips = make_trips(n=n)
    return rows(sd=over(trips=trips, min_fare=2.5, vendor=1))


@workflow
def frame_wf() -> List[List[str]]:
    return rows(sd=simple(mydf=make_frame()))


@workflow
def parquet_wf(n: int = 10) -> List[List[str]]:
    return rows(sd=parquet_max(params=[make_parquet(n=n)]))


@workflow
def list_wf() -> List[List[str]]:
    return rows(sd=stock(params=[[["chainsaw", 500, 10], ["iphone", 300, 2]]]))


@workflow
def guide_wf() -> List[List[str]]:
    return rows(sd=items(params=[[["chainsaw", 500, 10], ["iphone", 300, 2]], ["duck", "goose"]]))
'''

EXPECTED = {
    "trips_wf": [["0", "4", "18.0", "9.0"], ["1", "3", "12.0", "7.0"], ["2", "3", "15.0", "8.0"]],
    "params_wf": [["2"]],  # vendor 1: fares 1, 4, 7; two above 2.5
    "parquet_wf": [["9.0"]],
    "frame_wf": [["6"]],  # the guide's first example: a pandas DataFrame input
    "list_wf": [["chainsaw", "5000.0"], ["iphone", "600.0"]],
    "guide_wf": [["duck", "duck", "goose"]],
}


@pytest.fixture
def program(project):
    return project({"duck_flow.py": PROGRAM}) / "duck_flow.py"


@pytest.mark.parametrize("workflow", sorted(EXPECTED))
def test_duckdb_queries_run_locally(cli, program, workflow):
    done = cli("run", "-o", "json", str(program), workflow)
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["outputs"] == {"o0": EXPECTED[workflow]}


def _imported(project, monkeypatch, request, name):
    """PROGRAM imported in this process as module ``name``, forgotten at the end (the CLI tests import it too)."""
    import importlib

    root = project({f"{name}.py": PROGRAM})
    monkeypatch.syspath_prepend(str(root))
    request.addfinalizer(lambda: sys.modules.pop(name, None))
    return importlib.import_module(name)


def test_a_query_runs_alone_with_a_data_frame_input_and_returns_a_dataset(project, monkeypatch, request):
    import pandas as pd
    import pyarrow as pa

    duck_flow = _imported(project, monkeypatch, request, "duck_local")

    frame = pd.DataFrame({"vendor": [1, 1, 2], "fare": [1.0, 2.0, 3.0]})
    result = duck_flow.by_vendor(trips=frame)
    assert result.open(pa.Table).all().to_pydict() == {
        "vendor": [1, 2], "trips": [2, 1], "total": [3.0, 3.0], "top": [2.0, 3.0]}


def test_bad_sql_is_a_task_failure_naming_duckdb_error(cli, project):
    root = project({"f.py": """
        from flyrun.plugins.duckdb import DuckDBQuery

        broken = DuckDBQuery(name="broken", query="SELECT * FROM nowhere")
    """})
    done = cli("run", str(root / "f.py"), "broken")
    assert done.exit_code == 6, done.output
    assert "task broken failed: CatalogException" in done.stderr and "nowhere" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_missing_duckdb_is_one_line_naming_the_extra(cli, project, monkeypatch):
    root = project({"f.py": """
        from flyrun.plugins.duckdb import DuckDBQuery

        q = DuckDBQuery(name="q", query="SELECT 1")
    """})
    monkeypatch.setitem(sys.modules, "duckdb", None)  # what an import of a missing package raises
    done = cli("run", str(root / "f.py"), "q")
    assert done.exit_code == 2, done.output
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == ["Error: DuckDBQuery 'q' needs duckdb, which is not installed: pip install 'flyrun[duckdb]'"], \
        done.stderr


def test_aggregations_over_a_parquet_dataset_folder_from_the_command_line(cli, program, tmp_path):
    import pandas as pd

    folder = tmp_path / "trips"
    folder.mkdir()
    # A dataset of two parquet files, as flytekit and Spark write them.
    pd.DataFrame({"vendor": [0, 1, 1], "fare": [1.0, 2.0, 3.0]}).to_parquet(folder / "00000")
    pd.DataFrame({"vendor": [0, 2], "fare": [4.0, 5.0]}).to_parquet(folder / "00001")
    done = cli("run", "-o", "json", str(program), "by_vendor", "--trips", str(folder))
    assert done.exit_code == 0, done.output
    # The result's display names its columns (a pyarrow Table's ``columns`` are arrays, not names).
    assert json.loads(done.stdout)["outputs"] == {"result": "<Table: 3 rows; columns vendor, trips, total, top>"}


def test_declared_columns_are_the_only_columns_the_query_sees(cli, project, tmp_path):
    import pandas as pd

    pd.DataFrame({"vendor": [0, 1], "fare": [1.5, 2.5], "tip": [0.1, 0.2]}).to_parquet(tmp_path / "t.parquet")
    root = project({"cols.py": """
        from typing import Annotated
        from flyrun import kwtypes
        from flyrun.plugins.duckdb import DuckDBQuery
        from flyrun.types.structured import StructuredDataset

        q = DuckDBQuery(name="q", query="SELECT * FROM trips",
                        inputs=kwtypes(trips=Annotated[StructuredDataset, kwtypes(fare=float, vendor=int)]))
    """})
    done = cli("run", "-o", "json", str(root / "cols.py"), "q", "--trips", str(tmp_path / "t.parquet"))
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["outputs"] == {"result": "<Table: 2 rows; columns fare, vendor>"}


def test_motherduck_needs_a_secret_for_its_token(cli, project):
    root = project({"md.py": """
        from flyrun.plugins.duckdb import DuckDBProvider, DuckDBQuery

        q = DuckDBQuery(name="q", query="SELECT 1", provider=DuckDBProvider.MOTHERDUCK)
    """})
    done = cli("run", str(root / "md.py"), "q")
    assert done.exit_code == 2 and "MOTHERDUCK needs the MotherDuck token as a secret" in done.stderr, done.output


def test_list_parameters_from_the_command_line_and_a_short_list_is_named(cli, program):
    done = cli("run", "-o", "json", str(program), "items", "--params", '[[["a", 1, 2]], ["x", "y"]]')
    assert done.exit_code == 0, done.output
    done = cli("run", str(program), "items", "--params", '[[["a", 1, 2]]]')
    assert done.exit_code == 6, done.output
    assert "the list input has only 1 entries (one per query with parameters)" in done.stderr
    done = cli("run", str(program), "items", "--params", '{"a": 1}')
    assert done.exit_code == 2 and "expected a list of query parameters, got dict" in done.stderr, done.output


def test_importing_the_plugin_does_not_import_duckdb():
    code = "import sys, flyrun.plugins.duckdb; print('duckdb' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert done.stdout.strip() == "False", done.stderr


def test_bad_definitions_are_named(cli, project):
    root = project({"f.py": """
        from flyrun.plugins.duckdb import DuckDBQuery

        q = DuckDBQuery(name="q", query=[])
    """})
    done = cli("run", str(root / "f.py"), "q")
    assert done.exit_code == 2 and "query= must be a SQL string or a non-empty list" in done.stderr, done.output


def test_a_duckdb_query_serializes_as_a_python_task_loading_its_variable(project, monkeypatch, request):
    from flyteidl.admin import task_pb2
    from google.protobuf import json_format

    from flyrun.idl.settings import SerializationSettings
    from flyrun.idl.tasks import task_spec

    duck_flow = _imported(project, monkeypatch, request, "duck_wire")
    template = task_spec(duck_flow.over, SerializationSettings(project="p", domain="d", version="v"))["template"]
    assert template["id"]["name"] == "over" and template["type"] == "python-task"
    assert template["container"]["args"][-4:] == ["task-module", "duck_wire", "task-name", "over"]
    variables = template["interface"]["inputs"]["variables"]
    assert "structured_dataset_type" in variables["trips"]["type"]
    assert "structured_dataset_type" in template["interface"]["outputs"]["variables"]["result"]["type"]
    json_format.ParseDict({"template": template}, task_pb2.TaskSpec(), ignore_unknown_fields=False)


@pytest.mark.slow
def test_duckdb_queries_on_the_sandbox(sandbox_server, tmp_path, program):
    config = tmp_path / "config.yaml"
    config.write_text(f"admin:\n  endpoint: {sandbox_server['endpoint']}\n  insecure: true\n  authType: None\n")
    env = dict(os.environ, PYTHONPATH=str(REPO), HOME=str(tmp_path))
    for workflow in sorted(EXPECTED):
        done = subprocess.run([sys.executable, "-m", "flyrun.cli.main", "-c", str(config), "run", "--remote",
                               "--wait", "-o", "json", str(program), workflow], cwd=program.parent,
                              capture_output=True, text=True, env=env, timeout=240)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["outputs"] == {"o0": EXPECTED[workflow]}
