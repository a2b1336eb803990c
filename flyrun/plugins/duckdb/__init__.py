"""``DuckDBQuery`` (as ``flytekitplugins.duckdb``): SQL over StructuredDataset inputs with DuckDB.

duckdb is the optional extra ``flyrun[duckdb]``, imported only when a query runs.
"""

from flyrun.plugins.duckdb.task import DuckDBProvider, DuckDBQuery

__all__ = ["DuckDBProvider", "DuckDBQuery"]
