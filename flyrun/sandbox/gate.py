"""The one gate every request to the sandbox passes first: Host, Origin, CORS preflight and body type.

The sandbox runs whatever a registered task's command says, so a web page in the user's browser must not be able
to reach the API. Browsers let any page send "simple" cross-origin requests (a ``text/plain`` POST) and, after DNS
rebinding, same-origin-looking ones with a foreign ``Host``. The gate refuses both, as Jupyter and Vite do:

- ``Host`` must name this server: a loopback name (127.0.0.1, localhost, [::1]) or the ``--host`` address, with
  the bound port; on a wildcard bind (0.0.0.0, ::) also any IP address and the names given with
  ``--allowed-host``. A rebinding attack needs a domain name of the attacker's, which is never on that list.
- ``Origin``, when present, must be this server's own origin (the console's pages are).
- A request with a body must say it is JSON (or protobuf) on the API, a form on the sign-in paths, bytes on a
  signed upload URL: a browser cannot send those types cross-origin without a preflight.
- ``OPTIONS`` (a CORS preflight) is refused: no origin is ever allowed.

Every response, refusals included, carries ``nosniff``, a restrictive Content-Security-Policy, ``Referrer-Policy:
same-origin`` (not ``no-referrer``: with it, browsers send ``Origin: null`` on the console's own form posts) and
``X-Frame-Options: DENY``. The one exception to "never framed" is a node's deck, which the execution page shows in
an iframe: its route may be framed by this server's own pages (``frame-ancestors 'self'``), and its policy keeps the
CSP ``sandbox`` directive, so the deck runs in an opaque origin whether it is framed or opened on its own. The
framing headers are the gate's alone: a handler may not loosen them anywhere else.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from flyrun.sandbox.auth.pages import STYLE_HASH

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
WILDCARDS = ("0.0.0.0", "::", "")

# Inline scripts and styles are refused; the one inline <style> of the sign-in pages is allowed by its hash.
# frame-src 'self': the execution page frames its decks (the only responses that allow being framed).
_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' {style}; img-src 'self' data:; "
        "connect-src 'self'; frame-src 'self'; base-uri 'none'; frame-ancestors 'none'")

# A deck is the task's own HTML. Served sandboxed (opaque origin: no cookies, storage, DOM or API of the console)
# and with nothing to fetch; the framing console is its only allowed ancestor. A deck with scripts (flytekit's tabs)
# gets allow-scripts, still without allow-same-origin, and only its own inline scripts.
DECK_PATH = re.compile(r"^/console/projects/[^/]+/domains/[^/]+/executions/[^/]+/nodes/.+/deck$")
DECK_POLICY = ("sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
               "base-uri 'none'; form-action 'none'; frame-ancestors 'self'")
DECK_SCRIPT_POLICY = ("sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline'; "
                      "style-src 'unsafe-inline'; img-src data:; font-src data:; base-uri 'none'; "
                      "form-action 'none'; frame-ancestors 'self'")
_DECK_POLICIES = (DECK_POLICY, DECK_SCRIPT_POLICY)
_FRAMING = ("content-security-policy", "x-frame-options")

# application/octet-stream is binary protobuf on the API, as on FlyteAdmin's gateway; like the other types here it is
# not a CORS "simple" type, so a cross-site page cannot send it without a preflight (which is refused).
_JSON_TYPES = ("application/json", "application/grpc+proto", "application/x-protobuf", "application/protobuf",
               "application/octet-stream")
_FORM_TYPES = ("application/x-www-form-urlencoded",)
_BLOB_TYPES = ("application/octet-stream", "binary/octet-stream")


def host_name(host: str) -> str:
    """An address as it appears in a Host header: IPv6 in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") and _is_ip(host) else host


