"""`flyrun sandbox start --auth`: discovery, the device flow with /activate, and bearer tokens on every API route
and console action."""

from __future__ import annotations

import json
import time

import pytest
import requests
from conftest import free_port, sandbox_cli
from sandbox_entities import ADD, SQUARE, Client, approve_workflow, integer, launch_plan

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("sandbox-auth")
    started = sandbox_cli("start", "--port", str(free_port()), "--data-dir", str(data_dir), "--auth", "--detach",
                          "-o", "json")
    assert started.exit_code == 0, started.output
    info = json.loads(started.stdout)
    # The first --auth start creates the operator secret and shows it once (here, in the JSON).
    assert len(info["operator_secret"]) >= 20 and info["operator_secret_file"] == str(data_dir / "operator-secret")
    yield info
    sandbox_cli("stop", "--data-dir", str(data_dir))


def sign_in(url: str, operator_secret: str) -> str:
    """The device flow as a CLI runs it, with the operator's approval given on /activate."""
    grant = requests.post(f"{url}/oauth2/device_authorization", data={"client_id": "flytectl"}, timeout=10).json()
    page = requests.post(grant["verification_uri"], data={"user_code": grant["user_code"], "decision": "approve",
                                                          "subject": "tester", "operator_secret": operator_secret},
                         timeout=10)
    assert page.status_code == 200
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answer = requests.post(f"{url}/oauth2/token", data={"grant_type": DEVICE_GRANT, "client_id": "flytectl",
                                                            "device_code": grant["device_code"]}, timeout=10).json()
        if "access_token" in answer:
            return answer["access_token"]
        assert answer["error"] in ("authorization_pending", "slow_down")
        time.sleep(grant["interval"])
    raise AssertionError("no token")


def test_start_prints_device_flow_config(secured):
    assert "authType: DeviceFlow" in secured["config"] and secured["auth"] is True


def test_discovery_points_at_the_sandbox(secured):
    client = requests.get(f"{secured['url']}/config/v1/flyte_client", timeout=10).json()
    assert client["client_id"] == "flytectl" and client["authorization_metadata_key"] == "flyte-authorization"
    metadata = requests.get(f"{secured['url']}/.well-known/oauth-authorization-server", timeout=10).json()
    assert metadata["token_endpoint"] == f"{secured['url']}/oauth2/token"
    assert metadata["device_authorization_endpoint"] == f"{secured['url']}/oauth2/device_authorization"


