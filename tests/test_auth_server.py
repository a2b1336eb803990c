"""The sandbox authorization server, over HTTP: discovery documents, the grants, /activate, /me, protection."""

from __future__ import annotations

import base64
from urllib.parse import quote_plus

import pytest
import requests
from auth_support import CI_CLIENT_ID, CI_SECRET, OPERATOR_SECRET, PUBLIC_CLIENT_ID, TOKEN_PREFIX

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# The field names of flyteidl's service.OAuth2MetadataResponse, PublicClientAuthConfigResponse and
# UserInfoResponse (auth.swagger.json, identity.swagger.json).
METADATA_FIELDS = {"issuer", "authorization_endpoint", "token_endpoint", "response_types_supported",
                   "scopes_supported", "token_endpoint_auth_methods_supported", "jwks_uri",
                   "code_challenge_methods_supported", "grant_types_supported", "device_authorization_endpoint"}
CLIENT_CONFIG_FIELDS = {"client_id", "redirect_uri", "scopes", "authorization_metadata_key", "service_http_endpoint",
                        "audience"}
USER_INFO_FIELDS = {"subject", "name", "preferred_username", "given_name", "family_name", "email", "picture",
                    "additional_claims"}


def device_code(server) -> dict:
    response = requests.post(server.url + "/oauth2/device_authorization",
                             data={"client_id": PUBLIC_CLIENT_ID, "scope": "all offline"}, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def poll(server, code: dict) -> requests.Response:
    return requests.post(server.url + "/oauth2/token", timeout=5, data={
        "grant_type": DEVICE_GRANT, "device_code": code["device_code"], "client_id": PUBLIC_CLIENT_ID})


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{quote_plus(secret)}".encode()).decode()


def test_discovery_documents_have_flytes_field_names(auth_server):
    metadata = requests.get(auth_server.url + "/.well-known/oauth-authorization-server", timeout=5).json()
    assert set(metadata) == METADATA_FIELDS
    assert metadata["issuer"] == auth_server.url
    assert metadata["device_authorization_endpoint"] == auth_server.url + "/oauth2/device_authorization"
    assert DEVICE_GRANT in metadata["grant_types_supported"]
    client = requests.get(auth_server.url + "/config/v1/flyte_client", timeout=5).json()
    assert set(client) == CLIENT_CONFIG_FIELDS
    assert client["authorization_metadata_key"] == "flyte-authorization"
    assert client["client_id"] == PUBLIC_CLIENT_ID


def test_device_grant_pending_then_approved_then_single_use(auth_server):
    code = device_code(auth_server)
    assert code["verification_uri"] == auth_server.url + "/activate"
    assert code["verification_uri_complete"].endswith("?user_code=" + code["user_code"])
    assert poll(auth_server, code).json() == {"error": "authorization_pending"}
    # People type codes loosely: lower case, no dash.
    assert auth_server.server.approve_user_code(code["user_code"].lower().replace("-", ""), subject="alice")
    token = poll(auth_server, code).json()
    assert token["access_token"].startswith(TOKEN_PREFIX) and token["refresh_token"].startswith(TOKEN_PREFIX)
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600
    assert poll(auth_server, code).json()["error"] == "invalid_request"  # the device code is spent
    me = requests.get(auth_server.url + "/me", headers={"Authorization": "Bearer " + token["access_token"]},
                      timeout=5).json()
    assert set(me) == USER_INFO_FIELDS and me["subject"] == "alice"


def test_device_grant_denied_slowed_and_expired(auth_server):
    denied = device_code(auth_server)
    auth_server.server.deny_user_code(denied["user_code"])
    assert poll(auth_server, denied).json()["error"] == "access_denied"
    auth_server.server.settings.slow_down_polls = 1
    slowed = device_code(auth_server)
    assert poll(auth_server, slowed).json()["error"] == "slow_down"
    assert poll(auth_server, slowed).json()["error"] == "slow_down"  # polled again at once: still too fast
    expired = device_code(auth_server)
    auth_server.server.expire_device_codes()
    assert poll(auth_server, expired).json()["error"] == "expired_token"


def test_activate_page_approves_and_denies_over_http(auth_server):
    code = device_code(auth_server)
    page = requests.get(code["verification_uri_complete"], timeout=5)
    assert page.status_code == 200 and f'value="{code["user_code"]}"' in page.text
    unknown = requests.post(auth_server.url + "/activate", timeout=5, data={
        "user_code": "<b>NOPE</b>", "decision": "approve", "operator_secret": OPERATOR_SECRET})
    assert unknown.status_code == 400 and "<b>NOPE" not in unknown.text and "&lt;b&gt;NOPE" in unknown.text
    done = requests.post(auth_server.url + "/activate", timeout=5,
                         data={"user_code": code["user_code"], "decision": "approve", "subject": "bob",
                               "operator_secret": OPERATOR_SECRET})
    assert done.status_code == 200 and "Device approved" in done.text
    assert poll(auth_server, code).status_code == 200


def test_approval_needs_the_operator_secret_and_wrong_ones_are_rate_limited(auth_server):
    """Whoever reaches /activate could approve their own code; only the operator's secret may."""
    code = device_code(auth_server)
    form = {"user_code": code["user_code"], "decision": "approve", "subject": "mallory"}
    assert requests.post(auth_server.url + "/activate", data=form, timeout=5).status_code == 403
    for _ in range(4):
        wrong = requests.post(auth_server.url + "/activate", data=dict(form, operator_secret="guess"), timeout=5)
        assert wrong.status_code == 403 and "operator secret is missing or wrong" in wrong.text
    assert poll(auth_server, code).json()["error"] == "authorization_pending"
    limited = requests.post(auth_server.url + "/activate", data=dict(form, operator_secret=OPERATOR_SECRET),
                            timeout=5)
    assert limited.status_code == 429 and "Too many wrong operator secrets" in limited.text
    assert poll(auth_server, code).json()["error"] in ("authorization_pending", "slow_down")  # no token


def test_client_credentials_with_http_basic(auth_server):
    url = auth_server.url + "/oauth2/token"
    good = requests.post(url, data={"grant_type": "client_credentials", "scope": "all"},
                         headers={"Authorization": basic(CI_CLIENT_ID, CI_SECRET)}, timeout=5)
    assert good.status_code == 200 and "refresh_token" not in good.json()
    bad = requests.post(url, data={"grant_type": "client_credentials"},
                        headers={"Authorization": basic(CI_CLIENT_ID, "wrong")}, timeout=5)
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    public = requests.post(url, data={"grant_type": "client_credentials", "client_id": PUBLIC_CLIENT_ID}, timeout=5)
    assert public.status_code in (400, 401)


def test_refresh_tokens_rotate(auth_server):
    code = device_code(auth_server)
    auth_server.server.approve_user_code(code["user_code"])
    first = poll(auth_server, code).json()
    url = auth_server.url + "/oauth2/token"
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": PUBLIC_CLIENT_ID}
    second = requests.post(url, data=form, timeout=5)
    assert second.status_code == 200 and second.json()["refresh_token"] != first["refresh_token"]
    assert requests.post(url, data=form, timeout=5).json()["error"] == "invalid_grant"
    assert auth_server.server.grant_counts["refresh_token"] == 2


def test_protect_requires_a_bearer_on_everything_else(auth_server):
    anonymous = requests.get(auth_server.url + "/api/v1/projects", timeout=5)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == 16
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert requests.get(auth_server.url + "/public/health", timeout=5).status_code == 200
    code = device_code(auth_server)
    auth_server.server.approve_user_code(code["user_code"])
    token = poll(auth_server, code).json()["access_token"]
    for header in ("Authorization", "flyte-authorization"):
        response = requests.get(auth_server.url + "/api/v1/projects", headers={header: f"Bearer {token}"}, timeout=5)
        assert response.status_code == 200, header
    auth_server.server.revoke_access_tokens()
    assert requests.get(auth_server.url + "/api/v1/projects", headers={"Authorization": f"Bearer {token}"},
                        timeout=5).status_code == 401


@pytest.mark.parametrize("header", [None, "", "Bearer", "Basic abc", "Bearer unknown-token"])
def test_validate_bearer_rejects_junk(auth_server, header):
    assert auth_server.server.validate_bearer(header) is None
