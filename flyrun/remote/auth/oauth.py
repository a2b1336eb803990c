"""Requests to an OAuth token endpoint, and the errors they can end in (RFC 6749 section 5)."""

from __future__ import annotations

from typing import Any

from flyrun.errors import AuthError, ServerError
from flyrun.remote.auth.credentials import Credentials
from flyrun.remote.transport import Transport, origin

FORM_HEADERS = {
    "Content-Type": "application/x-www-form-urlencoded",
    "Accept": "application/json",
    "Cache-Control": "no-cache",
}


class OAuthError(AuthError):
    """The authorization server answered with an OAuth error code (``error`` holds it, e.g. ``invalid_client``)."""

    def __init__(self, message: str, error: str, description: str = "", status: int = 400,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.error = error
        self.description = description
        self.status = status


def post_form(transport: Transport, url: str, form: dict[str, Any], *,
              basic_auth: str | None = None, what: str = "token request") -> dict[str, Any]:
    """POST a form, return the JSON body of a 200; raise ``OAuthError`` for an OAuth error response.

    ``basic_auth`` is a ready ``Basic ...`` header value; it is sent and never shown.
    """
    headers = dict(FORM_HEADERS)
    if basic_auth:
        headers["Authorization"] = basic_auth
    body = {key: value for key, value in form.items() if value not in (None, "")}
    response = transport.request("POST", url, data=body, headers=headers, allow_redirects=False)
    document = _json_or_none(response)
    if response.status_code == 200 and isinstance(document, dict):
        return document
    if isinstance(document, dict) and isinstance(document.get("error"), str):
        error, description = document["error"], str(document.get("error_description") or "")
        detail = f"{error}" + (f" ({description})" if description else "")
        raise OAuthError(f"{origin(url)} refused the {what}: {detail}", error, description, response.status_code)
    if response.status_code >= 500:
        raise ServerError(f"{origin(url)} failed the {what} with HTTP {response.status_code}")
    raise AuthError(f"{origin(url)} answered the {what} with HTTP {response.status_code} and no OAuth error",
                    hint="check admin.tokenUrl and admin.endpoint")


def refresh_credentials(transport: Transport, token_url: str, refresh_token: str, *, client_id: str | None,
                        scopes: list[str], audience: str | None) -> Credentials:
    """The refresh_token grant (RFC 6749 section 6), as flytekit sends it."""
    body = post_form(transport, token_url, {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": client_id,
        "scope": " ".join(scopes),
        "audience": audience,
    }, what="token refresh")
    return _credentials(body, token_url, previous_refresh_token=refresh_token)


def exchange_for_credentials(transport: Transport, token_url: str, form: dict[str, Any], *,
                             basic_auth: str | None = None, what: str = "token request") -> Credentials:
    return _credentials(post_form(transport, token_url, form, basic_auth=basic_auth, what=what), token_url)


def _credentials(body: dict[str, Any], token_url: str, previous_refresh_token: str | None = None) -> Credentials:
    if not isinstance(body.get("access_token"), str) or not body["access_token"]:
        raise AuthError(f"{origin(token_url)} sent a token response without an access_token")
    return Credentials.from_token_response(body, previous_refresh_token)


def _json_or_none(response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
