"""Sign-ins without a person: client credentials (CI) and an external command. Tokens stay in memory."""

from __future__ import annotations

import base64
import subprocess
from urllib.parse import quote_plus

from flyrun.errors import AuthError, ConfigError
from flyrun.remote.auth.credentials import Credentials
from flyrun.remote.auth.discovery import ClientSettings
from flyrun.remote.auth.oauth import OAuthError, exchange_for_credentials
from flyrun.remote.transport import Transport

COMMAND_TIMEOUT = 120.0


class ClientSecret:
    """The client credentials grant, authenticated with HTTP Basic as flytekit does (protocol section 3.5)."""

    needs_person = False

    def __init__(self, transport: Transport, settings: ClientSettings, client_secret: str,
                 secret_source: str) -> None:
        self.transport = transport
        self.settings = settings
        self._secret = client_secret
        self.secret_source = secret_source

    def __repr__(self) -> str:
        return f"ClientSecret(client_id={self.settings.client_id!r}, secret from {self.secret_source})"

    def login(self) -> Credentials:
        if not self.settings.token_endpoint:
            raise AuthError("the authorization server names no token_endpoint", hint="set admin.tokenUrl")
        pair = f"{self.settings.client_id}:{quote_plus(self._secret)}".encode()
        basic = "Basic " + base64.b64encode(pair).decode("ascii")
        form = {"grant_type": "client_credentials", "scope": " ".join(self.settings.scopes),
                "audience": self.settings.audience}
        try:
            credentials = exchange_for_credentials(self.transport, self.settings.token_endpoint, form,
                                                   basic_auth=basic, what="client credentials")
        except OAuthError as error:
            if error.error in ("invalid_client", "unauthorized_client"):
                raise AuthError(f"the authorization server rejected client '{self.settings.client_id}' "
                                f"({error.error})", hint=f"check admin.clientId and the secret in "
                                f"{self.secret_source}") from None
            raise
        credentials.refresh_token = None  # memory only, and a new grant is as cheap as a refresh
        return credentials


class ExternalCommand:
    """``admin.command`` prints a token on stdout (e.g. a cloud CLI's identity token)."""

    needs_person = False

    def __init__(self, command: list[str]) -> None:
        self.command = command

    def login(self) -> Credentials:
        shown = " ".join(self.command)
        try:
            result = subprocess.run(self.command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
                                    stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise ConfigError(f"admin.command: program '{self.command[0]}' not found") from None
        except subprocess.TimeoutExpired:
            raise AuthError(f"admin.command `{shown}` did not finish in {COMMAND_TIMEOUT:.0f} s") from None
        except OSError as error:
            raise ConfigError(f"admin.command `{shown}` could not start: {error.strerror}") from None
        if result.returncode != 0:
            # The command's own error text helps, but only its first line, and never stdout (it may hold a token).
            first_line = (result.stderr.strip().splitlines() or [""])[0][:200]
            raise AuthError(f"admin.command `{shown}` failed with exit status {result.returncode}"
                            + (f": {first_line}" if first_line else ""))
        token = result.stdout.strip()
        if not token or len(token.split()) != 1:
            raise AuthError(f"admin.command `{shown}` printed no token (expected one word on stdout)")
        return Credentials(access_token=token)
