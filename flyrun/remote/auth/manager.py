"""Keeping one endpoint's token valid: memory, then the store, then a refresh, then (when allowed) a sign-in.

When the manager looks for a token:

- ``admin.authType`` set (in a file, the environment or implied by a client secret): tokens are loaded from the
  store before the first request, and ClientSecret / ExternalCommand fetch one up front.
- ``admin.authType`` left at its default: nothing is loaded until the server answers 401 (flytekit's lazy
  behaviour), so a server without auth never causes a keyring lookup.
- ``None``: the session never creates a manager at all.

A token within ``admin.tokenRefreshWindow`` of its expiry is refreshed first. After a 401 the manager refreshes
once; when that fails, an interactive session starts the sign-in flow and a non-interactive one raises
``AuthError`` (exit 4) telling the user to run ``flyrun auth login``. Tokens from DeviceFlow and Pkce are kept in
the ``TokenStore``; ClientSecret and ExternalCommand tokens only in memory.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

from flyrun.config.checks import effective_auth_type, read_client_secret, require_consistent
from flyrun.errors import AuthError
from flyrun.remote.auth.credentials import Credentials
from flyrun.remote.auth.device import DeviceFlow
from flyrun.remote.auth.discovery import Discovery
from flyrun.remote.auth.machine import ClientSecret, ExternalCommand
from flyrun.remote.auth.oauth import refresh_credentials
from flyrun.remote.auth.pkce import Pkce
from flyrun.remote.auth.store import TokenStore
from flyrun.remote.transport import Transport

PERSON_TYPES = ("DeviceFlow", "Pkce")
LOGIN_HINT = "run `flyrun auth login`"


class TokenManager:
    def __init__(self, config, *, transport: Transport, discovery: Discovery, endpoint: str,
                 environ: Mapping[str, str], interactive: bool = False,
                 notify: Callable[[str], None] | None = None, debug: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.transport = transport
        self.discovery = discovery
        self.endpoint = endpoint
        self.environ = environ
        self.interactive = interactive
        self.notify = notify or (lambda _text: None)
        self.debug = debug or (lambda _text: None)
        self.auth_type = effective_auth_type(config)
        self.persistent = self.auth_type in PERSON_TYPES
        self.proactive = config.is_set("admin.authType") or self.auth_type != config.get("admin.authType")
        self.window = float(config.get("admin.tokenRefreshWindow") or 0.0)
        self.store = TokenStore(endpoint, environ=environ, use_keyring=not config.get("admin.disableKeyring"),
                                notify=self.notify) if self.persistent else None
        self._lock = threading.RLock()
        self._credentials: Credentials | None = None
        self._loaded = False

    # -- what the session calls ----------------------------------------------------------------------
    def token(self) -> str | None:
        """The token for the next request, refreshed when close to expiry; None means "send none yet"."""
        with self._lock:
            if not self._loaded and self.proactive:
                self._load()
            if self._credentials is None and self.proactive and not self.persistent:
                self._credentials = self._login()
            current = self._credentials
            if current is not None and current.refresh_due(self.window):
                self._renew_before_expiry(current)
            return self._credentials.access_token if self._credentials else None

    def recover(self, rejected: str | None) -> str:
        """After a 401: a different valid token (stored, refreshed or from a new sign-in), or ``AuthError``."""
        with self._lock:
            current = self._credentials
            if current is not None and current.access_token != rejected and not current.expires_within(0):
                return current.access_token  # another thread already renewed it
            if not self._loaded:
                self._load()
                stored = self._credentials
                if stored is not None and stored.access_token != rejected and not stored.expires_within(0):
                    return stored.access_token
            reason = ("the server requires sign-in and no token is stored" if self._credentials is None
                      else "the server rejected the token, and it could not be refreshed")
            return self._renew(reason).access_token

    # -- what `flyrun auth` calls ---------------------------------------------------------------------
    def login(self) -> Credentials:
        """A full sign-in, whatever is stored; kept in the store for DeviceFlow and Pkce."""
        with self._lock:
            self._loaded = True
            self._credentials = self._login()
            return self._credentials

    def valid_credentials(self, allow_login: bool) -> Credentials:
        """Stored or refreshed credentials; a sign-in only when ``allow_login``; else ``AuthError``."""
        with self._lock:
            if not self._loaded:
                self._load()
            current = self._credentials
            if current is None:
                return self._renew("no token is stored", allow_login=allow_login)
            if current.refresh_due(self.window):
                self._renew_before_expiry(current, allow_login=allow_login)
            return self._credentials or current

    def logout(self) -> bool:
        with self._lock:
            self._credentials, self._loaded = None, True
            return self.store.delete() if self.store is not None else False

    @property
    def credentials(self) -> Credentials | None:
        return self._credentials

    # -- the steps ------------------------------------------------------------------------------------
    def _load(self) -> None:
        self._loaded = True
        if self.store is not None:
            self._credentials = self.store.load()
            self.debug(f"stored token for {self.endpoint}: {'found' if self._credentials else 'none'}")

    def _renew_before_expiry(self, current: Credentials, allow_login: bool | None = None) -> None:
        if not self.persistent:
            self._credentials = self._login()  # a new client-credentials token costs what a refresh would
            return
        if current.refresh_token:
            refreshed = self._refresh(current.refresh_token)
            if refreshed is not None:
                self._credentials = refreshed
                return
        if current.expires_within(0):
            self._renew("the token expired and could not be refreshed", allow_login=allow_login)
        else:
            self._credentials = current  # refresh failed, but the token still works for a little while
            self.debug("token refresh failed; using the current token until it expires")

    def _renew(self, reason: str, allow_login: bool | None = None) -> Credentials:
        allow_login = self.interactive if allow_login is None else allow_login
        current = self._credentials
        if current is not None and current.refresh_token:
            refreshed = self._refresh(current.refresh_token)
            if refreshed is not None:
                self._credentials = refreshed
                return refreshed
        if self.persistent and not allow_login:
            raise AuthError(f"not signed in to {self.endpoint}: {reason}", hint=LOGIN_HINT)
        self._credentials = self._login()
        return self._credentials

    def _refresh(self, refresh_token: str) -> Credentials | None:
        settings = self.discovery.settings()
        if not settings.token_endpoint:
            return None
        try:
            refreshed = refresh_credentials(self.transport, settings.token_endpoint, refresh_token,
                                            client_id=settings.client_id, scopes=settings.scopes,
                                            audience=settings.audience)
        except AuthError as error:
            self.debug(f"token refresh refused: {getattr(error, 'error', type(error).__name__)}")
            if self.store is not None:
                self.store.delete()  # a refused refresh token will not work next time either
            self._credentials = None
            return None
        self.debug(f"token refreshed; valid for {_remaining(refreshed)}")
        if self.store is not None:
            self.store.save(refreshed)
        return refreshed

    def _login(self) -> Credentials:
        credentials = self._authenticator().login()
        if self.store is not None:
            where = self.store.save(credentials)
            self.debug(f"token stored in {where}")
        return credentials

    def _authenticator(self):
        if self.auth_type == "ExternalCommand":
            require_consistent(self.config, ("admin.command",))
            return ExternalCommand(self.config.get("admin.command"))
        if self.auth_type == "ClientSecret":
            require_consistent(self.config, ("admin.clientId", "admin.clientSecretLocation"))
            secret = read_client_secret(self.config, self.environ)
            source = self.config.get("admin.clientSecretLocation") or f"${self.config.get('admin.clientSecretEnvVar')}"
            return ClientSecret(self.transport, self.discovery.settings(), secret, source)
        if self.auth_type == "DeviceFlow":
            return DeviceFlow(self.transport, self.discovery.settings(), self.notify)
        return Pkce(self.transport, self.discovery.settings(), self.notify, environ=self.environ,
                    timeout=float(self.config.get("admin.pkceConfig.timeout")))


def _remaining(credentials: Credentials) -> str:
    if credentials.expires_at is None:
        return "an unknown time"
    return f"{max(0, int(credentials.expires_at - time.time()))} s"
