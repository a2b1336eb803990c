"""``ImageSpec``: a task image described by what goes in it, in flytekit's shape.

A spec names its image ``[registry/]name:tag``, where the tag is a hash of the canonical spec (and of the files it
copies in: the requirements file, ``source_root``, ``copy``), so a change to any of them gives a new reference and an
unchanged spec gives the same one on any machine. ``flyrun build`` turns a spec into a Dockerfile (``dockerfile``)
and builds it with docker or podman. Nothing here runs at import time beyond the field checks: a task module is also
imported inside its container, where the requirements file and source folder may not exist.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shlex
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flyrun.__about__ import __version__
from flyrun.errors import UsageError

# Docker's grammar for a repository path component, and for a registry (host[:port][/path]).
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_NAME = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_REGISTRY = re.compile(rf"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]+)?(?:/{_COMPONENT})*$")
_PYTHON_VERSION = re.compile(r"^3\.[0-9]+(?:\.[0-9]+)?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PLATFORM = re.compile(r"^[a-z0-9]+/[a-z0-9]+(?:/[a-z0-9]+)?(?:,[a-z0-9]+/[a-z0-9]+(?:/[a-z0-9]+)?)*$")
_BUILDERS = (None, "default", "docker", "podman")
# flytekit fields flyrun's Dockerfile builder has no way to honour: refused when set rather than silently dropped.
_UNSUPPORTED = {"conda_packages": "list them in packages, or use a base_image that has them",
                "conda_channels": "use packages from PyPI, or a base_image that has them",
                "cuda": "use a CUDA base_image (for example nvidia/cuda:12.2.0-runtime-ubuntu22.04)",
                "cudnn": "use a CUDA base_image that includes cuDNN"}
# What the tag hashes besides the fields: the files a build copies in. Hidden folders and bytecode are not code.
_SKIP_PARTS = {"__pycache__", ".git", ".hg", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".venv", "node_modules"}
IMAGE_SOURCE_DIR = "/root"
_PACKAGE = Path(__file__).resolve().parent.parent


def _where() -> str:
    """``file:line`` of the user code that built the spec (the frame outside this module and dataclasses)."""
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename in (__file__, dataclasses.__file__, "<string>"):
        frame = frame.f_back
    if frame is None or Path(frame.f_code.co_filename).resolve().is_relative_to(_PACKAGE):
        return ""  # built by flyrun itself (a YAML spec): the caller names the origin
    return f"{frame.f_code.co_filename}:{frame.f_lineno}: "


@dataclass
class ImageSpec:
    """The image a task runs in, by content: ``@task(container_image=ImageSpec(packages=["pandas"]))``."""

    name: str = "flyrun"
    python_version: str | None = None
    builder: str | None = None
    source_root: str | None = None
    env: dict[str, str] | None = None
    registry: str | None = None
    packages: list[str] | None = None
    conda_packages: list[str] | None = None
    conda_channels: list[str] | None = None
    requirements: str | None = None
    apt_packages: list[str] | None = None
    cuda: str | None = None
    cudnn: str | None = None
    base_image: str | ImageSpec | None = None
    platform: str = "linux/amd64"
    pip_index: str | None = None
    pip_extra_index_url: list[str] | None = None
    entrypoint: list[str] | None = None
    commands: list[str] | None = None
    tag_format: str | None = None
    copy: list[str] | None = None
    # Where relative paths (requirements, source_root, copy) start: the spec file's folder for YAML, else the cwd.
    base_dir: str | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._where = _where()
        self._tag: str | None = None
        self._check()

    # --- validation -------------------------------------------------------------------------------------------

    def _fail(self, message: str, hint: str | None = None) -> UsageError:
        return UsageError(f"{self._where}ImageSpec {self.name!r}: {message}", hint=hint)

    def _check(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise UsageError(f"{self._where}ImageSpec name {self.name!r} is not a valid image name",
                             hint="use lowercase letters, digits and . _ - (for example name=\"my-image\")")
        for key, hint in _UNSUPPORTED.items():
            if getattr(self, key) not in (None, [], ""):
                raise self._fail(f"{key} is not supported by flyrun's image builder", hint=hint)
        if self.registry is not None and (not isinstance(self.registry, str) or not _REGISTRY.match(self.registry)):
            raise self._fail(f"registry {self.registry!r} is not host[:port][/path]",
                             hint="for example registry=\"ghcr.io/my-org\" or \"localhost:30000\"")
        if self.python_version is not None and (not isinstance(self.python_version, str)
                                                or not _PYTHON_VERSION.match(self.python_version)):
            raise self._fail(f"python_version must be a string like \"3.11\", not {self.python_version!r}")
        if self.builder not in _BUILDERS:
            raise self._fail(f"builder {self.builder!r} is not supported",
                             hint="use docker or podman (or leave it out)")
        for key in ("packages", "apt_packages", "commands", "pip_extra_index_url", "entrypoint", "copy"):
            self._check_words(key)
        for key in ("source_root", "requirements", "pip_index", "tag_format"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise self._fail(f"{key} must be a non-empty string, not {value!r}")
        if self.env is not None:
            if not isinstance(self.env, dict):
                raise self._fail(f"env must be a mapping of names to strings, not {self.env!r}")
            for key, value in self.env.items():
                if not isinstance(key, str) or not _ENV_NAME.match(key) or not isinstance(value, str):
                    raise self._fail(f"env {key!r}: {value!r}: names must be identifiers and values strings")
        if not isinstance(self.platform, str) or not _PLATFORM.match(self.platform):
            raise self._fail(f"platform {self.platform!r} is not os/arch", hint="for example \"linux/amd64\"")
        if self.tag_format is not None and "{spec_hash}" not in self.tag_format:
            raise self._fail(f"tag_format {self.tag_format!r} has no {{spec_hash}}",
                             hint="for example tag_format=\"{spec_hash}-dev\"")
        if self.base_image is not None and not isinstance(self.base_image, ImageSpec) and (
                not isinstance(self.base_image, str) or not self.base_image.strip() or " " in self.base_image):
            raise self._fail(f"base_image must be an image reference or an ImageSpec, not {self.base_image!r}")

    def _check_words(self, key: str) -> None:
        value = getattr(self, key)
        if value is None:
            return
        if isinstance(value, str):
            raise self._fail(f"{key} must be a list of strings, not the string {value!r}",
                             hint=f"write {key}=[{value!r}]")
        if not isinstance(value, (list, tuple)) or not all(isinstance(word, str) and word.strip() for word in value):
            raise self._fail(f"{key} must be a list of non-empty strings, not {value!r}")
        if key == "apt_packages":
            for word in value:
                if not re.match(r"^[a-z0-9][a-z0-9+.:=~-]*$", word):
                    raise self._fail(f"apt package {word!r} is not a Debian package name")
        setattr(self, key, list(value))

    # --- identity -----------------------------------------------------------------------------------------------

    def _path(self, given: str) -> Path:
        path = Path(given).expanduser()
        return path if path.is_absolute() else Path(self.base_dir or ".") / path

    def canonical(self) -> dict[str, Any]:
        """The fields that make up the image, without defaults left unset (so adding a field keeps old tags)."""
        spec: dict[str, Any] = {}
        for item in dataclasses.fields(self):
            if item.name in ("registry", "base_dir", "tag_format"):
                continue  # where the image is pushed or how its tag is spelled is not what is in it
            value = getattr(self, item.name)
            if value in (None, [], {}):
                continue
            spec[item.name] = value.image_name() if isinstance(value, ImageSpec) else value
        # What a build fills in when the spec is silent is part of the image too.
        if self.base_image is None:
            spec.setdefault("python_version", self._python())
        if self._installs_flyrun():
            spec["flyrun"] = __version__
        return spec

    def __hash__(self) -> int:
        # Hashable as flytekit's is (specs key caches and sets); by content, without reading any file.
        return hash(json.dumps(self.canonical(), sort_keys=True, default=str))

    def _python(self) -> str:
        return self.python_version or f"{sys.version_info.major}.{sys.version_info.minor}"

    def _installs_flyrun(self) -> bool:
        return not any(re.split(r"[\s\[=<>!~;@]", p, maxsplit=1)[0].lower() == "flyrun" for p in self.packages or ())

    def spec_hash(self) -> str:
        """sha256 of the canonical spec and of every file a build copies in; 20 base-32 characters."""
        import base64

        digest = hashlib.sha256(json.dumps(self.canonical(), sort_keys=True, separators=(",", ":")).encode())
        for label, given in self._inputs():
            path = self._path(given)
            if not path.exists():
                raise self._fail(f"{label} {given!r} does not exist (looked in {path.resolve().parent})",
                                 hint="paths are relative to the current folder (for a YAML spec, to its folder)")
            for file in _files_under(path):
                digest.update(f"\0{label}\0{file.relative_to(path).as_posix()}\0".encode())
                with file.open("rb") as handle:
                    for chunk in iter(lambda: handle.read(1 << 20), b""):
                        digest.update(chunk)
        return base64.b32encode(digest.digest()).decode().lower()[:20]

    def _inputs(self) -> list[tuple[str, str]]:
        found = [("requirements", self.requirements)] if self.requirements else []
        if self.source_root:
            found.append(("source_root", self.source_root))
        found += [("copy", item) for item in self.copy or ()]
        return found

    @property
    def tag(self) -> str:
        if self._tag is None:
            digest = self.spec_hash()
            self._tag = self.tag_format.format(spec_hash=digest) if self.tag_format else digest
        return self._tag

    def image_name(self) -> str:
        """``[registry/]name:tag``, the reference serialized in the task's container."""
        repository = f"{self.registry}/{self.name}" if self.registry else self.name
        return f"{repository}:{self.tag}"

    @property
    def id(self) -> str:
        return self.image_name()

    # --- flytekit's builders: a changed copy ------------------------------------------------------------------

    def _with(self, key: str, extra: str | list[str]) -> ImageSpec:
        words = [extra] if isinstance(extra, str) else list(extra)
        changes: dict[str, Any] = {key: [*(getattr(self, key) or []), *words]}
        return dataclasses.replace(self, **changes)

    def with_packages(self, packages: str | list[str]) -> ImageSpec:
        return self._with("packages", packages)

    def with_apt_packages(self, apt_packages: str | list[str]) -> ImageSpec:
        return self._with("apt_packages", apt_packages)

    def with_commands(self, commands: str | list[str]) -> ImageSpec:
        return self._with("commands", commands)

    # --- the build --------------------------------------------------------------------------------------------

    def dockerfile(self) -> str:
        """The Dockerfile for this spec; its build context holds ``requirements.txt``, ``src/`` and ``copy/``."""
        python = self._python()
        base = self.base_image.image_name() if isinstance(self.base_image, ImageSpec) else self.base_image
        lines = [f"FROM {base or f'python:{python}-slim'}", "",
                 "ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1"]
        if self.apt_packages:
            lines.append("RUN apt-get update && apt-get install -y --no-install-recommends "
                         f"{' '.join(shlex.quote(p) for p in self.apt_packages)} && rm -rf /var/lib/apt/lists/*")
        pip = ["python", "-m", "pip", "install", "--no-cache-dir"]
        if self.pip_index:
            pip += ["--index-url", self.pip_index]
        for url in self.pip_extra_index_url or ():
            pip += ["--extra-index-url", url]
        packages = list(self.packages or ())
        # The task entrypoint is flyrun's, so the image needs flyrun unless the spec pins its own.
        if self._installs_flyrun():
            packages.insert(0, f"flyrun=={__version__}")
        if self.requirements:
            lines.append("COPY requirements.txt /tmp/flyrun-requirements.txt")
            packages += ["-r", "/tmp/flyrun-requirements.txt"]
        lines.append("RUN " + " ".join(shlex.quote(word) for word in [*pip, *packages]))
        lines += [f"RUN {command}" for command in self.commands or ()]
        lines.append(f"WORKDIR {IMAGE_SOURCE_DIR}")
        if self.source_root:
            lines.append(f"COPY src/ {IMAGE_SOURCE_DIR}/")
        for index, item in enumerate(self.copy or ()):
            target = f"{IMAGE_SOURCE_DIR}/{Path(item).name}"
            lines.append(f"COPY copy/{index}/ {target}" if self._path(item).is_dir() else
                         f"COPY copy/{index}/{Path(item).name} {target}")
        env = {"PYTHONPATH": IMAGE_SOURCE_DIR, **(self.env or {})}
        lines.append("ENV " + " ".join(f"{key}={json.dumps(value)}" for key, value in env.items()))
        if self.entrypoint:
            lines.append(f"ENTRYPOINT {json.dumps(self.entrypoint)}")
        return "\n".join(lines) + "\n"

    def write_context(self, folder: Path) -> Path:
        """Lay out the build context in ``folder`` (Dockerfile, requirements, sources) and return the Dockerfile."""
        import shutil

        for label, given in self._inputs():
            if not self._path(given).exists():
                raise self._fail(f"{label} {given!r} does not exist")
        if self.requirements:
            shutil.copyfile(self._path(self.requirements), folder / "requirements.txt")
        if self.source_root:
            _copy_tree(self._path(self.source_root), folder / "src")
        for index, item in enumerate(self.copy or ()):
            source = self._path(item)
            target = folder / "copy" / str(index)
            if source.is_dir():
                _copy_tree(source, target)
            else:
                target.mkdir(parents=True)
                shutil.copyfile(source, target / source.name)
        dockerfile = folder / "Dockerfile"
        dockerfile.write_text(self.dockerfile())
        return dockerfile


