"""The authorization server's state: clients, device codes, authorization codes and tokens, kept in memory.

The classes follow the shapes authlib's grants call (``ClientMixin``, ``TokenMixin``, ``AuthorizationCodeMixin``
are duck-typed there), so this module does not import authlib; ``authgrants`` does, lazily.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

PUBLIC_GRANTS = ("urn:ietf:params:oauth:grant-type:device_code", "refresh_token", "authorization_code")


@dataclass
class Client:
    """A registered client: public (no secret; device flow and PKCE) or confidential (client credentials)."""

    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    grant_types: tuple[str, ...] = PUBLIC_GRANTS
    redirect_uris: tuple[str, ...] = ()
    scope: str = "all offline"

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = self.scope.split()
        if not scope:
            return self.scope
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return self.client_secret is not None and hmac.compare_digest(self.client_secret, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.client_secret is None:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass
class IssuedToken:
    access_token: str = field(repr=False)
    client_id: str
    subject: str
    scope: str
    expires_at: float
    refresh_token: str | None = field(default=None, repr=False)
    revoked: bool = False

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, int(self.expires_at - time.time()))

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at

    def is_revoked(self) -> bool:
        return self.revoked

    def get_user(self) -> str:
        return self.subject


@dataclass
class AuthorizationCode:
    code: str = field(repr=False)
    client_id: str
    redirect_uri: str
    scope: str
    subject: str
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class Settings:
    """What a test or the sandbox may tune while the server runs."""

    poll_interval: float = 5.0
    device_code_ttl: float = 600.0
    access_token_ttl: float = 3600.0
    slow_down_polls: int = 0
    token_prefix: str = ""


class Store:
    """Every piece of server state, behind one lock (the server is threaded)."""

    def __init__(self, clients: list[Client], settings: Settings) -> None:
        self.lock = threading.RLock()
        self.settings = settings
        self.clients = {client.client_id: client for client in clients}
        self.device_codes: dict[str, Any] = {}  # authlib DeviceCredentialDicts
        self.user_grants: dict[str, tuple[str, bool]] = {}
        self.tokens: dict[str, IssuedToken] = {}
        self.refresh_tokens: dict[str, IssuedToken] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.grant_counts: Counter[str] = Counter()

    def new_token_value(self, length: int = 32) -> str:
        return self.settings.token_prefix + secrets.token_urlsafe(length)

    def find_device_credential(self, user_code: str) -> Any | None:
        wanted = normalize_user_code(user_code)
        with self.lock:
            for credential in self.device_codes.values():
                if normalize_user_code(credential["user_code"]) == wanted and not credential.is_expired():
                    return credential
        return None

    def save_token(self, token: dict, client: Client, subject: str | None) -> None:
        record = IssuedToken(access_token=token["access_token"], client_id=client.client_id,
                             subject=subject or client.client_id, scope=token.get("scope", ""),
                             expires_at=time.time() + token.get("expires_in", 0),
                             refresh_token=token.get("refresh_token"))
        with self.lock:
            self.tokens[record.access_token] = record
            if record.refresh_token:
                self.refresh_tokens[record.refresh_token] = record

    def subject_for(self, access_token: str) -> str | None:
        with self.lock:
            record = self.tokens.get(access_token)
        if record is None or record.revoked or record.is_expired():
            return None
        return record.subject


def normalize_user_code(code: str) -> str:
    """RFC 8628 section 6.1: compare user codes without case, dashes or spaces."""
    return "".join(ch for ch in code.upper() if ch.isalnum())
