"""``AdminSession``: every call to FlyteAdmin (or ``flyrun sandbox``) goes through one of these.

Usage::

    session = AdminSession(config, environ=os.environ, interactive=False, notify=print_to_stderr)
    response = session.request("GET", "/api/v1/projects")           # a requests.Response
    document = session.json("POST", "/api/v1/executions", json={...})  # parsed JSON; HTTP errors raised
    session.transport.request("PUT", signed_url, data=stream)       # uploads: same TLS and proxy rules, no token
    session.close()                                                 # or use it as a context manager

What it does for each request:

- The base URL comes from ``admin.endpoint``: ``dns:///host:port`` or ``host:port`` becomes ``https://host:port``
  (``http://`` with ``admin.insecure``); an explicit ``http(s)://`` URL is used as written.
- TLS, proxies, timeouts and network errors are the ``Transport``'s (see ``flyrun.remote.transport``): a server
  that cannot be reached is a ``ServerError`` (exit 5) naming the endpoint.
- Unless ``admin.authType`` is ``None``, the bearer token is sent as ``Authorization: Bearer <t>`` and also under
  the server's ``authorization_metadata_key`` (``admin.authorizationHeader`` wins), as FlyteAdmin's gateway
  expects. Tokens come from a ``TokenManager`` (``flyrun.remote.auth.manager``): refreshed before expiry and,
  on a 401, refreshed once and the request retried; when that fails, ``interactive`` sessions start the sign-in
  (prompts go to ``notify``) and others raise ``AuthError`` (exit 4) saying "run `flyrun auth login`".
- Redirects are not followed for admin calls (a token must not follow a redirect to another host).
- ``debug`` receives one line per request (method, path, status, time): never a token, query string or body.

``request`` retries a 401 once, so a body must be re-sendable: bytes, str, a dict or ``json=``; a seekable file
is rewound. ``json`` maps HTTP errors: 401/403 -> ``AuthError``; 400, 404 and 409 -> ``InvalidArgumentError``,
``NotFoundError`` and ``AlreadyExistsError`` (all ``UsageError``: bad input, no such entity); anything else ->
``ServerError``; the message carries the server's own ``message`` field.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from flyrun.config.checks import effective_auth_type
from flyrun.config.loader import strip_dns_scheme
from flyrun.errors import (
    AlreadyExistsError,
    AuthError,
    ConfigError,
    InvalidArgumentError,
    NotFoundError,
    ServerError,
)
from flyrun.remote.auth.discovery import Discovery
from flyrun.remote.auth.manager import TokenManager
from flyrun.remote.transport import Transport, origin


def admin_base_url(config) -> str:
    raw = config.get("admin.endpoint")
    if not raw:
        raise ConfigError("admin.endpoint is not set",
                          hint="run `flyrun config init --endpoint HOST` (or --sandbox), or pass -c FILE")
    bare = strip_dns_scheme(raw)
    if "://" in bare:
        return bare.rstrip("/")
    return ("http" if config.get("admin.insecure") else "https") + "://" + bare.rstrip("/")


def endpoint_name(config) -> str:
    """The endpoint as people and the keyring name it: ``host[:port]``, without ``dns:///`` or a scheme."""
    bare = strip_dns_scheme(config.get("admin.endpoint") or "")
    return bare.split("://", 1)[1].rstrip("/") if "://" in bare else bare.rstrip("/")


