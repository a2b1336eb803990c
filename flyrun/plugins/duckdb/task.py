"""``DuckDBQuery``: a task whose body is one SQL query or a list of them, run by an in-memory DuckDB.

Inputs (flytekit's rules): a StructuredDataset, pandas DataFrame or pyarrow Table input is registered as a table
named after the input; a ``list`` input holds positional parameters (``?``/``$1``): for a list of queries, one entry
per query that has parameters, in order, and an INSERT given a list of rows runs once per row. Other scalar inputs
(int, float, str, bool, dates) are named parameters: ``$min_age`` in the SQL is the input ``min_age``. Queries run in
order on one connection; the last query's result is the output ``result``, a StructuredDataset.

On the wire it is an ordinary python task whose container imports the module-level variable holding it (as
ShellTask), so any cluster running flyrun-execute runs it; its name is the ``name`` given.
"""

from __future__ import annotations

import enum
import inspect
import re
from typing import Any

from flyrun.errors import TaskExecutionError, UsageError, WorkflowDefinitionError
from flyrun.plugins.duckdb.params import QueryParameters
from flyrun.sdk.entity import ModuleLevelEntity
from flyrun.sdk.interface import Interface
from flyrun.sdk.params import task_scope
from flyrun.sdk.task import (
    apply_python_task_options,
    cached_execute,
    run_with_retries,
)
from flyrun.types.structured import StructuredDataset
from flyrun.types.structured.dataset import PARQUET, data_files, storage_is_local

__all__ = ["DuckDBProvider", "DuckDBQuery"]

INSTALL = "pip install 'flyrun[duckdb]'"
_TABLE_KINDS = ("StructuredDataset", "DataFrame", "Table")


class DuckDBProvider(enum.Enum):
    """Where the queries run: an in-memory database, or MotherDuck (``md:``, token from the first secret request)."""

    LOCAL = "local"
    MOTHERDUCK = "motherduck"


def _is_table_type(python_type: Any) -> bool:
    base = getattr(python_type, "__origin__", None) if hasattr(python_type, "__metadata__") else python_type
    return getattr(base, "__name__", "") in _TABLE_KINDS


def _is_list_type(python_type: Any) -> bool:
    return (isinstance(python_type, type) and issubclass(python_type, list)) or \
        getattr(python_type, "__origin__", None) is list


