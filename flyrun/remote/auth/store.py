"""Where signed-in tokens live between runs: the OS keyring, else a 0600 file.

Keyring layout (as flytekit's, plus the expiry): service = the endpoint without ``dns:///`` (``localhost:30080``),
usernames ``access_token``, ``refresh_token`` and ``expires_at`` (seconds since the epoch).

A keyring backend counts as working unless it is keyring's ``fail`` or ``null`` backend, one keyring itself ranks
below 1 (a chainer with nothing to chain, keyrings.alt's plaintext file, which keeps tokens readable in a 0755
folder), or one that would prompt for a password (keyrings.alt's encrypted file). Every keyring call is guarded:
``KeyringError``, ``EOFError`` (a backend reading a closed stdin), ``ValueError`` and ``RuntimeError`` mean "no
keyring". Without one — or with ``admin.disableKeyring`` — tokens go to ``$XDG_CONFIG_HOME/flyrun/credentials.json``
(or ``~/.flyrun/credentials.json``), mode 0600 in a 0700 folder (an existing looser one is tightened), written
whole (temporary file, then rename). Tokens an earlier flyrun left in a plaintext keyring move to that file on the
next load, and leave the plaintext keyring.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flyrun.remote.auth.credentials import Credentials

USERNAMES = ("access_token", "refresh_token", "expires_at")
_KEYRING_ERRORS: tuple[type[BaseException], ...] = (EOFError, ValueError, RuntimeError, OSError)


def config_dir(environ: Mapping[str, str]) -> Path:
    xdg = environ.get("XDG_CONFIG_HOME")
    if xdg:
        return Path(xdg).expanduser() / "flyrun"
    return Path(environ.get("HOME") or "~").expanduser() / ".flyrun"


class TokenStore:
    def __init__(self, service: str, *, environ: Mapping[str, str], use_keyring: bool = True,
                 notify: Callable[[str], None] | None = None) -> None:
        self.service = service
        self.file = config_dir(environ) / "credentials.json"
        # ~/.flyrun holds config (and credentials without XDG_CONFIG_HOME): tightened to 0700 like the file's folder
        self._home_dir = Path(environ.get("HOME") or "~").expanduser() / ".flyrun"
        self.use_keyring = use_keyring
        self.notify = notify or (lambda _text: None)
        self._backend: object | None = None
        self._plaintext: Any = None  # keyrings.alt's plaintext file, when keyring would pick it
        self._backend_checked = False
        self._detected_name = "none"

    # -- the API ----------------------------------------------------------------------------------
    def load(self) -> Credentials | None:
        stored = self._keyring_load() if self.backend is not None else None
        return stored or self._file_load() or self._moved_from_plaintext()

    def save(self, credentials: Credentials) -> str:
        """Store the tokens; returns where they went (for ``auth login`` to say)."""
        if self.backend is not None and self._keyring_save(credentials):
            self._file_delete()  # a token kept in two places outlives a logout of one
            return self.location
        if self.use_keyring:
            self.notify(f"Notice: no working OS keyring ({self.backend_name}); tokens are saved in "
                        f"{self.file} (mode 0600)")
        self._file_save(credentials)
        self._plaintext_delete()
        return str(self.file)

    def delete(self) -> bool:
        """Remove this endpoint's tokens everywhere; True when there were any."""
        removed = self._keyring_delete() if self.backend is not None else False
        removed = self._plaintext_delete() or removed
        return self._file_delete() or removed

    @property
    def location(self) -> str:
        if self.backend is not None:
            return f"keyring ({self.backend_name})"
        return str(self.file)

    @property
    def backend(self):
        """The keyring backend when one works (looked up once, only when asked), else None."""
        if not self._backend_checked:
            self._backend_checked = True
            if self.use_keyring:
                detected = _detect_backend()
                self._detected_name = _class_name(detected)
                self._backend = detected if detected is not None and _usable(detected) else None
                self._plaintext = detected if _is_plaintext(detected) else None
        return self._backend

    @property
    def backend_name(self) -> str:
        if not self.use_keyring:
            return "disabled by admin.disableKeyring"
        backend = self.backend
        return _class_name(backend) if backend is not None else self._detected_name

    # -- keyring ----------------------------------------------------------------------------------
    def _keyring_load(self) -> Credentials | None:
        try:
            values = {name: self.backend.get_password(self.service, name) for name in USERNAMES}
        except _keyring_errors():
            return None
        return _from_values(values)

    def _keyring_save(self, credentials: Credentials) -> bool:
        try:
            for name, value in _to_values(credentials).items():
                if value is None:
                    self._keyring_delete_one(name)
                else:
                    self.backend.set_password(self.service, name, value)
        except _keyring_errors():
            return False
        return True

    def _keyring_delete(self) -> bool:
        removed = False
        for name in USERNAMES:
            removed = self._keyring_delete_one(name) or removed
        return removed

    def _keyring_delete_one(self, name: str) -> bool:
        try:
            if self.backend.get_password(self.service, name) is None:
                return False
            self.backend.delete_password(self.service, name)
            return True
        except _keyring_errors():
            return False

    # -- a plaintext keyring: only ever emptied -----------------------------------------------------
    def _moved_from_plaintext(self) -> Credentials | None:
        """Tokens an earlier flyrun kept in a plaintext keyring: moved into the 0600 file."""
        self.backend  # noqa: B018 - looks the backends up
        if self._plaintext is None:
            return None
        try:
            values = {name: self._plaintext.get_password(self.service, name) for name in USERNAMES}
        except _keyring_errors():
            return None
        found = _from_values(values)
        if found is not None:
            self._file_save(found)
            self._plaintext_delete()
        return found

    def _plaintext_delete(self) -> bool:
        self.backend  # noqa: B018 - looks the backends up
        if self._plaintext is None:
            return False
        removed = False
        for name in USERNAMES:
            try:
                if self._plaintext.get_password(self.service, name) is not None:
                    self._plaintext.delete_password(self.service, name)
                    removed = True
            except _keyring_errors():
                pass
        return removed

    # -- file -------------------------------------------------------------------------------------
    def _file_entries(self) -> dict[str, dict]:
        for folder in {self.file.parent, self._home_dir}:
            _tighten(folder, 0o700)
        _tighten(self.file, 0o600)
        try:
            document = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return document if isinstance(document, dict) else {}

    def _file_load(self) -> Credentials | None:
        entry = self._file_entries().get(self.service)
        return _from_values(entry) if isinstance(entry, dict) else None

    def _file_save(self, credentials: Credentials) -> None:
        entries = self._file_entries()
        entries[self.service] = {k: v for k, v in _to_values(credentials).items() if v is not None}
        self._file_write(entries)

    def _file_delete(self) -> bool:
        entries = self._file_entries()
        if self.service not in entries:
            return False
        del entries[self.service]
        self._file_write(entries)
        return True

    def _file_write(self, entries: dict[str, dict]) -> None:
        folder = self.file.parent
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        _tighten(folder, 0o700)  # mkdir leaves an existing folder (a 0755 ~/.flyrun) as it was
        handle, temporary = tempfile.mkstemp(prefix=".credentials-", dir=folder)  # created 0600
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(entries, stream, indent=2)
            os.chmod(temporary, 0o600)
            os.replace(temporary, self.file)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def _tighten(path: Path, mode: int) -> None:
    """Take away what ``mode`` does not grant (group and others) from an existing file or folder of ours."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
        if current & ~mode:
            os.chmod(path, current & mode)
    except OSError:  # missing, or not ours to change: nothing to tighten
        pass


def _to_values(credentials: Credentials) -> dict[str, str | None]:
    expires = None if credentials.expires_at is None else repr(float(credentials.expires_at))
    return {"access_token": credentials.access_token, "refresh_token": credentials.refresh_token,
            "expires_at": expires}


def _from_values(values: Mapping[str, object]) -> Credentials | None:
    access, refresh = values.get("access_token"), values.get("refresh_token")
    if not isinstance(access, str) or not access:
        return None
    try:
        expiry = values.get("expires_at")
        expires_at = float(expiry) if isinstance(expiry, (str, int, float)) and expiry != "" else None
    except (TypeError, ValueError):
        expires_at = None
    return Credentials(access, refresh if isinstance(refresh, str) and refresh else None, expires_at)


def _keyring_errors() -> tuple[type[BaseException], ...]:
    from keyring.errors import KeyringError

    return (KeyringError, *_KEYRING_ERRORS)


def _detect_backend():
    """The keyring backend keyring would use, or None when even choosing one fails."""
    try:
        import keyring
        import keyring.core

        # PYTHON_KEYRING_BACKEND is read on every lookup (keyring itself caches its first choice per process).
        return keyring.core.load_env() or keyring.get_keyring()
    except Exception:  # a broken backend named in the environment or keyring's config is the same as none
        return None


def _class_name(backend) -> str:
    return "none" if backend is None else f"{type(backend).__module__}.{type(backend).__name__}"


def _usable(backend) -> bool:
    from keyring.backends import chainer, fail, null

    if isinstance(backend, (fail.Keyring, null.Keyring)) or _is_plaintext(backend) or _prompts(backend):
        return False
    try:
        # keyring ranks the backends it would not choose on its own below 1: plaintext, encrypted file, fail, null
        if not backend.priority >= 1:
            return False
    except Exception:  # a backend that cannot say how good it is, is not
        return False
    if isinstance(backend, chainer.ChainerBackend):
        chained = list(getattr(backend, "backends", []))
        return bool(chained) and all(_usable(b) for b in chained)
    return True


def _is_plaintext(backend) -> bool:
    """keyrings.alt's plaintext file: tokens readable by anyone who can read its (0755) folder."""
    return any(cls.__name__ == "PlaintextKeyring" and cls.__module__.startswith("keyrings.alt")
               for cls in type(backend).__mro__)


def _prompts(backend) -> bool:
    """keyrings.alt's encrypted file backend asks for a password on the terminal: never use it."""
    return any(cls.__name__ == "Encrypted" and cls.__module__.startswith("keyrings.alt")
               for cls in type(backend).__mro__)
