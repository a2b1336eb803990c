"""A flytekit program with its own structured dataset format: a Grid frame type stored by a registered encoder and
read by a registered decoder, through ctx.file_access (tests/test_port_structured.py)."""

import os
import typing

from flytekit import task, workflow
from flytekit.types.structured import (
    StructuredDataset,
    StructuredDatasetDecoder,
    StructuredDatasetEncoder,
    StructuredDatasetTransformerEngine,
)

try:  # flytekit's models; flyrun takes flyteidl's messages (flytekit.models is an ImportError in compat mode)
    from flytekit.models.literals import StructuredDataset as StoredDataset
    from flytekit.models.literals import StructuredDatasetMetadata
    from flytekit.models.types import StructuredDatasetType
except ImportError:
    from flyteidl.core.literals_pb2 import StructuredDataset as StoredDataset
    from flyteidl.core.literals_pb2 import StructuredDatasetMetadata
    from flyteidl.core.types_pb2 import StructuredDatasetType


class Grid:
    def __init__(self, rows):
        self.rows = rows


class GridEncoder(StructuredDatasetEncoder):
    def __init__(self):
        super().__init__(Grid, None, "grid")

    def encode(self, ctx, structured_dataset, structured_dataset_type):
        grid = structured_dataset.dataframe
        local = ctx.file_access.get_random_local_directory()
        with open(os.path.join(local, "00000"), "w") as file:
            file.write("\n".join(",".join(map(str, row)) for row in grid.rows))
        remote = ctx.file_access.get_random_remote_directory()
        ctx.file_access.put_data(local, remote, is_multipart=True)
        return StoredDataset(uri=remote, metadata=StructuredDatasetMetadata(
            structured_dataset_type=StructuredDatasetType(format="grid")))


class GridDecoder(StructuredDatasetDecoder):
    def __init__(self):
        super().__init__(Grid, None, "grid")

    def decode(self, ctx, flyte_value, current_task_metadata):
        local = ctx.file_access.get_random_local_directory()
        ctx.file_access.get_data(flyte_value.uri, local, is_multipart=True)
        names = [os.path.join(d, n) for d, _, files in os.walk(local) for n in files]
        with open(sorted(names)[0]) as file:
            return Grid([[int(v) for v in line.split(",")] for line in file.read().splitlines()])


StructuredDatasetTransformerEngine.register(GridEncoder(), default_format_for_type=True)
StructuredDatasetTransformerEngine.register(GridDecoder(), default_format_for_type=True)


@task
def make(n: int) -> Grid:
    return Grid([[i, i * i] for i in range(n)])


@task
def total(g: Grid) -> int:
    return sum(sum(row) for row in g.rows)


@task
def via_dataset(sd: StructuredDataset) -> int:
    return sum(sum(row) for row in sd.open(Grid).all().rows)


@task
def wrapped(n: int) -> typing.Annotated[StructuredDataset, "grid"]:
    return StructuredDataset(dataframe=Grid([[n, n]]))


@workflow
def wf(n: int) -> int:
    return total(g=make(n=n))


@workflow
def wf_dataset(n: int) -> int:
    return via_dataset(sd=make(n=n))


@workflow
def wf_wrapped(n: int) -> int:
    return total(g=wrapped(n=n))
