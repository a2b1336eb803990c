"""The console in headless Chromium (Debian's chromium, driven by Playwright): approve a gate, see the run finish."""

from __future__ import annotations

import pytest
from conftest import CHROMIUM_ARGS, chromium
from sandbox_entities import (
    ADD,
    INT,
    SQUARE,
    Client,
    approve_workflow,
    integer,
    launch_plan,
    promise,
    task_node,
    workflow,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser():
    playwright_api, executable = chromium()
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def execution_url(server, name):
    return f"{server['url']}/console/projects/flytesnacks/domains/development/executions/{name}"


def wait_for_phase(page, phase):
    # A selector, not wait_for_function: the sandbox's Content-Security-Policy (rightly) forbids the eval() that
    # Playwright's string predicates need.
    page.wait_for_selector(f"#execution-phase:text-is('{phase}')", timeout=30000)


def test_approve_in_the_console_finishes_the_run(sandbox_server, browser):
    client = Client(sandbox_server["url"])
    wf = approve_workflow("tests.console_approve")
    client.register(SQUARE, ADD, wf, launch_plan(wf))
    name = client.launch(dict(wf["id"], resource_type="LAUNCH_PLAN"), {"x": integer(4)})
    client.wait_for_node(name, "n1", "RUNNING")
    page = browser.new_page()
    page.goto(execution_url(sandbox_server, name))
    assert page.inner_text("#execution-phase") == "RUNNING"
    assert "Gate review (node n1) is waiting." in page.inner_text(".gates")
    page.click("button.approve")
    wait_for_phase(page, "SUCCEEDED")
    assert page.locator(".gates").count() == 0
    assert "o0: 17" in page.inner_text("table.nodes")  # 4² + 1, rendered from outputs.pb
    page.goto(sandbox_server["url"] + "/console")
    assert name in page.inner_text("table.executions")
    page.close()


def test_typed_form_for_wait_for_input(sandbox_server, browser):
    client = Client(sandbox_server["url"])
    ask = {"id": "n0", "metadata": {"name": "how-many", "timeout": "600s"},
           "gate_node": {"signal": {"signal_id": "how-many", "type": INT, "output_variable_name": "o0"}}}
    wf = workflow("tests.console_ask", {}, {"o0": INT},
                  [ask, task_node("n1", ADD, {"a": promise("n0", "o0"), "b": integer(1)})], {"o0": promise("n1", "o0")})
    client.register(ADD, wf, launch_plan(wf))
    name = client.launch(dict(wf["id"], resource_type="LAUNCH_PLAN"))
    client.wait_for_node(name, "n0", "RUNNING")
    page = browser.new_page()
    page.goto(execution_url(sandbox_server, name))
    page.fill(".signal-form input[name=value]", "two")
    page.click(".signal-form button")
    assert "enter a whole number" in page.inner_text(".gate-error")
    page.fill(".signal-form input[name=value]", "41")
    page.click(".signal-form button")
    wait_for_phase(page, "SUCCEEDED")
    assert client.outputs(name)["o0"]["scalar"]["primitive"]["integer"] == "42"
    page.close()
