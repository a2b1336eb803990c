"""SQL over data frames with DuckDB (flytekitplugins.duckdb's DuckDBQuery, ported by changing the import).

    pip install 'flyrun[duckdb]'
    flyrun run examples/duckdb_query.py fares_wf --n 1000 --min_fare 100
    flyrun run examples/duckdb_query.py items_wf
    flyrun run --remote examples/duckdb_query.py fares_wf      # on `flyrun sandbox` or a Flyte cluster

A StructuredDataset (or data frame) input is a table named after the input; a scalar input is the named parameter
``$name``; a ``list`` input holds positional parameters, one entry per query that has some when there are several
queries. The last query's result is the task's output ``result``, a StructuredDataset.
"""

from typing import List

import pandas as pd

from flyrun import kwtypes, task, workflow
from flyrun.plugins.duckdb import DuckDBQuery
from flyrun.types.structured import StructuredDataset


@task
def make_trips(n: int) -> StructuredDataset:
    import random

    rng = random.Random(7)
    return StructuredDataset(dataframe=pd.DataFrame({"vendor": [rng.randrange(3) for _ in range(n)],
                                                     "fare": [round(rng.uniform(2, 200), 2) for _ in range(n)]}))


fares_by_vendor = DuckDBQuery(
    name="fares_by_vendor",
    query="SELECT vendor, COUNT(*) AS trips, ROUND(AVG(fare), 2) AS mean_fare, MAX(fare) AS top_fare "
          "FROM trips WHERE fare > $min_fare GROUP BY vendor ORDER BY vendor",
    inputs=kwtypes(trips=StructuredDataset, min_fare=float),
)

items = DuckDBQuery(
    name="items",
    query=[
        "CREATE TABLE items(item VARCHAR, value DECIMAL(10,2), count INTEGER)",
        "INSERT INTO items VALUES (?, ?, ?)",
        "SELECT item, CAST(value * count AS DOUBLE) AS worth FROM items WHERE item <> $1 ORDER BY worth DESC",
    ],
    inputs=kwtypes(params=list),
)


@task
def as_rows(sd: StructuredDataset) -> List[str]:
    return [", ".join(map(str, row)) for row in sd.open(pd.DataFrame).all().itertuples(index=False)]


@workflow
def fares_wf(n: int = 1000, min_fare: float = 100.0) -> List[str]:
    return as_rows(sd=fares_by_vendor(trips=make_trips(n=n), min_fare=min_fare))


@workflow
def items_wf() -> List[str]:
    return as_rows(sd=items(params=[[["chainsaw", 500, 10], ["iphone", 300, 2], ["duck", 5, 3]], ["duck"]]))
