"""The code bundle: which files go in (``--copy auto|all|none``), their digest, and a deterministic ``.tar.gz``.

The archive has the same bytes for the same files on every machine: entries sorted by path, mtime 1980-01-01,
owner 0:0 with empty names, modes 0644/0755, no pax headers, gzip header mtime 0 and no file name.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from flyrun.errors import UsageError

COPY_MODES = ("auto", "all", "none")
FIXED_MTIME = 315532800  # 1980-01-01T00:00:00Z, the earliest time zip and many tools accept
LARGE_FILE_BYTES = 10 * 1024 * 1024
_SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache",
              ".idea", ".ipynb_checkpoints", ".venv", "node_modules"}
_SKIP_SUFFIXES = (".pyc", ".pyo")
_IGNORE_FILES = (".gitignore", ".flyteignore")


@dataclass(frozen=True)
class BundleFile:
    path: Path  # absolute, on this machine
    relative: str  # POSIX path inside the bundle
    size: int


@dataclass(frozen=True)
class Bundle:
    root: Path
    copy: str
    files: tuple[BundleFile, ...]
    digest: str  # md5 over every file's path and bytes, in path order

    @property
    def filename(self) -> str:
        return f"fast{self.digest}.tar.gz"

    @property
    def large_files(self) -> list[BundleFile]:
        return [f for f in self.files if f.size > LARGE_FILE_BYTES]


def select(root: Path, copy: str, exclude: Iterable[Path] = ()) -> Bundle:
    """The bundle for ``copy``; ``none`` still digests the loaded modules, so the version follows the code."""
    if copy not in COPY_MODES:
        raise UsageError(f"--copy {copy!r} is not one of: {', '.join(COPY_MODES)}")
    root = Path(os.path.realpath(root))
    paths = all_files(root, exclude) if copy == "all" else loaded_module_files(root)
    files = tuple(sorted((_bundle_file(root, p) for p in paths), key=lambda f: f.relative))
    return Bundle(root, copy, files, content_digest(files))


def _bundle_file(root: Path, path: Path) -> BundleFile:
    return BundleFile(path, path.relative_to(root).as_posix(), path.stat().st_size)


def loaded_module_files(root: Path) -> list[Path]:
    """Files of the modules in ``sys.modules`` that live under ``root``, except installed ones and flyrun."""
    excluded = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, *_site_dirs())}
    excluded.add(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))  # flyrun itself
    found: set[Path] = set()
    for module in list(sys.modules.values()):
        filename = getattr(module, "__file__", None)
        if not filename:
            continue
        real = os.path.realpath(filename)
        if any(real.startswith(prefix + os.sep) for prefix in excluded):
            continue
        path = Path(real)
        if root in path.parents and path.is_file():
            found.add(path)
    return sorted(found)


def _site_dirs() -> list[str]:
    import site

    dirs = list(getattr(site, "getsitepackages", lambda: [])())
    user = getattr(site, "getusersitepackages", lambda: None)()
    return dirs + ([user] if user else [])


def all_files(root: Path, exclude: Iterable[Path] = ()) -> list[Path]:
    """Every file under ``root`` that ``.gitignore``/``.flyteignore`` (at any level) do not exclude.

    Never ``.git``, virtualenvs, ``__pycache__``, compiled files, earlier ``flyrun package`` output folders, or the
    ``exclude`` folders (the output folder).
    """
    found: list[Path] = []
    _walk(root, "", [], found, {Path(os.path.realpath(p)) for p in exclude})
    return found


def _walk(folder: Path, relative: str, rules: list, found: list[Path], exclude: set[Path]) -> None:
    rules = rules + _ignore_rules(folder, relative)
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        child = relative + entry.name
        if entry.is_dir(follow_symlinks=False):
            path = Path(entry.path)
            if (entry.name in _SKIP_DIRS or path in exclude or _is_environment(path) or _is_package_output(path)
                    or _ignored(rules, child + "/")):
                continue
            _walk(path, child + "/", rules, found, exclude)
        elif entry.is_file() and not entry.name.endswith(_SKIP_SUFFIXES) and not _ignored(rules, child):
            found.append(Path(entry.path))


def _is_environment(folder: Path) -> bool:
    return (folder / "pyvenv.cfg").is_file() or (folder / "conda-meta").is_dir()


def _is_package_output(folder: Path) -> bool:
    """A folder ``flyrun package`` wrote: bundling an earlier bundle would only grow every new one."""
    manifest = folder / "manifest.json"
    try:
        return manifest.is_file() and '"flyrun_version"' in manifest.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _ignore_rules(folder: Path, relative: str) -> list:
    rules = []
    for name in _IGNORE_FILES:
        path = folder / name
        if path.is_file():
            import pathspec

            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            rules.append((relative, pathspec.GitIgnoreSpec.from_lines(lines)))
    return rules


def _ignored(rules: list, relative: str) -> bool:
    """Git's rule: the deepest ignore file with a matching pattern decides; its last matching pattern wins."""
    for base, spec in reversed(rules):
        if relative.startswith(base):
            result = spec.check_file(relative[len(base):])
            if result.include is not None:
                return bool(result.include)
    return False


def content_digest(files: Iterable[BundleFile]) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    for file in files:
        digest.update(f"{file.relative}\0{file.size}\0".encode())
        with open(file.path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 16), b""):
                digest.update(block)
    return digest.hexdigest()


def write_archive(bundle: Bundle, destination: Path) -> str:
    """Write the ``.tar.gz`` and return the md5 of its bytes (hex), what an upload's Content-MD5 is built from."""
    import gzip

    temporary = destination.with_name(destination.name + ".partial")
    with open(temporary, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as zipped:
            with tarfile.open(fileobj=zipped, mode="w", format=tarfile.GNU_FORMAT) as tar:
                for file in bundle.files:
                    _add(tar, file)
    os.replace(temporary, destination)
    return file_md5(destination)


def _add(tar: tarfile.TarFile, file: BundleFile) -> None:
    data = file.path.read_bytes()
    info = tarfile.TarInfo(file.relative)
    info.size = len(data)
    info.mtime = FIXED_MTIME
    info.mode = 0o755 if os.access(file.path, os.X_OK) else 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.pax_headers = {}
    tar.addfile(info, io.BytesIO(data))


def file_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def extract_archive(archive: Path, destination: Path) -> None:
    """Unpack a bundle; members that would land outside ``destination`` are refused."""
    destination.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(destination, filter="data")
            return
        root = os.path.realpath(destination)
        for member in tar.getmembers():
            target = os.path.realpath(os.path.join(root, member.name))
            if not target.startswith(root + os.sep) or member.issym() or member.islnk():
                raise ValueError(f"bundle member {member.name!r} is outside the destination")
        tar.extractall(destination)
