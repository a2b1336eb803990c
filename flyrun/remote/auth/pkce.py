"""Browser sign-in: the authorization code grant with PKCE (RFC 7636) and a loopback redirect (RFC 8252).

A one-shot HTTP server listens on the redirect URI the server names (Flyte's default is
``http://localhost:53593/callback``), the browser is opened on the authorization URL, and the code that comes
back is exchanged for tokens with the code verifier. Where no browser can open (no display, a container, CI),
this says so and points to the device flow instead of starting a text-mode browser in the terminal.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import sys
import threading
import time
from collections.abc import Callable, Mapping
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from flyrun.errors import AuthError, TimeoutExpired
from flyrun.remote.auth.credentials import Credentials
from flyrun.remote.auth.discovery import ClientSettings
from flyrun.remote.auth.oauth import exchange_for_credentials
from flyrun.remote.transport import Transport

DEFAULT_REDIRECT_URI = "http://localhost:53593/callback"
_DONE_PAGE = (b"<!doctype html><html><body><h1>Signed in</h1><p>You can close this window and return to your "
              b"terminal.</p></body></html>")


def can_open_browser(environ: Mapping[str, str], platform: str = sys.platform) -> bool:
    """A graphical browser can open: macOS, Windows, a display on Linux, or an explicit ``$BROWSER``."""
    if environ.get("BROWSER"):
        return True
    if platform == "darwin" or platform.startswith("win"):
        return True
    return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


class Pkce:
    needs_person = True

    def __init__(self, transport: Transport, settings: ClientSettings, notify: Callable[[str], None], *,
                 environ: Mapping[str, str], timeout: float = 120.0) -> None:
        self.transport = transport
        self.settings = settings
        self.notify = notify
        self.environ = environ
        self.timeout = timeout

    def login(self) -> Credentials:
        if not can_open_browser(self.environ):
            raise AuthError("Pkce sign-in needs a web browser, and none can be opened here (no display)",
                            hint="set admin.authType: DeviceFlow to sign in from this terminal, then run "
                                 "`flyrun auth login`")
        if not (self.settings.authorization_endpoint and self.settings.token_endpoint and self.settings.client_id):
            raise AuthError("the authorization server offers no browser sign-in (no authorization_endpoint, "
                            "token_endpoint or client id)", hint="use admin.authType: DeviceFlow")
        redirect_uri = self.settings.redirect_uri or DEFAULT_REDIRECT_URI
        verifier = secrets.token_urlsafe(64)
        state = secrets.token_urlsafe(24)
        with _Callback(redirect_uri) as callback:
            url = self._authorization_url(redirect_uri, verifier, state)
            self.notify(f"Opening a browser to sign in. If none appears, open this URL: {url}")
            self._open(url)
            code = callback.wait_for_code(state, self.timeout)
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "client_id": self.settings.client_id, "code_verifier": verifier}
        credentials = exchange_for_credentials(self.transport, self.settings.token_endpoint, form,
                                               what="browser sign-in")
        self.notify("Authentication successful!")
        return credentials

    def _authorization_url(self, redirect_uri: str, verifier: str, state: str) -> str:
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        challenge = base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
        query = {"response_type": "code", "client_id": self.settings.client_id, "redirect_uri": redirect_uri,
                 "scope": " ".join(self.settings.scopes), "state": state, "code_challenge": challenge,
                 "code_challenge_method": "S256"}
        if self.settings.audience:
            query["audience"] = self.settings.audience
        endpoint = self.settings.authorization_endpoint or ""
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}"

    def _open(self, url: str) -> None:
        import webbrowser

        try:
            opened = webbrowser.open(url)
        except webbrowser.Error:
            opened = False
        if not opened:
            self.notify("Could not start a browser; open the URL above yourself.")


class _Callback:
    """The loopback listener: serves one redirect carrying ``code`` and ``state`` (or ``error``)."""

    def __init__(self, redirect_uri: str) -> None:
        parts = urlsplit(redirect_uri)
        if parts.scheme != "http" or parts.hostname not in ("localhost", "127.0.0.1", "::1"):
            raise AuthError(f"the redirect URI {redirect_uri} is not a loopback http address",
                            hint="use admin.authType: DeviceFlow")
        self.path = parts.path or "/"
        self.host = "127.0.0.1" if parts.hostname == "localhost" else parts.hostname
        self.port = parts.port or 80
        self.result: dict[str, str] = {}
        self.arrived = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> _Callback:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                parts = urlsplit(self.path)
                if parts.path != owner.path:
                    self.send_error(404)
                    return
                owner.result = {k: v[0] for k, v in parse_qs(parts.query).items()}
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(_DONE_PAGE)
                owner.arrived.set()

            def log_message(self, *args) -> None:  # the query holds the code: never log it
                pass

        try:
            server = ThreadingHTTPServer((self.host, self.port), Handler)
        except OSError as error:
            raise AuthError(f"cannot listen on {self.host}:{self.port} for the browser's redirect: "
                            f"{error.strerror}", hint="close what uses the port, or use admin.authType: "
                            "DeviceFlow") from None
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True, name="pkce-callback").start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def wait_for_code(self, state: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while not self.arrived.wait(timeout=max(0.0, min(0.5, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                raise TimeoutExpired(f"no browser sign-in within {timeout:.0f} s",
                                     hint="run `flyrun auth login` again, or use admin.authType: DeviceFlow")
        if self.result.get("error"):
            raise AuthError(f"browser sign-in failed: {self.result['error']}",
                            hint="run `flyrun auth login` again")
        if not secrets.compare_digest(self.result.get("state", ""), state) or not self.result.get("code"):
            raise AuthError("the browser sign-in came back without a matching state and code",
                            hint="run `flyrun auth login` again")
        return self.result["code"]
