"""What serialization needs to know besides the entities: where, which version, which images, which bundle."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from flyrun.__about__ import __version__
from flyrun.compat import active
from flyrun.errors import UsageError

# Stands for the code bundle's location until it is uploaded (the convention `flytectl register` replaces).
BUNDLE_PLACEHOLDER = "{{ .remote_package_path }}"
DEFAULT_RESOLVER = "flyrun.default"
MAP_RESOLVER = "flyrun.map"


def default_image() -> str:
    """The image tasks run in when neither the task nor the config names one."""
    return f"ghcr.io/flyrun/flyrun:py{sys.version_info.major}.{sys.version_info.minor}-{__version__}"


@dataclass
class SerializationSettings:
    project: str
    domain: str
    version: str = ""
    # Named images (``images`` in config, ``--image name=uri``); ``default`` is used by tasks that name none.
    images: dict[str, str] = field(default_factory=dict)
    # Where task containers download the code bundle from; None when the code is baked into the image.
    bundle_url: str | None = BUNDLE_PLACEHOLDER
    dest_dir: str = "."
    env: dict[str, str] = field(default_factory=dict)
    # The import mode the code was loaded in ("flytekit": flytekit's names are flyrun's); tasks run in it too.
    compat: str = ""

    def image_for(self, requested: Any) -> str:
        """A task's image: a name from the images table, a full reference, an ImageSpec's reference (unless the
        images table names the spec: ``--image NAME=URI`` or config ``images`` win), or the default image."""
        from flyrun.sdk.image_spec import ImageSpec

        if isinstance(requested, ImageSpec):
            return self.images.get(requested.name) or requested.image_name()
        if not requested:
            return self.images.get("default") or default_image()
        if requested in self.images:
            return self.images[requested]
        if "{{" in requested:
            raise UsageError(f"image template {requested!r} is not supported",
                             hint="give the image a name with --image NAME=URI and use that name")
        return requested

    def identifier(self, resource_type: str, name: str) -> dict:
        return {"resource_type": resource_type, "project": self.project, "domain": self.domain, "name": name,
                "version": self.version}


def parse_images(values: list[str] | tuple[str, ...], configured: dict[str, str] | None) -> dict[str, str]:
    """``--image URI`` sets the default image, ``--image NAME=URI`` a named one; both win over config."""
    images = dict(configured or {})
    for value in values:
        name, sep, uri = value.partition("=")
        if not sep:
            name, uri = "default", value
        if not name or not uri:
            raise UsageError(f"--image {value!r} is not URI or NAME=URI")
        images[name] = uri
    return images


def settings_from_config(config, *, project: str | None = None, domain: str | None = None,
                         version: str | None = None, images: list[str] | tuple[str, ...] = ()) -> SerializationSettings:
    """Settings for package, register and run --remote: the command's options win over config
    (``task.project``, ``task.domain``, ``images``). The compatibility mode is the one the code was loaded in."""

    return SerializationSettings(project=project or config.get("task.project"),
                                 domain=domain or config.get("task.domain"), version=version or "",
                                 images=parse_images(images, config.get("images")), compat=active())
