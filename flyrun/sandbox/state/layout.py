"""Where the sandbox keeps things under its data dir.

```
<data-dir>/sandbox.db        SQLite state (WAL: also sandbox.db-wal, sandbox.db-shm)
<data-dir>/sandbox.pid       the running server: pid and URL
<data-dir>/sandbox.log       a detached server's output
<data-dir>/signing.key       HMAC key for signed upload/download URLs (0600)
<data-dir>/operator-secret   with --auth: what approves a sign-in at /activate (0600; created at first start)
<data-dir>/sandbox.lock      locked (flock) by the one server that uses this data dir, for its whole life
<data-dir>/blobs/uploads/    objects PUT through signed URLs: <project>/<domain>/<root>/<filename>
<data-dir>/blobs/metadata/   per-execution node inputs.pb/outputs.pb/error.pb, as propeller's metadata bucket
<data-dir>/blobs/raw/        default raw output data prefix (offloaded files and directories)
<data-dir>/work/             scratch working directories of running task processes
```
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def default_data_dir(environ: dict[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/flyrun/sandbox``, else ``~/.local/share/flyrun/sandbox``."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "flyrun" / "sandbox"


@dataclass(frozen=True)
class DataDir:
    root: Path

    @property
    def pid_file(self) -> Path:
        return self.root / "sandbox.pid"

    @property
    def log_file(self) -> Path:
        return self.root / "sandbox.log"

    @property
    def signing_key(self) -> Path:
        return self.root / "signing.key"

    @property
    def operator_secret_file(self) -> Path:
        return self.root / "operator-secret"

    @property
    def lock_file(self) -> Path:
        return self.root / "sandbox.lock"

    @property
    def blobs(self) -> Path:
        return self.root / "blobs"

    @property
    def uploads(self) -> Path:
        return self.blobs / "uploads"

    @property
    def work(self) -> Path:
        return self.root / "work"

    def execution_metadata(self, project: str, domain: str, name: str) -> Path:
        return self.blobs / "metadata" / project / domain / name

    def execution_raw(self, project: str, domain: str, name: str) -> Path:
        return self.blobs / "raw" / project / domain / name

    def prepare(self) -> None:
        """Create the folders; raises OSError when the data dir cannot be written."""
        for folder in (self.root, self.uploads, self.blobs / "metadata", self.blobs / "raw", self.work):
            folder.mkdir(parents=True, exist_ok=True)
        probe = self.root / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()

    def operator_secret(self, rotate: bool = False) -> tuple[str, bool]:
        """The operator secret and whether it was just created (first use, or ``rotate``)."""
        import secrets

        path = self.operator_secret_file
        if not rotate:
            try:
                text = path.read_text().strip()
            except FileNotFoundError:
                text = ""
            if text:
                return text, False
        self.root.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(18)
        scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value + "\n")
        if rotate:
            os.replace(scratch, path)
            return value, True
        try:  # two first starts at once: the first secret written wins, and both report it
            os.link(scratch, path)
        except FileExistsError:
            return path.read_text().strip(), False
        finally:
            scratch.unlink(missing_ok=True)
        return value, True

    def key(self) -> bytes:
        """The signing key, created on first use; it survives restarts so issued URLs stay valid."""
        if not self.signing_key.exists():
            try:
                fd = os.open(self.signing_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                return self.signing_key.read_bytes()
            with os.fdopen(fd, "wb") as handle:
                handle.write(os.urandom(32))
        return self.signing_key.read_bytes()