def _files_under(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(file for file in path.rglob("*") if file.is_file()
                  and not _SKIP_PARTS.intersection(file.relative_to(path).parts) and file.suffix != ".pyc")


def _copy_tree(source: Path, target: Path) -> None:
    import shutil

    shutil.copytree(source, target, ignore=shutil.ignore_patterns(*_SKIP_PARTS, "*.pyc"))


def spec_from_mapping(data: Any, origin: str, base_dir: Path) -> ImageSpec:
    """An ImageSpec from a YAML/JSON document's mapping; unknown keys are named in the error."""
    if not isinstance(data, dict):
        raise UsageError(f"{origin}: an image spec must be a mapping of ImageSpec fields, not {type(data).__name__}")
    known = {item.name for item in dataclasses.fields(ImageSpec)} - {"base_dir"}
    unknown = sorted(str(key) for key in data if key not in known)
    if unknown:
        raise UsageError(f"{origin}: unknown ImageSpec field(s): {', '.join(unknown)}",
                         hint=f"the fields are: {', '.join(sorted(known))}")
    try:
        spec = ImageSpec(**data, base_dir=str(base_dir))
    except UsageError as error:
        raise UsageError(f"{origin}: {error.message}", hint=error.hint) from None
    spec._where = f"{origin}: "
    return spec