class DuckDBQuery(ModuleLevelEntity):
    kind = "task"
    task_type = "python-task"
    # Set by apply_python_task_options, as a python task has them.
    environment: dict[str, str]
    secret_requests: list[Any]

    def __init__(self, name: str, query: str | list[str], inputs: dict[str, Any] | None = None,
                 provider: DuckDBProvider | None = None, retries: int = 0, **options: Any) -> None:
        caller = inspect.stack()[1]
        where = f"{caller.filename}:{caller.lineno}: DuckDBQuery '{name}'"
        queries = [query] if isinstance(query, str) else list(query or [])
        if not queries or not all(isinstance(text, str) and text.strip() for text in queries):
            raise WorkflowDefinitionError(f"{where}: query= must be a SQL string or a non-empty list of them")
        # A bare ``list`` (flytekit's examples) holds mixed rows no typed list literal can; see params.py.
        inputs = {key: QueryParameters if python_type is list else python_type
                  for key, python_type in (inputs or {}).items()}
        lists = [key for key, python_type in inputs.items() if _is_list_type(python_type)]
        if len(lists) > 1:
            raise WorkflowDefinitionError(f"{where}: at most one list input holds query parameters; got "
                                          f"{', '.join(lists)}")
        self.provider = provider or DuckDBProvider.LOCAL
        if not isinstance(self.provider, DuckDBProvider):
            raise WorkflowDefinitionError(f"{where}: provider= must be DuckDBProvider.LOCAL or .MOTHERDUCK")
        self.name = name
        self.queries = queries
        self._module = caller.frame.f_globals.get("__name__", "__main__")

        self.interface = Interface(inputs=inputs, outputs={"result": StructuredDataset})
        apply_python_task_options(self, options, where, retries)
        if self.provider is DuckDBProvider.MOTHERDUCK and not self.secret_requests:
            raise WorkflowDefinitionError(f"{where}: provider=DuckDBProvider.MOTHERDUCK needs the MotherDuck token "
                                          "as a secret: secret_requests=[Secret(group=..., key=...)]")


    @property
    def query(self) -> str | list[str]:
        return self.queries[0] if len(self.queries) == 1 else list(self.queries)

    def local_execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        _duckdb(self.name)  # a missing extra is a set-up problem, said before any attempt (not retried)
        return cached_execute(self, inputs, lambda given: run_with_retries(self, given))

    def run_function(self, inputs: dict[str, Any], attempt: int | None = None) -> dict[str, Any]:
        duckdb = _duckdb(self.name)
        with task_scope(self, inputs, attempt) as params:
            params.outputs = self._run(duckdb, inputs, params)
            return params.outputs

    def _connect(self, duckdb: Any, params: Any) -> Any:
        if self.provider is DuckDBProvider.MOTHERDUCK:
            secret = self.secret_requests[0]
            token = params.secrets.get(getattr(secret, "group", None), getattr(secret, "key", None))
            return duckdb.connect("md:", config={"motherduck_token": token})
        return duckdb.connect(":memory:")

    def _run(self, duckdb: Any, inputs: dict[str, Any], params: Any) -> dict[str, Any]:
        connection = self._connect(duckdb, params)
        try:
            positional: list[Any] | None = None
            named: dict[str, Any] = {}
            for key, python_type in self.interface.inputs.items():
                value = inputs.get(key)
                if isinstance(value, StructuredDataset):
                    _register_dataset(connection, key, value)
                elif _is_table_type(python_type):
                    connection.register(key, value)
                elif isinstance(value, list):
                    positional = value
                else:
                    named[key] = value
            result = None
            counter = -1
            many = len(self.queries) > 1
            for text in self.queries:
                wanted = {key: value for key, value in named.items() if re.search(rf"\${re.escape(key)}\b", text)}
                if positional is not None and re.search(r"\?|\$\d", text):
                    if many:
                        counter += 1
                        if counter >= len(positional):
                            raise ValueError(f"query {text!r} has parameters, but the list input has only "
                                             f"{len(positional)} entries (one per query with parameters)")
                        given = positional[counter]
                    else:
                        given = positional
                    rows = isinstance(given, list) and bool(given) and all(isinstance(row, list) for row in given)
                    if rows and text.lstrip().lower().startswith("insert"):
                        result = connection.executemany(text, given)
                    else:
                        result = connection.execute(text, given)
                else:
                    result = connection.execute(text, wanted) if wanted else connection.execute(text)
            table = _arrow(result)
        except duckdb.Error as exc:
            raise TaskExecutionError(self.name, exc) from None
        except ValueError as exc:
            raise TaskExecutionError(self.name, exc) from None
        finally:
            connection.close()
        return {"result": StructuredDataset(dataframe=table)}

    def __repr__(self) -> str:
        return f"<duckdb query {self.name}>"


def _register_dataset(connection: Any, name: str, value: Any) -> None:
    """A local parquet dataset is a view over its files, which DuckDB scans in parallel without loading them (memory
    stays bounded for data larger than RAM); an in-memory frame, CSV or remote data is registered as an Arrow table."""
    if value.uri is None:
        connection.register(name, value.dataframe)
        return
    if value.file_format == PARQUET and storage_is_local(value.uri):
        files = [path[len("file://"):] if path.startswith("file://") else path for path in data_files(value.uri)]
        relation = connection.read_parquet(files)
        columns = getattr(value, "_columns", None)  # declared with Annotated[StructuredDataset, kwtypes(...)]
        if columns:
            relation = relation.select(*[f'"{column}"' for column in columns])
        relation.create_view(name)
        return
    import pyarrow as pa

    connection.register(name, value.open(pa.Table).all())


def _arrow(result: Any) -> Any:
    """The last result as a pyarrow Table (an empty one when the last statement returns no rows)."""
    import pyarrow as pa

    if result is None or result.description is None:
        return pa.table({})
    to_table = getattr(result, "to_arrow_table", None) or result.fetch_arrow_table
    return to_table()


def _duckdb(task_name: str) -> Any:
    try:
        import duckdb
    except ImportError:
        # One line, the fix included: no separate hint line.
        raise UsageError(f"DuckDBQuery '{task_name}' needs duckdb, which is not installed: {INSTALL}") from None
    return duckdb