class AdminSession:
    def __init__(self, config, *, environ: Mapping[str, str] | None = None, interactive: bool = False,
                 notify: Callable[[str], None] | None = None, debug: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.environ = os.environ if environ is None else environ
        self.notify = notify or (lambda _text: None)
        self.debug = debug or (lambda _text: None)
        self.base_url = admin_base_url(config)
        self.endpoint = endpoint_name(config)
        self.transport = Transport.from_config(config, self.environ, self.notify)
        self.discovery = Discovery(self.transport, self.base_url, config)
        self.auth = None
        # The server's Accept-Post header, once an answer carried one (see flyrun.remote.protobody).
        self.accept_post: str | None = None
        if effective_auth_type(config) != "None":
            self.auth = TokenManager(config, transport=self.transport, discovery=self.discovery,
                                     endpoint=self.endpoint, environ=self.environ, interactive=interactive,
                                     notify=self.notify, debug=self.debug)

    def __enter__(self) -> AdminSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.transport.close()

    def url(self, path: str) -> str:
        if "://" in path:
            if origin(path) != origin(self.base_url):
                raise ValueError(f"{origin(path)} is not this session's endpoint; use session.transport")
            return path
        return self.base_url + ("" if path.startswith("/") else "/") + path

    def request(self, method: str, path: str, *, authenticate: bool = True, **kwargs: Any):
        """Send one admin request with the current token; on a 401, renew the token and send it once more."""
        url = self.url(path)
        use_auth = authenticate and self.auth is not None
        token = self.auth.token() if use_auth and self.auth is not None else None
        response = self._send(method, url, token, kwargs)
        if response.status_code != 401 or not authenticate:
            return response
        if self.auth is None:
            raise AuthError(f"{self.endpoint} requires sign-in (HTTP 401), but admin.authType is None",
                            hint="set admin.authType to DeviceFlow, Pkce, ClientSecret or ExternalCommand")
        token = self.auth.recover(token)
        _rewind(kwargs)
        response = self._send(method, url, token, kwargs)
        if response.status_code == 401:
            raise AuthError(f"{self.endpoint} rejected the new token as well (HTTP 401)",
                            hint="run `flyrun auth login`; if it persists, check admin.audience and admin.scopes")
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """``request`` and the parsed JSON body; HTTP errors become flyrun errors (see the module docstring)."""
        response = self.request(method, path, **kwargs)
        raise_for_status(response, self.endpoint, f"{method} {urlsplit(self.url(path)).path}")
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            raise ServerError(f"{self.endpoint} answered {urlsplit(response.url).path} with a body that is "
                              "not JSON") from None

    def _send(self, method: str, url: str, token: str | None, kwargs: dict[str, Any]):
        headers = dict(kwargs.get("headers") or {})  # the caller's headers stay untouched for a retry
        if token:
            headers["Authorization"] = f"Bearer {token}"
            key = self.discovery.header_key()
            if key:
                headers[key] = f"Bearer {token}"
        options = {k: v for k, v in kwargs.items() if k != "headers"}
        options.setdefault("allow_redirects", False)
        started = time.perf_counter()
        response = self.transport.request(method, url, headers=headers, **options)
        if "Accept-Post" in response.headers:  # the body types the server takes (flyrun.remote.protobody)
            self.accept_post = response.headers["Accept-Post"]
        self.debug(f"{method} {urlsplit(url).path} -> {response.status_code} "
                   f"({time.perf_counter() - started:.2f} s){' with token' if token else ''}")
        return response


def raise_for_status(response, endpoint: str, what: str) -> None:
    status = response.status_code
    if status < 300:
        return
    message = _server_message(response)
    detail = f"{what}: HTTP {status}" + (f": {message}" if message else "")
    if 300 <= status < 400:
        raise ServerError(f"{endpoint} redirected {what} to {origin(response.headers.get('Location', '') or '?')}",
                          hint="check admin.endpoint and admin.insecure (http or https)")
    if status in (401, 403):
        raise AuthError(f"{endpoint} denied {detail}", hint="check that your account may do this")
    refusal = {400: InvalidArgumentError, 404: NotFoundError, 409: AlreadyExistsError}.get(status)
    if refusal is not None:
        raise refusal(f"{endpoint} refused {detail}")
    raise ServerError(f"{endpoint} failed {detail}")


def _server_message(response) -> str:
    try:
        document = response.json()
    except ValueError:
        text = response.text.strip().splitlines()
        return text[0][:200] if text else ""
    if isinstance(document, dict):
        for key in ("message", "error_description", "error"):
            if isinstance(document.get(key), str):
                return document[key][:500]
    return ""


def _rewind(kwargs: dict[str, Any]) -> None:
    body = kwargs.get("data")
    seek = getattr(body, "seek", None)
    if seek is not None:
        seek(0)
    elif body is not None and not isinstance(body, (bytes, str, dict, list, tuple)):
        raise AuthError("the server asked for a new token after a streamed request body was sent",
                        hint="run `flyrun auth login` and try again")
