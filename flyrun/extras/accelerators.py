"""flytekit's ``flytekit.extras.accelerators``: the GPU or TPU a task node asks for (``accelerator=``).

Each accelerator becomes a ``flyteidl.core.GPUAccelerator``: a device name that propeller maps to a node selector,
and for multi-instance GPUs and TPU slices a partition (``A100.partition_1g_5gb``, ``V5P.slice_2x2x1``) or
``.unpartitioned``. A local run or the sandbox records them and runs the task on this machine as it is.
"""

from __future__ import annotations

from typing import Any

__all__ = ["A10G", "A100", "A100_80GB", "H100", "H200", "K80", "L4", "L40S", "L4_VWS", "M60", "P4", "P100",
           "RTX_PRO_6000", "T4", "V5E", "V5P", "V6E", "V100", "BaseAccelerator", "GPUAccelerator",
           "MultiInstanceGPUAccelerator"]


class BaseAccelerator:
    """An accelerator request; ``to_wire()`` is its ``GPUAccelerator`` as a protojson dict."""

    device: str

    def to_wire(self) -> dict[str, Any]:
        raise NotImplementedError

    def to_flyte_idl(self) -> Any:
        """The ``flyteidl.core.tasks_pb2.GPUAccelerator`` message, as flytekit's method gives it."""
        from flyteidl.core import tasks_pb2
        from google.protobuf import json_format

        return json_format.ParseDict(self.to_wire(), tasks_pb2.GPUAccelerator())


class GPUAccelerator(BaseAccelerator):
    """A whole device of one kind (``GPUAccelerator("nvidia-tesla-t4")``)."""

    def __init__(self, device: str) -> None:
        if not isinstance(device, str) or not device:
            raise ValueError(f"an accelerator's device must be a non-empty name, not {device!r}")
        self.device = device

    def to_wire(self) -> dict[str, Any]:
        return {"device": self.device}

    def __repr__(self) -> str:
        return f"GPUAccelerator({self.device!r})"


class MultiInstanceGPUAccelerator(BaseAccelerator):
    """A device that can be partitioned: the whole device unless a partition is chosen."""

    def __init__(self, device: str, partition_size: str | None = None, unpartitioned: bool = False) -> None:
        self.device = device
        self.partition_size = partition_size
        self._unpartitioned = unpartitioned

    @property
    def unpartitioned(self) -> MultiInstanceGPUAccelerator:
        """The whole device, said explicitly (``unpartitioned: true`` on the wire)."""
        return type(self)(self.device, unpartitioned=True)

    def partitioned(self, partition_size: str) -> MultiInstanceGPUAccelerator:
        return type(self)(self.device, partition_size=partition_size)

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"device": self.device}
        if self._unpartitioned:
            wire["unpartitioned"] = True
        elif self.partition_size:
            wire["partition_size"] = self.partition_size
        return wire

    def __repr__(self) -> str:
        part = " unpartitioned" if self._unpartitioned else f" {self.partition_size}" if self.partition_size else ""
        return f"<accelerator {self.device}{part}>"


def _partitions(device: str, attribute_prefix: str, sizes: list[str]) -> MultiInstanceGPUAccelerator:
    """A partitionable device with one attribute per partition flytekit names (``partition_1g_5gb``)."""
    names = {f"{attribute_prefix}{size.replace('.', '_')}": size for size in sizes}

    def lookup(self: MultiInstanceGPUAccelerator, name: str) -> MultiInstanceGPUAccelerator:
        if name in names:
            return self.partitioned(names[name])
        raise AttributeError(f"{device} has no partition '{name}'; partitions are: {', '.join(names)}")

    kind = type(f"_{device}", (MultiInstanceGPUAccelerator,), {"__getattr__": lookup, "__dir__": lambda self: [
        *object.__dir__(self), *names]})
    return kind(device)


A10G = GPUAccelerator("nvidia-a10g")
L4 = GPUAccelerator("nvidia-l4")
L4_VWS = GPUAccelerator("nvidia-l4-vws")
L40S = GPUAccelerator("nvidia-l40s")
K80 = GPUAccelerator("nvidia-tesla-k80")
M60 = GPUAccelerator("nvidia-tesla-m60")
P4 = GPUAccelerator("nvidia-tesla-p4")
P100 = GPUAccelerator("nvidia-tesla-p100")
T4 = GPUAccelerator("nvidia-tesla-t4")
V100 = GPUAccelerator("nvidia-tesla-v100")
H100 = GPUAccelerator("nvidia-h100")
H200 = GPUAccelerator("nvidia-h200")
RTX_PRO_6000 = GPUAccelerator("nvidia-rtx-pro-6000")
# Multi-instance GPU profiles (compute slices "g", memory "gb") and TPU slice topologies, as flytekit names them.
A100 = _partitions("nvidia-tesla-a100", "partition_", ["1g.5gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb"])
A100_80GB = _partitions("nvidia-a100-80gb", "partition_",
                        ["1g.10gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"])
_TPU_2D = ["1x1", "2x2", "2x4", "4x4", "4x8", "8x8", "8x16", "16x16"]
V5E = _partitions("tpu-v5-lite-podslice", "slice_", _TPU_2D)
V5P = _partitions("tpu-v5p-slice", "slice_", ["2x2x1", "2x2x2", "2x4x4", "4x4x4", "4x4x8", "4x8x8", "8x8x8",
                                              "8x8x16", "8x16x16", "16x16x16", "16x16x24"])
V6E = _partitions("tpu-v6e-slice", "slice_", _TPU_2D)
