"""Command templates rendered as propeller renders a task's container command and arguments.

``{{.inputs.x}}`` (case-insensitive, ``.`` or ``$``, spaces allowed inside the braces) becomes the input's text
(``literals.template_text``); ``{{.input}}``, ``{{.inputPrefix}}``, ``{{.outputPrefix}}``,
``{{.rawOutputDataPrefix}}``, ``{{.checkpointOutputPrefix}}``, ``{{.prevCheckpointPrefix}}`` become the paths the
runner passes in ``values`` (keys in lower case); any other template is left as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flyrun.protocol.literals import NotTemplatable, template_text

# Propeller's input template (flyteplugins' pluginmachinery/utils/template.go).
INPUT_TEMPLATE = re.compile(r"(?i)\{\{\s*[.$]inputs\.([^}\s]+)\s*\}\}")
_TEMPLATE = re.compile(r"(?i)\{\{\s*[.$]([a-z]+)(?:\.([^}\s]+))?\s*\}\}")


class TemplateError(ValueError):
    """A template names an input that is missing or has no text form; the message names the template."""


def render(words: list[str], inputs: Any, values: Mapping[str, str] | None = None) -> list[str]:
    """``words`` with every template filled in; ``inputs`` is a ``LiteralMap`` message."""
    known = values or {}

    def replace(match: re.Match[str]) -> str:
        name, member = match.group(1).lower(), match.group(2)
        if member is None:
            return known.get(name, match.group(0))
        if name != "inputs":
            return match.group(0)
        if member not in inputs.literals:
            raise TemplateError(f"{match.group(0)}: there is no input {member!r} (inputs: "
                                f"{', '.join(sorted(inputs.literals)) or 'none'})")
        try:
            return template_text(inputs.literals[member])
        except NotTemplatable as error:
            raise TemplateError(f"{match.group(0)}: {error}") from None

    return [_TEMPLATE.sub(replace, word) for word in words]


def map_data_dirs(words: list[str], mapping: Mapping[str, str]) -> list[str]:
    """Replace every mention of a container path (``/var/inputs``, ``/var/outputs/x``) with a folder on this
    machine, for running a raw container's command on the host."""
    mapped = words
    for container_dir, host_dir in mapping.items():
        if container_dir:
            pattern = re.compile(re.escape(container_dir.rstrip("/") or "/") + r"(?=/|$|[^\w.-])")
            replacement = host_dir.replace("\\", "\\\\")  # a literal path, not a template
            mapped = [pattern.sub(replacement, word) for word in mapped]
    return mapped
