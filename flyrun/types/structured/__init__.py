"""``StructuredDataset`` (as ``flytekit.types.structured``): a table stored as parquet or CSV files under a URI.

``from flyrun.types.structured import StructuredDataset``; implementation in ``flyrun.types.structured.dataset``.
"""

from flyrun.types.structured.dataset import CSV, PARQUET, StructuredDataset

__all__ = ["CSV", "PARQUET", "StructuredDataset"]
