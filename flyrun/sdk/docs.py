"""flytekit's entity documentation: ``@task(docs=Documentation(short_description=..., long_description=
Description(value=..., format=...), source_code=SourceCode(link=...)))``, and the same on ``@workflow``.

Registered as flytekit 1.16 registers it: the ``description`` (an admin ``DescriptionEntity``) of the ``TaskSpec``
or ``WorkflowSpec``. As in flytekit, a function's docstring fills it in too, and wins: its first line is the short
description and the rest, up to the parameter sections, the long one (format RST). A task or workflow without
docs or a docstring still gets an empty RST long description, as `pyflyte package` writes it.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flyrun.errors import WorkflowDefinitionError

if TYPE_CHECKING:
    import docstring_parser

# flytekit refuses a long description whose value is larger (translator.py); a uri is the way out.
MAX_LONG_DESCRIPTION = 16 * 1024 * 1024


def _optional_text(owner: str, name: str, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise WorkflowDefinitionError(f"{owner}: {name} must be a string, not {value!r}")


@dataclass
class Description:
    """A long description: its text (``value``) or where it is (``uri``), its format and an icon."""

    class DescriptionFormat(enum.Enum):
        UNKNOWN = 0
        MARKDOWN = 1
        HTML = 2
        RST = 3

    value: str | None = None
    uri: str | None = None
    icon_link: str | None = None
    format: Description.DescriptionFormat = DescriptionFormat.RST

    def __post_init__(self) -> None:
        for name in ("value", "uri", "icon_link"):
            _optional_text("Description", name, getattr(self, name))
        if self.value and self.uri:  # one field of the message's oneof: flytekit would keep the uri silently
            raise WorkflowDefinitionError("Description: give value or uri, not both",
                                          hint='Description(value="# Title ...") or Description(uri="https://...")')
        if not isinstance(self.format, Description.DescriptionFormat):
            raise WorkflowDefinitionError(f"Description: format must be a Description.DescriptionFormat "
                                          f"(MARKDOWN, HTML, RST), not {self.format!r}")
        if self.value and len(self.value.encode()) > MAX_LONG_DESCRIPTION:
            raise WorkflowDefinitionError("Description: value is larger than 16 MiB",
                                          hint="put the text somewhere and give its uri instead")

    def to_wire(self) -> dict:
        """``admin.Description`` in protojson."""
        wire: dict[str, Any] = {}
        if self.value:
            wire["value"] = self.value
        elif self.uri:
            wire["uri"] = self.uri
        wire["format"] = f"DESCRIPTION_FORMAT_{self.format.name}"
        if self.icon_link:
            wire["icon_link"] = self.icon_link
        return wire


@dataclass
class SourceCode:
    """Where the entity's source code is (a link)."""

    link: str | None = None

    def __post_init__(self) -> None:
        _optional_text("SourceCode", "link", self.link)

    def to_wire(self) -> dict:
        return {"link": self.link} if self.link else {}


@dataclass
class Documentation:
    """What a task or workflow is for: a one-line summary, a long description and a link to its source."""

    short_description: str | None = None
    long_description: Description | None = None
    source_code: SourceCode | None = None

    def __post_init__(self) -> None:
        _optional_text("Documentation", "short_description", self.short_description)
        if self.long_description is not None and not isinstance(self.long_description, Description):
            raise WorkflowDefinitionError(f"Documentation: long_description must be a Description(...), not "
                                          f"{type(self.long_description).__name__}",
                                          hint='long_description=Description(value="...")')
        if self.source_code is not None and not isinstance(self.source_code, SourceCode):
            raise WorkflowDefinitionError(f"Documentation: source_code must be a SourceCode(link=...), not "
                                          f"{type(self.source_code).__name__}")

    def to_wire(self) -> dict:
        """``admin.DescriptionEntity`` in protojson (the ``description`` of a task or workflow spec)."""
        wire: dict[str, Any] = {}
        if self.short_description:
            wire["short_description"] = self.short_description
        if self.long_description is not None:
            wire["long_description"] = self.long_description.to_wire()
        if self.source_code is not None:
            wire["source_code"] = self.source_code.to_wire()
        return wire


def checked_docs(docs: Any, where: str) -> Documentation | None:
    """``docs=`` of a task or workflow."""
    if docs is None or isinstance(docs, Documentation):
        return docs
    raise WorkflowDefinitionError(f"{where}: docs must be a Documentation(...), not {type(docs).__name__}",
                                  hint='docs=Documentation(short_description="...", '
                                       'long_description=Description(value="..."))')


def _parsed(doc: str | None) -> docstring_parser.Docstring | None:
    if not doc or not doc.strip():
        return None
    import docstring_parser  # only for a function that has a docstring: ~10 ms to import

    return docstring_parser.parse(doc)


def docstring_parts(doc: str | None) -> tuple[str | None, str | None]:
    """A docstring's short description (its first line) and long one (the rest, up to the parameter sections)."""
    parsed = _parsed(doc)
    return (parsed.short_description, parsed.long_description) if parsed else (None, None)


def description(docs: Documentation | None, fn: Any) -> dict:
    """The ``DescriptionEntity`` a task or workflow is registered with: its docs, with its docstring's parts
    over them, as flytekit 1.16 merges them."""
    short, long = docstring_parts(getattr(fn, "__doc__", None))
    if docs is None:
        docs = Documentation(short_description=short, long_description=Description(value=long))
    else:
        docs = dataclasses.replace(docs)
        if short:
            docs.short_description = short
        if long:
            docs.long_description = Description(value=long)
    return docs.to_wire()


def docstring_variables(doc: str | None) -> tuple[dict[str, str], dict[str | None, str]]:
    """The docstring's input descriptions by name and its return descriptions (by name where it names them, else
    under ``None``): reST fields, Google sections and numpydoc sections, read by flytekit's own parser."""
    parsed = _parsed(doc)
    if parsed is None:
        return {}, {}
    return ({param.arg_name: param.description or "" for param in parsed.params},
            {item.return_name: item.description or "" for item in parsed.many_returns})


def variable_descriptions(fn: Any, inputs: Any, outputs: Any) -> tuple[dict[str, str], dict[str, str]]:
    """Each input's and output's description from the function's docstring (its name where the docstring has none,
    as flytekit writes them); one return description is shared by every output."""
    described_inputs, described_returns = docstring_variables(getattr(fn, "__doc__", None))
    if len(described_returns) == 1:
        shared = next(iter(described_returns.values()))
        described_returns = {name: shared for name in outputs}
    return ({name: described_inputs.get(name, name) for name in inputs},
            {name: described_returns.get(name, name) or name for name in outputs})
