"""flytekit's structured dataset handlers: ``StructuredDatasetEncoder``/``StructuredDatasetDecoder`` subclasses for
a frame type, a storage protocol and a format, registered with ``StructuredDatasetTransformerEngine.register``.

A registered frame type becomes a dataset type (``-> MyFrame`` is a structured dataset, as with flytekit). Writing
a value, the encoder for (its type, the raw output prefix's protocol, the format) is asked first, then one
registered for every protocol (``protocol=None``) or every format (``""``); reading, the decoder alike. Handlers
get flytekit's ``FlyteContext`` (``ctx.file_access``) and speak flyteidl's messages
(``literals_pb2.StructuredDataset``, ``StructuredDatasetMetadata``, ``types_pb2.StructuredDatasetType``), as custom
transformers do. Types and formats without a handler keep flyrun's own pandas/pyarrow/polars parquet and CSV code.
"""

from __future__ import annotations

from typing import Any

from flyrun.errors import WorkflowDefinitionError

GENERIC_FORMAT = ""
ANY_PROTOCOL = "fsspec"  # flytekit's key for a handler registered without a protocol


class _Handler:
    def __init__(self, python_type: type, protocol: str | None = None, supported_format: str | None = None) -> None:
        self._python_type = python_type
        self._protocol = protocol.replace("://", "") if protocol else None
        self._supported_format = supported_format or GENERIC_FORMAT

    @property
    def python_type(self) -> type:
        return self._python_type

    @property
    def protocol(self) -> str | None:
        return self._protocol

    @property
    def supported_format(self) -> str:
        return self._supported_format

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({getattr(self._python_type, '__name__', self._python_type)}, "
                f"protocol={self._protocol!r}, format={self._supported_format!r})")


class StructuredDatasetEncoder(_Handler):
    """Writes a frame of ``python_type`` and returns its ``literals_pb2.StructuredDataset`` (uri and metadata)."""

    def encode(self, ctx: Any, structured_dataset: Any, structured_dataset_type: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.encode")


class StructuredDatasetDecoder(_Handler):
    """Reads a stored dataset (``flyte_value``: its uri and metadata) as ``python_type`` (or an iterator of them)."""

    def __init__(self, python_type: type, protocol: str | None = None, supported_format: str | None = None,
                 additional_protocols: list[str] | None = None) -> None:
        super().__init__(python_type, protocol, supported_format)
        self._additional_protocols = list(additional_protocols or [])

    def decode(self, ctx: Any, flyte_value: Any, current_task_metadata: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.decode")


# python type -> protocol -> format -> handler
_Table = dict[type, dict[str, dict[str, Any]]]
_ENCODERS: _Table = {}
_DECODERS: _Table = {}


class StructuredDatasetTransformerEngine:
    """Where handlers are registered (flytekit's class and call shape)."""

    DEFAULT_FORMATS: dict[type, str] = {}
    DEFAULT_PROTOCOLS: dict[type, str] = {}
    ENCODERS = _ENCODERS
    DECODERS = _DECODERS

    @classmethod
    def register(cls, h: Any, default_for_type: bool = False, override: bool = False,
                 default_format_for_type: bool = False, default_storage_for_type: bool = False) -> None:
        if not isinstance(h, (StructuredDatasetEncoder, StructuredDatasetDecoder)):
            raise WorkflowDefinitionError(f"StructuredDatasetTransformerEngine.register takes a "
                                          f"StructuredDatasetEncoder or StructuredDatasetDecoder, not {h!r}")
        if not isinstance(h.python_type, type):
            raise WorkflowDefinitionError(f"{h!r}: python_type must be a class, not {h.python_type!r}")
        if h.protocol is None and default_for_type:
            raise WorkflowDefinitionError(f"{h!r}: a handler for every protocol cannot be the default for its type",
                                          hint="give it a protocol, or leave out default_for_type")
        protocols = [ANY_PROTOCOL if h.protocol is None else ("file" if h.protocol == "/" else h.protocol)]
        if isinstance(h, StructuredDatasetDecoder):
            protocols += list(h._additional_protocols)
        table = _ENCODERS if isinstance(h, StructuredDatasetEncoder) else _DECODERS
        for protocol in protocols:
            formats = table.setdefault(h.python_type, {}).setdefault(protocol, {})
            if h.supported_format in formats and not override:
                raise WorkflowDefinitionError(
                    f"{'a decoder' if isinstance(h, StructuredDatasetDecoder) else 'an encoder'} for "
                    f"({h.python_type.__name__}, {protocol}, {h.supported_format or 'any format'}) is already "
                    "registered", hint="pass override=True to replace it")
            formats[h.supported_format] = h
        if (default_format_for_type or default_for_type) and h.supported_format:
            if override or h.python_type not in cls.DEFAULT_FORMATS:
                cls.DEFAULT_FORMATS[h.python_type] = h.supported_format
        if (default_storage_for_type or default_for_type) and h.protocol:
            if override or h.python_type not in cls.DEFAULT_PROTOCOLS:
                cls.DEFAULT_PROTOCOLS[h.python_type] = h.protocol


def is_registered(python_type: Any) -> bool:
    return isinstance(python_type, type) and any(_lookup(table, python_type) for table in (_ENCODERS, _DECODERS))


def registered_formats() -> set[str]:
    return {fmt for table in (_ENCODERS, _DECODERS) for protocols in table.values()
            for formats in protocols.values() for fmt in formats if fmt}


def default_format(python_type: Any) -> str:
    for klass in getattr(python_type, "__mro__", ()):
        if klass in StructuredDatasetTransformerEngine.DEFAULT_FORMATS:
            return StructuredDatasetTransformerEngine.DEFAULT_FORMATS[klass]
    return GENERIC_FORMAT


def _lookup(table: _Table, python_type: type) -> dict[str, dict[str, Any]] | None:
    for klass in python_type.__mro__:
        if klass in table:
            return table[klass]
    return None


def _find(table: _Table, python_type: Any, protocol: str, fmt: str) -> Any:
    if not isinstance(python_type, type):
        return None
    protocols = _lookup(table, python_type)
    if not protocols:
        return None
    for chosen in (protocol, ANY_PROTOCOL):
        formats = protocols.get(chosen) or {}
        for wanted in (fmt, GENERIC_FORMAT):
            if wanted in formats:
                return formats[wanted]
    return None


def encoder_for(python_type: Any, protocol: str, fmt: str) -> StructuredDatasetEncoder | None:
    return _find(_ENCODERS, python_type, protocol, fmt)


def decoder_for(python_type: Any, protocol: str, fmt: str) -> StructuredDatasetDecoder | None:
    return _find(_DECODERS, python_type, protocol, fmt)
