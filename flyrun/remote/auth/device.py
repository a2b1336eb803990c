"""The OAuth 2.0 device authorization grant (RFC 8628): sign in from a terminal with no browser.

The person is shown a URL and a code (through ``notify``, i.e. stderr), approves on any device, and meanwhile
this polls the token endpoint at the server's interval, 5 s slower after each ``slow_down``. ``access_denied``
ends in ``AuthError`` (exit 4); ``expired_token``, or the code's lifetime running out, in ``TimeoutExpired``
(exit 7). ``sleep`` and ``clock`` are parameters so a test can run the loop without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flyrun.errors import AuthError, TimeoutExpired
from flyrun.remote.auth.credentials import Credentials
from flyrun.remote.auth.discovery import ClientSettings
from flyrun.remote.auth.oauth import OAuthError, exchange_for_credentials, post_form
from flyrun.remote.transport import Transport, origin

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_INTERVAL = 5.0  # RFC 8628 section 3.2, when the server names none
SLOW_DOWN_STEP = 5.0  # RFC 8628 section 3.5
RETRY_LOGIN = "run `flyrun auth login` again"


class DeviceFlow:
    needs_person = True

    def __init__(self, transport: Transport, settings: ClientSettings, notify: Callable[[str], None], *,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        self.transport = transport
        self.settings = settings
        self.notify = notify
        self.sleep = sleep
        self.clock = clock

    def login(self) -> Credentials:
        grant = self._request_device_code()
        self._show_instructions(grant)
        return self._poll(grant)

    def _request_device_code(self) -> dict[str, Any]:
        endpoint = self.settings.device_authorization_endpoint
        if not endpoint:
            raise AuthError("the authorization server offers no device flow (no device_authorization_endpoint "
                            "in its metadata)", hint="use admin.authType: Pkce, or ClientSecret for CI")
        if not self.settings.client_id:
            raise AuthError("no OAuth client id: the server's /config/v1/flyte_client names none",
                            hint="set admin.clientId")
        grant = post_form(self.transport, endpoint, {"client_id": self.settings.client_id,
                                                     "scope": " ".join(self.settings.scopes),
                                                     "audience": self.settings.audience},
                          what="device authorization request")
        missing = [k for k in ("device_code", "user_code", "verification_uri") if not grant.get(k)]
        if missing:
            raise AuthError(f"{origin(endpoint)} sent a device authorization without {', '.join(missing)}")
        return grant

    def _show_instructions(self, grant: dict[str, Any]) -> None:
        uri, code = grant["verification_uri"], grant["user_code"]
        complete = grant.get("verification_uri_complete") or f"{uri}{'&' if '?' in uri else '?'}user_code={code}"
        self.notify(f"To Authenticate navigate in a browser to the following URL: {uri} and enter code: {code}")
        self.notify(f"OR copy paste the following URL: {complete}")
        self.notify("")
        self.notify("Authentication Pending...")

    def _poll(self, grant: dict[str, Any]) -> Credentials:
        interval = _seconds(grant.get("interval"), DEFAULT_INTERVAL)
        deadline = self.clock() + _seconds(grant.get("expires_in"), 600.0)
        form = {"grant_type": DEVICE_CODE_GRANT, "device_code": grant["device_code"],
                "client_id": self.settings.client_id, "scope": " ".join(self.settings.scopes),
                "audience": self.settings.audience}
        token_url = self.settings.token_endpoint
        if not token_url:
            raise AuthError("the authorization server names no token_endpoint", hint="set admin.tokenUrl")
        while True:
            if self.clock() >= deadline:
                raise _expired()
            self.sleep(interval)
            try:
                credentials = exchange_for_credentials(self.transport, token_url, form, what="device sign-in")
            except OAuthError as error:
                interval = self._after_error(error, interval)
                continue
            self.notify("Authentication successful!")
            return credentials

    def _after_error(self, error: OAuthError, interval: float) -> float:
        """The next polling interval, or raise when the sign-in is over."""
        if error.error == "authorization_pending":
            return interval
        if error.error == "slow_down":
            return interval + SLOW_DOWN_STEP
        if error.error == "access_denied":
            raise AuthError("sign-in was denied at the authorization server", hint=RETRY_LOGIN)
        if error.error == "expired_token":
            raise _expired()
        raise error


def _expired() -> TimeoutExpired:
    return TimeoutExpired("the device code expired before the sign-in was approved", hint=RETRY_LOGIN)


def _seconds(value: Any, default: float) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return default
    return seconds if seconds >= 0 else default
