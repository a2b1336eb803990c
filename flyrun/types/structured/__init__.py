"""``StructuredDataset`` (as ``flytekit.types.structured``): a table stored as parquet or CSV files under a URI.

``from flyrun.types.structured import StructuredDataset``; implementation in ``flyrun.types.structured.dataset``.
Encoders and decoders of other frame types or formats: ``flyrun.types.structured.handlers``.
"""

from flyrun.types.structured.dataset import CSV, PARQUET, StructuredDataset
from flyrun.types.structured.handlers import (
    GENERIC_FORMAT,
    StructuredDatasetDecoder,
    StructuredDatasetEncoder,
    StructuredDatasetTransformerEngine,
)

__all__ = ["CSV", "GENERIC_FORMAT", "PARQUET", "StructuredDataset", "StructuredDatasetDecoder",
           "StructuredDatasetEncoder", "StructuredDatasetTransformerEngine"]
