"""A small OAuth 2.0 authorization server, for ``flyrun sandbox --auth`` and for tests.

Built on authlib (RFC 8628 device code, RFC 6749 client credentials, refresh token and authorization code with
RFC 7636 PKCE) and werkzeug. It serves what a Flyte client discovers and uses::

    GET  /config/v1/flyte_client                   public client settings (Flyte's AuthMetadataService)
    GET  /.well-known/oauth-authorization-server   RFC 8414 metadata, field names as in auth.swagger.json
    POST /oauth2/device_authorization              RFC 8628 device authorization request
    POST /oauth2/token                             device_code, client_credentials, refresh_token, authorization_code
    GET  /oauth2/authorize  (+ POST)               consent page for the browser (PKCE) sign-in
    GET  /oauth2/jwks                              an empty key set (tokens are opaque)
    GET  /activate  (+ POST)                       where a person enters the user code, then approves or denies
    GET  /me                                       the signed-in user (Flyte's IdentityService); needs a bearer token

Use::

    server = AuthServer(clients=[Client("flytectl"),
                                 Client("ci", client_secret="...", grant_types=("client_credentials",))],
                        operator_secret="...")  # or a function returning it; default: random, known to no one
    server.wsgi_app                      # a WSGI app serving only the paths above
    server.protect(api_app)              # the paths above, and a bearer token required for everything else
    server.validate_bearer(header)       # "Bearer <token>" -> subject, or None
    server.approve_user_code(code, subject="alice") / server.deny_user_code(code)   # what /activate does
    server.settings.poll_interval = 0.05 # tune a running server (interval, lifetimes, forced slow_down)

Plain http is accepted only on loopback addresses (authlib's rule, RFC 8252); put TLS in front otherwise.

Approving a sign-in (``/activate`` or the consent page) takes the operator secret: whoever reaches the server can
ask for a code, but only the person who runs it can let that code sign in. Wrong secrets are counted per client
address: after ``MAX_FAILURES`` in ``FAILURE_WINDOW`` seconds, approvals from that address get 429 until the
window has passed.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from typing import Any

from flyrun.sandbox.auth.models import Client, Settings, Store, normalize_user_code
from flyrun.sandbox.auth.pages import activate_page, consent_page

DEFAULT_CLIENT_ID = "flytectl"
DEFAULT_SCOPES = ("all", "offline")
AUTHORIZATION_METADATA_KEY = "flyte-authorization"
PATHS = ("/config/v1/flyte_client", "/.well-known/oauth-authorization-server", "/oauth2/device_authorization",
         "/oauth2/token", "/oauth2/authorize", "/oauth2/jwks", "/activate", "/me")
FORM_PATHS = ("/oauth2/device_authorization", "/oauth2/token", "/oauth2/authorize", "/activate")
MAX_FAILURES = 5
FAILURE_WINDOW = 60.0


class AuthServer:
    """The authorization server: construct it, then serve ``wsgi_app`` (or ``protect(app)``)."""

    def __init__(self, issuer_url: str | None = None, clients: Iterable[Client] | None = None, *,
                 public_client_id: str = DEFAULT_CLIENT_ID, redirect_uri: str = "http://localhost:53593/callback",
                 scopes: Iterable[str] = DEFAULT_SCOPES, settings: Settings | None = None,
                 operator_secret: str | Callable[[], str] | None = None) -> None:
        registered = list(clients) if clients is not None else [Client(public_client_id, redirect_uris=(redirect_uri,))]
        self.issuer_url = issuer_url.rstrip("/") if issuer_url else None
        self.public_client_id = public_client_id
        self.redirect_uri = redirect_uri
        self.scopes = tuple(scopes)
        self.settings = settings or Settings()
        self.store = Store(registered, self.settings)
        # A callable is read at each approval, so rotating the secret on disk takes effect at once.
        self._operator_secret = operator_secret if operator_secret is not None else secrets.token_urlsafe(24)
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._failures_lock = threading.Lock()
        self._request_local = threading.local()
        self._oauth = _oauth_server(self)
        # authlib logs every issued token at DEBUG; a sandbox must never log a token.
        logging.getLogger("authlib").setLevel(max(logging.getLogger("authlib").level, logging.INFO))

    # -- the public API ----------------------------------------------------------------------------
    def wsgi_app(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        from werkzeug.wrappers import Request

        request = Request(environ)
        response = self._dispatch(request)
        return response(environ, start_response)

    def owns(self, path: str) -> bool:
        return path.rstrip("/") in PATHS

    def protect(self, app: Callable, public_prefixes: Iterable[str] = ()) -> Callable:
        """A WSGI app: this server's paths, then ``app`` for requests with a valid bearer token (else 401)."""
        public = tuple(public_prefixes)

        def guarded(environ: dict, start_response: Callable) -> Iterable[bytes]:
            path = environ.get("PATH_INFO", "")
            if self.owns(path):
                return self.wsgi_app(environ, start_response)
            if path.startswith(public) if public else False:
                return app(environ, start_response)
            if self.subject_from_environ(environ) is None:
                return _unauthenticated()(environ, start_response)
            return app(environ, start_response)

        return guarded

    def validate_bearer(self, header: str | None) -> str | None:
        """The subject of a valid ``Bearer <token>`` header value, or None."""
        if not header:
            return None
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.store.subject_for(token.strip())

    def subject_from_environ(self, environ: dict) -> str | None:
        """Check ``Authorization`` and the ``flyte-authorization`` metadata header, as FlyteAdmin does."""
        for name in ("HTTP_AUTHORIZATION", "HTTP_" + AUTHORIZATION_METADATA_KEY.upper().replace("-", "_")):
            subject = self.validate_bearer(environ.get(name))
            if subject:
                return subject
        return None

    def approve_user_code(self, user_code: str, subject: str = "sandbox-user") -> bool:
        return self._decide(user_code, subject, approved=True)

    def deny_user_code(self, user_code: str) -> bool:
        return self._decide(user_code, "denied", approved=False)

    def pending_user_codes(self) -> list[str]:
        with self.store.lock:
            return [c["user_code"] for c in self.store.device_codes.values() if not c.is_expired()]

    def expire_device_codes(self) -> None:
        with self.store.lock:
            for credential in self.store.device_codes.values():
                credential["expires_at"] = 0.0

    def revoke_access_tokens(self) -> None:
        """Make every issued access token invalid (refresh tokens still work): a server-side expiry."""
        with self.store.lock:
            for record in self.store.tokens.values():
                record.expires_at = 0.0

    def reset(self, settings: Settings | None = None) -> None:
        """Forget every code and token (clients stay); optionally start from new settings."""
        self.settings = settings or self.settings
        with self._failures_lock:
            self._failures.clear()
        self.store = Store(list(self.store.clients.values()), self.settings)

    @property
    def grant_counts(self) -> dict[str, int]:
        return dict(self.store.grant_counts)

    def base_url(self) -> str:
        """The issuer URL, else the scheme and host the current request came to."""
        return self.issuer_url or str(getattr(self._request_local, "base", "http://127.0.0.1"))

    # -- routing -----------------------------------------------------------------------------------
    def _dispatch(self, request):
        from werkzeug.wrappers import Response

        self._request_local.base = request.host_url.rstrip("/")
        routes = {
            "/config/v1/flyte_client": self._client_config,
            "/.well-known/oauth-authorization-server": self._metadata,
            "/oauth2/device_authorization": self._device_authorization,
            "/oauth2/token": self._token,
            "/oauth2/authorize": self._authorize,
            "/oauth2/jwks": lambda r: _json({"keys": []}),
            "/activate": self._activate,
            "/me": self._me,
        }
        handler = routes.get(request.path.rstrip("/") or "/")
        if handler is None:
            return _json({"code": 5, "message": f"no route for {request.path}", "details": []}, 404)
        allowed = {"/oauth2/device_authorization": ("POST",), "/oauth2/token": ("POST",),
                   "/activate": ("GET", "POST"), "/oauth2/authorize": ("GET", "POST")}
        if request.method not in allowed.get(request.path.rstrip("/"), ("GET",)):
            return Response("method not allowed", status=405)
        return handler(request)

    def _client_config(self, request):
        return _json(self.client_config_document())

    def _metadata(self, request):
        return _json(self.metadata_document(self.base_url()))

    # -- the same answers as flyteidl messages (AuthMetadataService, IdentityService over gRPC) ------------
    def client_config_document(self) -> dict[str, Any]:
        return {"client_id": self.public_client_id, "redirect_uri": self.redirect_uri,
                "scopes": list(self.scopes), "authorization_metadata_key": AUTHORIZATION_METADATA_KEY,
                "service_http_endpoint": "", "audience": ""}

    def public_client_config(self) -> Any:
        from flyteidl.service import auth_pb2
        from google.protobuf import json_format

        return json_format.ParseDict(self.client_config_document(), auth_pb2.PublicClientAuthConfigResponse())

    def oauth2_metadata(self, base_url: str | None = None) -> Any:
        """RFC 8414 metadata; ``base_url`` is where a gRPC client reaches the HTTP endpoints (no request host)."""
        from flyteidl.service import auth_pb2
        from google.protobuf import json_format

        document = self.metadata_document(self.issuer_url or base_url or self.base_url())
        return json_format.ParseDict(document, auth_pb2.OAuth2MetadataResponse())

    def user_info(self, subject: str) -> Any:
        from flyteidl.service import identity_pb2
        from google.protobuf import json_format

        return json_format.ParseDict(self.user_info_document(subject), identity_pb2.UserInfoResponse())

    def user_info_document(self, subject: str) -> dict[str, Any]:
        return {"subject": subject, "name": subject, "preferred_username": subject, "given_name": "",
                "family_name": "", "email": f"{subject}@sandbox.local", "picture": "", "additional_claims": {}}

    def metadata_document(self, base: str) -> dict[str, Any]:
        return {
            "issuer": base,
            "authorization_endpoint": base + "/oauth2/authorize",
            "token_endpoint": base + "/oauth2/token",
            "response_types_supported": ["code"],
            "scopes_supported": list(self.scopes),
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "jwks_uri": base + "/oauth2/jwks",
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["urn:ietf:params:oauth:grant-type:device_code", "client_credentials",
                                      "refresh_token", "authorization_code"],
            "device_authorization_endpoint": base + "/oauth2/device_authorization",
        }

    def _device_authorization(self, request):
        return self._oauth.create_endpoint_response("device_authorization", request)

    def _token(self, request):
        with self.store.lock:
            self.store.grant_counts[request.form.get("grant_type", "")] += 1
        return self._oauth.create_token_response(request)

    def _me(self, request):
        subject = self.subject_from_environ(request.environ)
        if subject is None:
            return _unauthenticated()
        return _json(self.user_info_document(subject))

    def operator_secret(self) -> str:
        value = self._operator_secret
        return value() if callable(value) else value

    def _operator_refusal(self, request) -> tuple[str, int] | None:
        """None when the form carries the operator secret; else the message and status to answer with."""
        client = request.remote_addr or "?"
        now = time.monotonic()
        with self._failures_lock:
            failures = self._failures[client]
            while failures and now - failures[0] > FAILURE_WINDOW:
                failures.popleft()
            if len(failures) >= MAX_FAILURES:
                wait = int(FAILURE_WINDOW - (now - failures[0])) + 1
                return f"Too many wrong operator secrets; try again in {wait} s.", 429
            given = request.form.get("operator_secret") or ""
            expected = self.operator_secret()
            if expected and hmac.compare_digest(given.encode(), expected.encode()):
                return None
            failures.append(now)
        return ("The operator secret is missing or wrong: ask the person running the sandbox "
                "(`flyrun sandbox operator-secret` shows it).", 403)

    def _activate(self, request):
        code = (request.values.get("user_code") or "").strip()
        if request.method == "GET":
            return activate_page(code)
        refusal = self._operator_refusal(request)
        if refusal is not None:
            return activate_page(code, error=refusal[0], status=refusal[1])
        subject = (request.form.get("subject") or "sandbox-user").strip() or "sandbox-user"
        approved = request.form.get("decision") == "approve"
        if not self._decide(code, subject, approved):
            return activate_page(code, error="That code is unknown or has expired.", status=400)
        return activate_page(code, done="approved" if approved else "denied")

    def _authorize(self, request):
        from authlib.oauth2 import OAuth2Error

        try:
            grant = self._oauth.get_consent_grant(request)
        except OAuth2Error as error:
            return consent_page(request.full_path, error=f"{error.error}: {error.description or ''}", status=400)
        if request.method == "GET":
            return consent_page(request.full_path, client_id=grant.client.client_id)
        refusal = self._operator_refusal(request)
        if refusal is not None:
            return consent_page(request.full_path, client_id=grant.client.client_id, notice=refusal[0],
                                status=refusal[1])
        subject = (request.form.get("subject") or "sandbox-user").strip() or "sandbox-user"
        user = subject if request.form.get("decision") == "approve" else None
        return self._oauth.create_authorization_response(request, grant_user=user, grant=grant)

    def _decide(self, user_code: str, subject: str, approved: bool) -> bool:
        if self.store.find_device_credential(user_code) is None:
            return False
        with self.store.lock:
            self.store.user_grants[normalize_user_code(user_code)] = (subject, approved)
        return True


def _json(document: Any, status: int = 200):
    import json

    from werkzeug.wrappers import Response

    return Response(json.dumps(document), status=status, mimetype="application/json",
                    headers={"Cache-Control": "no-store"})


def _oauth_server(owner: AuthServer):
    from flyrun.sandbox.auth.grants import OAuthServer  # authlib is loaded here, not when this module is

    return OAuthServer(owner)


def _unauthenticated():
    response = _json({"code": 16, "message": "a valid bearer token is required", "details": []}, 401)
    response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


__all__ = ["AuthServer", "Client", "Settings", "AUTHORIZATION_METADATA_KEY", "DEFAULT_CLIENT_ID", "PATHS",
           "FORM_PATHS"]