def test_every_api_route_needs_a_bearer_token(secured):
    url = secured["url"]
    assert requests.get(f"{url}/healthcheck", timeout=10).status_code == 200
    for path in ("/api/v1/projects", "/api/v1/version", "/api/v1/tasks/flytesnacks/development?limit=1"):
        refused = requests.get(url + path, timeout=10)
        assert refused.status_code == 401 and refused.json()["code"] == 16
    assert requests.post(f"{url}/api/v1/signals", json={}, timeout=10).status_code == 401
    bad = requests.get(f"{url}/api/v1/projects", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert bad.status_code == 401
    token = sign_in(url, secured["operator_secret"])
    assert requests.get(f"{url}/api/v1/projects", headers={"Authorization": f"Bearer {token}"},
                        timeout=10).status_code == 200
    assert requests.get(f"{url}/api/v1/projects", headers={"flyte-authorization": f"Bearer {token}"},
                        timeout=10).status_code == 200
    assert requests.get(f"{url}/me", headers={"Authorization": f"Bearer {token}"}, timeout=10).json()[
        "subject"] == "tester"


def test_console_shows_nothing_without_a_token(secured):
    url = secured["url"]
    page = requests.get(f"{url}/console", timeout=10)
    assert page.status_code == 200 and 'data-auth="required"' in page.text and "<table" not in page.text
    assert requests.get(f"{url}/console?fragment=1", timeout=10).status_code == 401
    # What is registered, and the launch form, are no more public than the executions.
    for path in ("/console/entities", "/console/projects/flytesnacks/domains/development/launch_plans/x"):
        page = requests.get(url + path, timeout=10)
        assert page.status_code == 200 and 'data-auth="required"' in page.text and "<table" not in page.text
        assert "form" not in page.text.split("<main>", 1)[1]
        assert requests.get(url + path + "?fragment=1", timeout=10).status_code == 401


@pytest.mark.slow
def test_console_signs_in_then_approves(secured):
    from conftest import CHROMIUM_ARGS, chromium
    from test_sandbox_console import wait_for_phase

    playwright_api, executable = chromium()

    client = Client(secured["url"])
    client.http.headers["Authorization"] = f"Bearer {sign_in(secured['url'], secured['operator_secret'])}"
    wf = approve_workflow("tests.secured_approve")
    client.register(SQUARE, ADD, wf, launch_plan(wf))
    name = client.launch(dict(wf["id"], resource_type="LAUNCH_PLAN"), {"x": integer(5)})
    client.wait_for_node(name, "n1", "RUNNING")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{secured['url']}/console/projects/flytesnacks/domains/development/executions/{name}")
        page.click("button.sign-in")
        activate = page.wait_for_selector("a.activate").get_attribute("href")
        approval = browser.new_page()
        approval.goto(activate)
        approval.fill("#operator_secret", secured["operator_secret"])
        approval.click("#approve")
        page.wait_for_selector("button.approve", timeout=30000)
        page.click("button.approve")
        wait_for_phase(page, "SUCCEEDED")
        browser.close()
    assert client.outputs(name)["o0"]["scalar"]["primitive"]["integer"] == "26"


@pytest.mark.slow
def test_flyrun_auth_login_then_run_remote(secured, tmp_path):
    """The whole CLI path: `flyrun auth login` (device flow, approved on /activate), then `run --remote --wait`."""
    import os
    import re
    import subprocess
    import sys

    from conftest import REPO

    config = tmp_path / "config.yaml"
    config.write_text(secured["config"])
    env = dict(os.environ, PYTHONPATH=str(REPO), HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "data"),
               PYTHON_KEYRING_BACKEND="keyrings.alt.file.PlaintextKeyring")
    flyrun = [sys.executable, "-m", "flyrun.cli.main", "-c", str(config)]
    login = subprocess.Popen([*flyrun, "auth", "login"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=env)
    printed = ""
    while "user_code=" not in printed:
        printed += login.stdout.readline()
    code = re.search(r"user_code=([A-Z0-9-]+)", printed).group(1)
    approved = requests.post(f"{secured['url']}/activate", timeout=10,
                             data={"user_code": code, "decision": "approve",
                                   "operator_secret": secured["operator_secret"]})
    assert approved.status_code == 200
    assert login.wait(timeout=60) == 0, login.stdout.read()
    done = subprocess.run([*flyrun, "run", "--remote", "--wait", str(REPO / "examples" / "hello.py"), "wf", "--x", "2"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("o0: Hello world, the answer is 4")
    # An eager body launches its calls through the API too: the sandbox gives its task credentials of its own.
    eager = subprocess.run([*flyrun, "run", "--remote", "--wait", str(REPO / "examples" / "eager.py"), "nested",
                            "--x", "3"], capture_output=True, text=True, env=env, timeout=180)
    assert eager.returncode == 0, eager.stderr
    assert eager.stdout.strip().endswith("o0: 17")


def test_self_approval_without_the_operator_secret_is_refused(secured, tmp_path):
    """The probe's sequence: device authorization, self-approval, token, register, execute; refused at approval."""
    from test_sandbox_security import launch_body, shell_task

    url = secured["url"]
    marker = tmp_path / "MARKER"
    grant = requests.post(f"{url}/oauth2/device_authorization", data={"client_id": "flytectl"}, timeout=10).json()
    refused = requests.post(f"{url}/activate", timeout=10,
                            data={"user_code": grant["user_code"], "decision": "approve", "subject": "mallory"})
    assert refused.status_code == 403 and "operator secret is missing or wrong" in refused.text
    token = requests.post(f"{url}/oauth2/token", timeout=10, data={
        "grant_type": DEVICE_GRANT, "client_id": "flytectl", "device_code": grant["device_code"]}).json()
    assert "access_token" not in token and token["error"] in ("authorization_pending", "slow_down")
    client = Client(url)
    assert client.post("/api/v1/tasks", shell_task("tests.rce", marker)).status_code == 401
    assert client.post("/api/v1/executions", launch_body("tests.rce")).status_code == 401
    # The same sequence with the operator's secret signs in, and the token registers and runs the task.
    client.http.headers["Authorization"] = f"Bearer {sign_in(url, secured['operator_secret'])}"
    client.register(shell_task("tests.rce", marker))
    assert client.post("/api/v1/executions", launch_body("tests.rce")).status_code == 200
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists()


def test_the_operator_secret_is_kept_0600_and_can_be_rotated(secured):
    import os
    import stat

    data_dir = secured["data_dir"]
    path = os.path.join(data_dir, "operator-secret")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    shown = sandbox_cli("operator-secret", "--data-dir", data_dir)
    assert shown.exit_code == 0 and shown.stdout.strip() == secured["operator_secret"]
    rotated = sandbox_cli("operator-secret", "--rotate", "--data-dir", data_dir, "-o", "json")
    assert rotated.exit_code == 0, rotated.output
    new = json.loads(rotated.stdout)["operator_secret"]
    try:
        assert new != secured["operator_secret"] and stat.S_IMODE(os.stat(path).st_mode) == 0o600
        grant = requests.post(f"{secured['url']}/oauth2/device_authorization", data={"client_id": "flytectl"},
                              timeout=10).json()
        old = requests.post(f"{secured['url']}/activate", timeout=10, data={
            "user_code": grant["user_code"], "decision": "approve", "operator_secret": secured["operator_secret"]})
        assert old.status_code == 403  # the running server uses the new one at once
        assert sign_in(secured["url"], new)
    finally:  # later tests in this module use the secret the fixture saw
        with open(path, "w") as handle:
            handle.write(secured["operator_secret"] + "\n")


@pytest.mark.slow
def test_with_auth_a_decks_iframe_loads_through_a_signed_link_for_that_deck_only(secured):
    """A frame's request carries no bearer token, so the signed-in page gives each deck's iframe a signed link."""
    import html
    import re

    from sandbox_entities import INT, promise, task_node, workflow
    from test_sandbox_console import deck_task, plain_deck

    token = sign_in(secured["url"], secured["operator_secret"])
    client = Client(secured["url"])
    client.http.headers["Authorization"] = f"Bearer {token}"
    shown = deck_task("tests.secured_deck", plain_deck())
    wf = workflow("tests.secured_decks", {"x": INT}, {"o0": INT},
                  [task_node("n0", shown, {"x": promise("start-node", "x")}),
                   task_node("n1", shown, {"x": promise("n0", "o0")})], {"o0": promise("n1", "o0")})
    client.register(shown, wf, launch_plan(wf))
    name = client.launch(dict(wf["id"], resource_type="LAUNCH_PLAN"), {"x": integer(1)})
    assert client.wait(name)["closure"]["phase"] == "SUCCEEDED"
    base = f"/console/projects/flytesnacks/domains/development/executions/{name}"
    fragment = client.get(base, params={"fragment": "1"}).text
    frames = {node: html.unescape(src) for node, src in re.findall(
        r'data-key="deck-(n\d)".*?<iframe [^>]*src="([^"]+)"', fragment)}
    assert sorted(frames) == ["n0", "n1"] and all("signature=" in src for src in frames.values())
    assert token not in fragment
    anonymous = requests.Session()  # what the iframe sends: no Authorization header
    deck = anonymous.get(secured["url"] + frames["n0"], timeout=10)
    assert deck.status_code == 200 and "Plain deck" in deck.text
    assert deck.headers["Content-Security-Policy"].startswith("sandbox;")
    assert anonymous.get(f"{secured['url']}{base}/nodes/n0/deck", timeout=10).status_code == 401  # unsigned
    other = anonymous.get(secured["url"] + frames["n0"].replace("/nodes/n0/", "/nodes/n1/"), timeout=10)
    assert other.status_code == 403 and other.text == (
        "the URL signature does not match: reload the execution page for a fresh deck link\n")
    expired = re.sub(r"expires=\d+", "expires=1000", frames["n0"])
    refused = anonymous.get(secured["url"] + expired, timeout=10)
    assert refused.status_code == 403 and refused.text.startswith("the signed URL has expired")
    log = anonymous.get(secured["url"] + frames["n0"].replace("/deck?", "/log?"), timeout=10)
    assert log.status_code == 401  # the signature is for the deck, not the node's log
