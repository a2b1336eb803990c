"""The authorization server's state and grants: clients, device codes, codes and tokens, kept in memory.

The grants are authlib's (RFC 8628 device code, RFC 6749 client credentials, refresh token and authorization code
with RFC 7636 PKCE); this module supplies the storage they ask for. Everything here is imported only by
``flyrun.sandbox.authserver``, which imports authlib lazily, so this module may import authlib at the top.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, grants
from authlib.oauth2.rfc6749.models import AuthorizationCodeMixin
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc8628 import DeviceAuthorizationEndpoint, DeviceCodeGrant, DeviceCredentialDict

PUBLIC_GRANTS = ("urn:ietf:params:oauth:grant-type:device_code", "refresh_token", "authorization_code")


@dataclass
class Client(ClientMixin):
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
class IssuedToken(TokenMixin):
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
class AuthorizationCode(AuthorizationCodeMixin):
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
        self.device_codes: dict[str, DeviceCredentialDict] = {}
        self.user_grants: dict[str, tuple[str, bool]] = {}
        self.tokens: dict[str, IssuedToken] = {}
        self.refresh_tokens: dict[str, IssuedToken] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.grant_counts: Counter[str] = Counter()

    def new_token_value(self, length: int = 32) -> str:
        return self.settings.token_prefix + secrets.token_urlsafe(length)

    def find_device_credential(self, user_code: str) -> DeviceCredentialDict | None:
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


def _seconds(value: float) -> int | float:
    """Whole seconds as an integer (RFC 8628 says integers); a fraction only when a test asks for one."""
    return int(value) if float(value).is_integer() else float(value)


def _store(grant) -> Store:
    return grant.server.store


class DeviceAuthorization(DeviceAuthorizationEndpoint):
    def create_endpoint_response(self, request):
        # The interval and lifetime are read per request so that a running server can be tuned.
        self.INTERVAL = _seconds(self.server.store.settings.poll_interval)
        self.EXPIRES_IN = _seconds(self.server.store.settings.device_code_ttl)
        return super().create_endpoint_response(request)

    def get_verification_uri(self) -> str:
        return self.server.base_url() + "/activate"

    def save_device_credential(self, client_id: str, scope: str | None, data: dict) -> None:
        store = self.server.store
        credential = DeviceCredentialDict(client_id=client_id, scope=scope, user_code=data["user_code"],
                                          expires_at=time.time() + data["expires_in"],
                                          interval=data["interval"], last_poll=0.0,
                                          forced_slow_downs=store.settings.slow_down_polls)
        with store.lock:
            store.device_codes[data["device_code"]] = credential


class DeviceCode(DeviceCodeGrant):
    def query_device_credential(self, device_code: str):
        return _store(self).device_codes.get(device_code)

    def query_user_grant(self, user_code: str):
        return _store(self).user_grants.get(normalize_user_code(user_code))

    def should_slow_down(self, credential) -> bool:
        """Slow down a client that polls faster than half its interval, or while a test asks for it."""
        with _store(self).lock:
            now, last = time.time(), credential["last_poll"]
            credential["last_poll"] = now
            if credential["forced_slow_downs"] > 0:
                credential["forced_slow_downs"] -= 1
                slow = True
            else:
                slow = last > 0 and now - last < credential["interval"] / 2
            if slow:
                credential["interval"] += 5  # RFC 8628 3.5: the client adds 5 s; expect it from now on
        return slow

    def create_token_response(self):
        result = super().create_token_response()
        with _store(self).lock:  # a device code is good for one token response
            _store(self).device_codes.pop(self.request.payload.data.get("device_code"), None)
        return result


class ClientCredentials(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class RefreshToken(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotate: each refresh token works once

    def authenticate_refresh_token(self, refresh_token: str):
        record = _store(self).refresh_tokens.get(refresh_token)
        if record is not None and not record.revoked:
            return record
        return None

    def authenticate_user(self, refresh_token: IssuedToken) -> str:
        return refresh_token.subject

    def revoke_old_credential(self, refresh_token: IssuedToken) -> None:
        with _store(self).lock:
            refresh_token.revoked = True
            _store(self).refresh_tokens.pop(refresh_token.refresh_token or "", None)


class AuthorizationCodeWithPkce(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def save_authorization_code(self, code: str, request) -> None:
        data = request.payload.data
        record = AuthorizationCode(code=code, client_id=request.client.client_id,
                                   redirect_uri=data.get("redirect_uri", ""),
                                   scope=request.client.get_allowed_scope(data.get("scope")),
                                   subject=request.user, code_challenge=data.get("code_challenge"),
                                   code_challenge_method=data.get("code_challenge_method"),
                                   expires_at=time.time() + 300)
        with _store(self).lock:
            _store(self).codes[code] = record

    def query_authorization_code(self, code: str, client: Client):
        record = _store(self).codes.get(code)
        if record and record.client_id == client.client_id and time.time() < record.expires_at:
            return record
        return None

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        with _store(self).lock:
            _store(self).codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: AuthorizationCode) -> str:
        return authorization_code.subject


def register_grants(server) -> None:
    server.register_endpoint(DeviceAuthorization)
    server.register_grant(DeviceCode)
    server.register_grant(ClientCredentials)
    server.register_grant(RefreshToken)
    server.register_grant(AuthorizationCodeWithPkce, [CodeChallenge(required=True)])
