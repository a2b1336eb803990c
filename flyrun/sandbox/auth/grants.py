"""authlib's grants, given the in-memory storage of ``authmodels``: RFC 8628 device code, RFC 6749 client
credentials and refresh token, and the authorization code grant with RFC 7636 PKCE.

Imported only when an ``AuthServer`` is built, so authlib stays off every other import path.
"""

from __future__ import annotations

import json
import time
from typing import Any

from authlib.oauth2 import AuthorizationServer, OAuth2Request
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc8628 import DeviceAuthorizationEndpoint, DeviceCodeGrant, DeviceCredentialDict

from flyrun.sandbox.auth.models import AuthorizationCode, Client, IssuedToken, Store, normalize_user_code


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


class WerkzeugOAuth2Request(OAuth2Request):
    """authlib's request view of a werkzeug request (form and query together, as Flask's integration does)."""

    def __init__(self, request) -> None:
        super().__init__(request.method, request.url, headers=request.headers)
        self._request = request
        self.payload = BasicOAuth2Payload(request.values.to_dict())
        self.payload._datalist = {k: request.values.getlist(k) for k in request.values}

    @property
    def args(self):
        return self._request.args

    @property
    def form(self):
        return self._request.form


class OAuthServer(AuthorizationServer):
    """authlib's AuthorizationServer on werkzeug, with the grants above and ``owner``'s store and settings."""

    def __init__(self, owner) -> None:
        super().__init__(scopes_supported=list(owner.scopes))
        self.owner = owner
        self.register_token_generator("default", BearerTokenGenerator(
            lambda **_: owner.store.new_token_value(32), lambda **_: owner.store.new_token_value(36),
            lambda client, grant_type: max(1, int(owner.settings.access_token_ttl))))
        self.register_endpoint(DeviceAuthorization)
        self.register_grant(DeviceCode)
        self.register_grant(ClientCredentials)
        self.register_grant(RefreshToken)
        self.register_grant(AuthorizationCodeWithPkce, [CodeChallenge(required=True)])

    @property
    def store(self) -> Store:
        return self.owner.store

    def base_url(self) -> str:
        return self.owner.base_url()

    def query_client(self, client_id: str) -> Client | None:
        return self.owner.store.clients.get(client_id)

    def save_token(self, token: dict, request) -> None:
        self.owner.store.save_token(token, request.client, request.user)

    def create_oauth2_request(self, request):
        return request if isinstance(request, OAuth2Request) else WerkzeugOAuth2Request(request)

    def handle_response(self, status: int, body: Any, headers):
        from werkzeug.wrappers import Response

        if isinstance(body, dict):  # authlib's headers already say application/json and no-store
            body = json.dumps(body)
        return Response(body, status=status, headers=headers)

    def send_signal(self, name, *args, **kwargs) -> None:
        """No signals: nothing here listens."""
