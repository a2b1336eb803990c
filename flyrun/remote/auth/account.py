"""What ``flyrun auth login|status|logout|token`` do, on top of an ``AdminSession``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flyrun.errors import AuthError, ServerError
from flyrun.remote.auth.credentials import Credentials


@dataclass
class AccountStatus:
    endpoint: str
    auth_type: str
    user: dict[str, Any] | None = None  # /me's UserInfoResponse, when the server has one
    expires_at: float | None = None
    stored_in: str | None = None  # "keyring (...)", a file path, or None for memory-only tokens

    def as_json(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "auth_type": self.auth_type, "user": self.user,
                "expires_at": self.expires_at, "stored_in": self.stored_in}


def sign_in(session) -> AccountStatus:
    """A fresh sign-in with the configured flow, then who the server says we are."""
    manager = _manager(session)
    credentials = manager.login()
    return _status(session, credentials)


def account_status(session) -> AccountStatus:
    """The stored (or refreshed) sign-in and its user; ``AuthError`` (exit 4) when not signed in."""
    manager = _manager(session)
    credentials = manager.valid_credentials(allow_login=False)
    return _status(session, credentials)


def sign_out(session) -> bool:
    """Forget this endpoint's stored tokens; True when there were any."""
    return _manager(session).logout()


def current_token(session, allow_login: bool) -> Credentials:
    """A valid access token (refreshed if needed; a sign-in only when ``allow_login``)."""
    return _manager(session).valid_credentials(allow_login=allow_login)


def auth_disabled(session) -> bool:
    return session.auth is None


def server_needs_no_sign_in(session) -> bool:
    """Whether the server answers an API call without a token, as FlyteAdmin and ``flyrun sandbox`` do with
    authentication off (they also publish no ``/config/v1/flyte_client``: a sign-in flow has nothing to use)."""
    # Anonymous, like the discovery requests: straight through the transport, never with a token.
    response = session.transport.request("GET", session.url("/api/v1/projects"), params={"limit": 1},
                                         headers={"Accept": "application/json"}, allow_redirects=False)
    return response.status_code == 200


def _manager(session):
    if session.auth is None:
        raise AuthError(f"sign-in is off for {session.endpoint} (admin.authType: None)",
                        hint="set admin.authType to DeviceFlow, Pkce, ClientSecret or ExternalCommand")
    return session.auth


def _status(session, credentials: Credentials) -> AccountStatus:
    manager = session.auth
    stored = manager.store.location if manager.store is not None else None
    return AccountStatus(endpoint=session.endpoint, auth_type=manager.auth_type, user=_who_am_i(session),
                         expires_at=(manager.credentials or credentials).expires_at, stored_in=stored)


def _who_am_i(session) -> dict[str, Any] | None:
    response = session.request("GET", "/me", headers={"Accept": "application/json"})
    if response.status_code in (404, 501):
        return None  # a server without Flyte's IdentityService
    if response.status_code in (401, 403):
        raise AuthError(f"{session.endpoint} does not accept the stored token (HTTP {response.status_code})",
                        hint="run `flyrun auth login`")
    if response.status_code != 200:
        raise ServerError(f"{session.endpoint} failed GET /me with HTTP {response.status_code}")
    try:
        document = response.json()
    except ValueError:
        return None
    return document if isinstance(document, dict) else None