class Refusal(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class RequestGate:
    """Decides whether a request may reach the application; see the module's docstring."""

    def __init__(self, bound_host: str, port: int, allowed_hosts: Iterable[str] = (),
                 form_paths: Iterable[str] = ()) -> None:
        self.port = port
        self.wildcard = bound_host in WILDCARDS
        names = {*LOOPBACK_NAMES, *([] if self.wildcard else [host_name(bound_host)])}
        self._names = {name.lower() for name in names}
        # Names the operator allows may also come without a port: a TLS proxy in front forwards its own Host.
        # An entry with a port ("sandbox.example.com:8443") must match exactly.
        self._allowed = {(host_name(name) if _is_ip(name) else name).lower() for name in allowed_hosts}
        self._form_paths = tuple(form_paths)

        self.headers = [("X-Content-Type-Options", "nosniff"),
                        ("Content-Security-Policy", _CSP.format(style=f"'{STYLE_HASH}'")),
                        ("Referrer-Policy", "same-origin"), ("X-Frame-Options", "DENY")]
        self.deck_headers = [("X-Content-Type-Options", "nosniff"), ("Content-Security-Policy", DECK_POLICY),
                             ("Referrer-Policy", "same-origin"), ("X-Frame-Options", "SAMEORIGIN")]

    # -- the checks ------------------------------------------------------------------------------------
    def check(self, environ: dict[str, Any]) -> None:
        """Raise ``Refusal`` for a request that must not reach the application."""
        host = (environ.get("HTTP_HOST") or "").strip().lower()
        if not self.host_allowed(host):
            raise Refusal(403, 7, f"this sandbox does not answer to the Host {host or '(none)'!r}; use "
                                  f"http://localhost:{self.port}, or start it with --allowed-host NAME")
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if method == "OPTIONS":
            raise Refusal(403, 7, "cross-origin requests are not allowed (CORS preflight refused)")
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None and not self._same_origin(origin.strip().lower(), host):
            raise Refusal(403, 7, f"cross-origin request from {origin!r} refused; only this server's own pages "
                                  "may send requests with an Origin")
        if _has_body(environ):
            self._check_body_type(environ)

    def host_allowed(self, host: str) -> bool:
        name, port = _split_host(host)
        if name is None:
            return False
        if host in self._allowed or (name in self._allowed and port in (None, self.port)):
            return True
        if port != self.port and not (port is None and self.port == 80):
            return False
        return name in self._names or (self.wildcard and _is_ip(name))

    @staticmethod
    def _same_origin(origin: str, host: str) -> bool:
        scheme, sep, rest = origin.partition("://")
        if not sep or scheme not in ("http", "https") or "/" in rest:
            return False
        default = "80" if scheme == "http" else "443"
        return _with_port(rest, default) == _with_port(host, "80") or (
            scheme == "https" and _with_port(rest, default) == _with_port(host, "443"))

    def _check_body_type(self, environ: dict[str, Any]) -> None:
        path = environ.get("PATH_INFO", "")
        kind = (environ.get("CONTENT_TYPE") or "").split(";", 1)[0].strip().lower()
        if path.startswith("/sandbox/blobs/upload/"):
            if kind in ("", *_BLOB_TYPES):
                return
            expected = "application/octet-stream (or none)"
        elif path.rstrip("/") in self._form_paths:
            if kind in _FORM_TYPES:
                return
            expected = "application/x-www-form-urlencoded"
        else:
            if kind in _JSON_TYPES:
                return
            expected = "application/json"
        raise Refusal(415, 3, f"Content-Type {kind or '(none)'!r} is not accepted here; send {expected}")

    # -- WSGI ------------------------------------------------------------------------------------------
    def wrap(self, app: Callable[..., Any]) -> Callable[..., Any]:
        """A WSGI app that checks every request, then adds the security headers to every response."""

        def gated(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            deck = bool(DECK_PATH.match(environ.get("PATH_INFO", "")))
            defaults = self.deck_headers if deck else self.headers

            def secured(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                headers = [(n, v) for n, v in headers if n.lower() not in _FRAMING or _deck_policy(deck, n, v)]
                present = {name.lower() for name, _ in headers}
                headers = [*headers, *((n, v) for n, v in defaults if n.lower() not in present)]
                return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

            try:
                self.check(environ)
            except Refusal as refusal:
                body = json.dumps({"code": refusal.code, "message": refusal.message, "details": []}).encode()
                secured(f"{refusal.status} {_REASONS[refusal.status]}",
                        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
                return [body]
            return app(environ, secured)

        return gated


_REASONS = {403: "Forbidden", 415: "Unsupported Media Type"}


def _deck_policy(deck: bool, name: str, value: str) -> bool:
    """Whether a handler's own framing header stands: only a deck's, and only one of the two deck policies."""
    return deck and name.lower() == "content-security-policy" and value in _DECK_POLICIES


def _has_body(environ: dict[str, Any]) -> bool:
    if environ.get("HTTP_TRANSFER_ENCODING"):
        return True
    try:
        return int(environ.get("CONTENT_LENGTH") or 0) > 0
    except ValueError:
        return True


def _split_host(host: str) -> tuple[str | None, int | None]:
    """``name:port`` -> (name, port); IPv6 stays bracketed. (None, None) for a malformed value."""
    if not host:
        return None, None
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            return None, None
        name, rest = host[:end + 1], host[end + 1:]
        if rest and not rest.startswith(":"):
            return None, None
        port_text = rest[1:] if rest else None
    else:
        name, sep, port_text = host.partition(":")
        port_text = port_text if sep else None
    if port_text is None:
        return name, None
    if not port_text.isdigit() or len(port_text) > 5:
        return None, None
    return name, int(port_text)


def _with_port(host: str, default: str) -> str:
    name, port = _split_host(host)
    return f"{name}:{port if port is not None else default}"


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True
