"""Where and how to sign in: ``/config/v1/flyte_client``, then ``/.well-known/oauth-authorization-server``.

Configured values win over discovered ones (``admin.clientId``, ``admin.scopes``, ``admin.audience``,
``admin.authorizationHeader``, ``admin.tokenUrl``; ``admin.authorizationServerUrl`` moves the metadata lookup).
Both documents are fetched lazily and at most once per session: sending a stored token needs only the first.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from flyrun.errors import AuthError, ServerError
from flyrun.remote.transport import Transport, origin

CLIENT_CONFIG_PATH = "/config/v1/flyte_client"
METADATA_PATH = "/.well-known/oauth-authorization-server"


@dataclass
class ClientSettings:
    """Everything a sign-in flow needs, merged from config and the two discovery documents."""

    client_id: str | None
    scopes: list[str] = field(default_factory=list)
    audience: str | None = None
    redirect_uri: str | None = None
    authorization_metadata_key: str | None = None
    token_endpoint: str | None = None
    device_authorization_endpoint: str | None = None
    authorization_endpoint: str | None = None


class Discovery:
    def __init__(self, transport: Transport, base_url: str, config) -> None:
        self.transport = transport
        self.base_url = base_url.rstrip("/")
        self.config = config
        self._lock = threading.Lock()
        self._client_config: dict[str, Any] | None = None
        self._metadata: dict[str, Any] | None = None

    def header_key(self) -> str | None:
        """The extra header to carry the token (the server's ``authorization_metadata_key``), if any."""
        configured = self.config.get("admin.authorizationHeader")
        if configured:
            return configured
        key = self.client_config().get("authorization_metadata_key")
        return key if isinstance(key, str) and key and key.lower() != "authorization" else None

    def client_config(self) -> dict[str, Any]:
        """``/config/v1/flyte_client``; an empty mapping when the server has none (auth off, older servers)."""
        with self._lock:
            if self._client_config is None:
                document = self._get_json(self.base_url + CLIENT_CONFIG_PATH, required=False)
                self._client_config = document if isinstance(document, dict) else {}
            return self._client_config

    def metadata(self) -> dict[str, Any]:
        with self._lock:
            if self._metadata is None:
                root = (self.config.get("admin.authorizationServerUrl") or self.base_url).rstrip("/")
                # With admin.tokenUrl set, the metadata is optional: a CI client needs nothing else.
                required = not self.config.get("admin.tokenUrl")
                self._metadata = self._get_json(root + METADATA_PATH, required=required) or {}
            return self._metadata

    def settings(self) -> ClientSettings:
        served, metadata = self.client_config(), self.metadata()
        get = self.config.get
        scopes = get("admin.scopes") or served.get("scopes") or []
        return ClientSettings(
            client_id=get("admin.clientId") or served.get("client_id") or None,
            scopes=[str(s) for s in scopes],
            audience=get("admin.audience") or served.get("audience") or None,
            redirect_uri=served.get("redirect_uri") or None,
            authorization_metadata_key=self.header_key(),
            token_endpoint=get("admin.tokenUrl") or metadata.get("token_endpoint") or None,
            device_authorization_endpoint=metadata.get("device_authorization_endpoint") or None,
            authorization_endpoint=metadata.get("authorization_endpoint") or None,
        )

    def _get_json(self, url: str, required: bool) -> dict[str, Any] | None:
        response = self.transport.request("GET", url, headers={"Accept": "application/json"}, allow_redirects=False)
        if response.status_code >= 500:
            raise ServerError(f"{origin(url)} failed {_path(url)} with HTTP {response.status_code}")
        try:
            document = response.json() if response.status_code == 200 else None
        except ValueError:
            document = None
        if isinstance(document, dict):
            return document
        if required:
            raise AuthError(f"{origin(url)} publishes no OAuth metadata at {_path(url)} "
                            f"(HTTP {response.status_code})",
                            hint="check admin.endpoint, or set admin.authorizationServerUrl / admin.tokenUrl")
        return None


def _path(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path
