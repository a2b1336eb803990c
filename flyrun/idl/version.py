"""Entity versions: a content hash of the code, the images and the pod templates.

The same project gives the same version on every machine (no paths, times or hostnames go in); changing a file
in the bundle, a task's image or a pod template gives a new one. flytekit's own scheme mixes in its pickled
settings and version, which no other tool can reproduce; FlyteAdmin only needs the version to be unique.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable

from flyrun.__about__ import __version__


def compute_version(code_digest: str, copy: str, task_parts: Iterable[tuple[str, str, str]],
                    compat: str = "") -> str:
    """``task_parts``: (task name, resolved image, pod template hash or "") for every task that is registered.
    ``compat``: the import mode the tasks run in, which their command names, so it is part of what a version is."""
    digest = hashlib.sha256()
    for part in ("flyrun", __version__, copy, code_digest):
        digest.update(part.encode() + b"\0")
    if compat:
        digest.update(f"compat\0{compat}\0".encode())
    for name, image, pod_hash in sorted(task_parts):
        digest.update(f"{name}\0{image}\0{pod_hash}\0".encode())
    # 26 lowercase letters and digits: valid anywhere a version goes (URLs, Kubernetes labels, file names).
    return base64.b32encode(digest.digest()[:16]).decode().rstrip("=").lower()
