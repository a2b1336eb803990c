"""The console in headless Chromium (Debian's chromium, driven by Playwright): approve a gate, see the run finish."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import pytest
from conftest import CHROMIUM_ARGS, chromium
from sandbox_entities import (
    ADD,
    INT,
    SQUARE,
    Client,
    approve_workflow,
    ident,
    integer,
    launch_plan,
    promise,
    square_twice,
    square_twice_plan,
    task,
    task_node,
    workflow,
    workflow_template,
)

pytestmark = pytest.mark.slow
# Screenshots go to docs/ only when asked (FLYRUN_UPDATE_SCREENSHOTS=1), so a test run leaves the checkout as it was.
DOCS = (Path(__file__).resolve().parent.parent / "docs" if os.environ.get("FLYRUN_UPDATE_SCREENSHOTS") == "1"
        else Path(tempfile.mkdtemp(prefix="flyrun-console-shots-")))


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
    assert page.locator("a.gnode[data-node-id=n1] rect.phase-RUNNING").count() == 1
    assert page.locator("a.gnode[data-node-id=n2] rect.phase-UNDEFINED").count() == 1  # not started yet
    page.click("button.approve")
    wait_for_phase(page, "SUCCEEDED")
    assert page.locator(".gates").count() == 0
    # The graph and timeline are part of the polled fragment: they follow the run without a reload.
    assert page.locator("svg.graph rect.phase-SUCCEEDED").count() == 3
    assert page.locator("svg.timeline g.bar").count() == 3
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


def diamond_workflow():
    """n0 = square(x); n1 = square(n0); n2 = add(n0, 1); n3 = add(n1, n2): four nodes on three levels."""
    return workflow("tests.console_diamond", {"x": INT}, {"o0": INT},
                    [task_node("n0", SQUARE, {"x": promise("start-node", "x")}),
                     task_node("n1", SQUARE, {"x": promise("n0", "o0")}),
                     task_node("n2", ADD, {"a": promise("n0", "o0"), "b": integer(1)}),
                     task_node("n3", ADD, {"a": promise("n1", "o0"), "b": promise("n2", "o0")})],
                    {"o0": promise("n3", "o0")})


def test_graph_and_timeline_show_every_node(sandbox_server, browser):
    client = Client(sandbox_server["url"])
    wf = diamond_workflow()
    client.register(SQUARE, ADD, wf, launch_plan(wf))
    name = client.launch(dict(wf["id"], resource_type="LAUNCH_PLAN"), {"x": integer(2)})
    client.wait(name)
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    seen = request_log(page)
    page.goto(execution_url(sandbox_server, name))
    wait_for_phase(page, "SUCCEEDED")
    graph = page.locator("svg.graph")
    assert graph.locator("a.gnode").count() == 4
    assert sorted(graph.locator("a.gnode").evaluate_all("els => els.map(e => e.dataset.nodeId)")) == [
        "n0", "n1", "n2", "n3"]
    assert graph.locator("path.edge").count() == 4  # n0→n1, n0→n2, n1→n3, n2→n3
    assert graph.locator("rect.phase-SUCCEEDED").count() == 4
    # Laid out top to bottom by depth: n0 above n1 and n2 (side by side), which are above n3.
    boxes = {n: graph.locator(f"a.gnode[data-node-id={n}] rect").bounding_box() for n in ("n0", "n1", "n2", "n3")}
    assert boxes["n0"]["y"] < boxes["n1"]["y"] == boxes["n2"]["y"] < boxes["n3"]["y"]
    assert boxes["n0"]["width"] > 100 and boxes["n0"]["height"] > 30  # drawn, not collapsed to nothing
    shot = graph.screenshot(path=str(DOCS / "console-graph.png"))
    assert _coloured_pixels(shot) > 2000  # an empty graph is a blank box: no phase-coloured pixels at all
    timeline = page.locator("svg.timeline")
    assert timeline.locator("g.bar rect").count() == 4
    assert all(timeline.locator("g.bar rect").nth(i).bounding_box()["width"] >= 2 for i in range(4))
    timeline.screenshot(path=str(DOCS / "console-timeline.png"))
    # A node click opens its row: inputs, outputs (and error and log links when it has them).
    graph.locator("a.gnode[data-node-id=n3]").click()
    assert page.url.endswith("#node-n3")
    assert "o0: 21" in page.inner_text("tr#node-n3")  # (2²)² + (2² + 1)
    # Keyboard: graph nodes are links, so Tab reaches them and Enter opens one.
    graph.locator("a.gnode[data-node-id=n1]").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**#node-n1")
    assert_only_local(seen, sandbox_server)
    page.close()



def _coloured_pixels(png: bytes) -> int:
    """Pixels of the phase-SUCCEEDED green (fill #d8f3df) in an 8-bit RGB(A) PNG screenshot (no imaging library)."""
    import struct
    import zlib

    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width = height = channels = 0
    data, offset = b"", 8
    while offset < len(png):
        length, kind = struct.unpack(">I4s", png[offset:offset + 8])
        chunk = png[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and colour in (2, 6), (depth, colour)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            data += chunk
        offset += 12 + length
    raw, stride = zlib.decompress(data), width * channels
    previous, count = bytearray(stride), 0
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for x in range(stride):  # undo the PNG row filter
            a = line[x - channels] if x >= channels else 0
            b, c = previous[x], previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        count += sum(1 for x in range(0, stride, channels) if line[x:x + 3] == b"\xd8\xf3\xdf")
        previous = line
    return count


def add_plan():
    """wf(a, b) = add(a, b); its launch plan defaults a to 5 and fixes b at 100."""
    wf = workflow("tests.console_launch", {"a": INT, "b": INT}, {"o0": INT},
                  [task_node("n0", ADD, {"a": promise("start-node", "a"), "b": promise("start-node", "b")})],
                  {"o0": promise("n0", "o0")})
    plan = launch_plan(wf, {"a": (INT, integer(5))})
    plan["spec"]["fixed_inputs"] = {"literals": {"b": integer(100)}}
    return wf, plan


def test_launch_form_runs_a_workflow_end_to_end(sandbox_server, browser):
    client = Client(sandbox_server["url"])
    wf, plan = add_plan()
    client.register(ADD, wf, plan)
    page = browser.new_page(viewport={"width": 1000, "height": 700})
    seen = request_log(page)
    page.goto(sandbox_server["url"] + "/console/entities")
    page.click("table.entities a:text-is('tests.console_launch') >> nth=0")
    assert "/workflows/" in page.url or "/launch_plans/" in page.url
    page.goto(sandbox_server["url"] + "/console/projects/flytesnacks/domains/development/launch_plans/"
              "tests.console_launch")
    assert page.input_value("form.launch [data-input=a]") == "5"  # the default, filled in
    assert page.locator("form.launch input.fixed").get_attribute("readonly") is not None
    assert page.input_value("form.launch input.fixed") == "100"
    assert "int" in page.inner_text(".interface")
    page.fill("form.launch [data-input=a]", "seven")
    page.click("form.launch button[type=submit]")
    assert page.inner_text(".launch-error") == "a: enter a whole number"
    page.fill("form.launch [data-input=a]", "7")
    assert page.locator(".launch-error").is_hidden()
    page.locator("form.launch").screenshot(path=str(DOCS / "console-launch-form.png"))
    page.click("form.launch button[type=submit]")
    page.wait_for_url("**/executions/*", timeout=30000)
    wait_for_phase(page, "SUCCEEDED")
    name = page.url.rsplit("/", 1)[-1]
    assert client.outputs(name)["o0"]["scalar"]["primitive"]["integer"] == "107"
    # Relaunch: the same form, filled in with this execution's inputs.
    page.click("a.relaunch")
    assert page.input_value("form.launch [data-input=a]") == "7"
    assert_only_local(seen, sandbox_server)
    page.close()


def test_launch_form_shows_the_servers_refusal(sandbox_server, browser):
    client = Client(sandbox_server["url"])
    wf = workflow("tests.console_required", {"x": INT}, {"o0": INT},
                  [task_node("n0", SQUARE, {"x": promise("start-node", "x")})], {"o0": promise("n0", "o0")})
    client.register(SQUARE, wf, launch_plan(wf))
    page = browser.new_page()
    page.goto(sandbox_server["url"] + "/console/projects/flytesnacks/domains/development/launch_plans/"
              "tests.console_required")
    assert page.get_attribute("form.launch [data-input=x]", "required") is not None
    page.click("form.launch button[type=submit]")  # the browser's own check stops an empty required field
    assert page.locator(".launch-error").is_hidden()
    page.close()


def test_executions_list_filters_are_shareable_links(sandbox_server, browser):
    client = Client(sandbox_server["url"])
    wf = diamond_workflow()
    client.register(SQUARE, ADD, wf, launch_plan(wf))
    done = client.launch(dict(wf["id"], resource_type="LAUNCH_PLAN"), {"x": integer(3)})
    client.wait(done)
    other = approve_workflow("tests.console_filter_other")
    client.register(SQUARE, ADD, other, launch_plan(other))
    waiting = client.launch(dict(other["id"], resource_type="LAUNCH_PLAN"), {"x": integer(1)})
    client.wait_for_node(waiting, "n1", "RUNNING")
    page = browser.new_page()
    page.goto(sandbox_server["url"] + "/console")
    page.select_option("form.filters select[name=phase]", "SUCCEEDED")
    page.fill("form.filters input[name=workflow]", "diamond")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/console?phase=SUCCEEDED&workflow=diamond&since=")
    table = page.inner_text("table.executions")
    assert done in table and waiting not in table
    assert all("tests.console_diamond" in row for row in page.locator("table.executions tbody tr").all_inner_texts())
    shared = browser.new_page()  # the link alone gives the same view
    shared.goto(sandbox_server["url"] + "/console?phase=RUNNING&workflow=FILTER_OTHER")
    assert waiting in shared.inner_text("table.executions") and done not in shared.inner_text("table.executions")
    assert shared.input_value("form.filters input[name=workflow]") == "FILTER_OTHER"
    shared.goto(sandbox_server["url"] + "/console?phase=done")
    assert "Unknown phase 'DONE': use one of" in shared.inner_text("main")
    shared.goto(sandbox_server["url"] + "/console?workflow=no-such-workflow")
    assert "No executions match these filters." in shared.inner_text("main")
    client.signal(waiting, "review", {"scalar": {"primitive": {"boolean": True}}})
    page.close()
    shared.close()


def test_graph_shows_map_counts_a_taken_branch_and_a_subworkflows_nodes(sandbox_server, browser):
    client = Client(sandbox_server["url"])
    list_int = {"collection_type": INT}
    scale = task("tests.console_scale", "if inputs['x'] < 0: fail('negative item')\nwrite({'o0': inputs['x'] * 2})",
                 {"x": INT}, {"o0": INT})
    bindings = [{"var": "x", "binding": promise("start-node", "xs")}]
    mapped = {"id": "n0", "metadata": {"name": "scale"}, "inputs": bindings, "array_node": {
        "node": {"id": "n0", "metadata": {"name": "scale"}, "inputs": bindings,
                 "task_node": {"reference_id": scale["id"]}}, "min_success_ratio": 0.5, "parallelism": 4}}
    condition = {"comparison": {"operator": "GT", "left_value": {"var": "x"},
                                "right_value": {"primitive": {"integer": "5"}}}}
    branch = {"id": "n1", "metadata": {"name": "pick"}, "inputs": [{"var": "x", "binding": promise("start-node", "x")}],
              "branch_node": {"if_else": {"case": {"condition": condition, "then_node": task_node(
                  "n1-big", SQUARE, {"x": promise("start-node", "x")})}, "else_node": task_node(
                  "n1-small", ADD, {"a": promise("start-node", "x"), "b": integer(1000)})}}}
    sub_id = ident("WORKFLOW", "tests.console_sub")
    sub = workflow_template(sub_id, {"x": INT}, {"o0": INT},
                            [task_node("n0", SQUARE, {"x": promise("start-node", "x")}),
                             task_node("n1", SQUARE, {"x": promise("n0", "o0")})], {"o0": promise("n1", "o0")})
    nested = {"id": "n2", "metadata": {"name": "sub"}, "inputs": [{"var": "x", "binding": promise("n1", "o0")}],
              "workflow_node": {"sub_workflow_ref": sub_id}}
    wf = workflow("tests.console_shapes", {"xs": list_int, "x": INT}, {"o0": INT}, [mapped, branch, nested],
                  {"o0": promise("n2", "o0")}, sub_workflows=[sub])
    client.register(SQUARE, ADD, scale, wf, launch_plan(wf))
    xs = {"collection": {"literals": [integer(i) for i in (1, 2, -1, 4)]}}
    name = client.launch(dict(wf["id"], resource_type="LAUNCH_PLAN"), {"xs": xs, "x": integer(3)})
    client.wait(name)
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    page.goto(execution_url(sandbox_server, name))
    wait_for_phase(page, "SUCCEEDED")
    status = {n: page.text_content(f"a.gnode[data-node-id={n}] text.gstatus") for n in ("n0", "n1", "n2")}
    assert status["n0"] == "3 ok · 1 failed · 0 running"
    assert status["n1"] == "branch took n1-small"
    assert status["n2"] == "2 inner: n0, n1"
    assert page.locator("svg.graph path.edge").count() == 1  # n1 → n2; the map stands alone
    page.goto(execution_url(sandbox_server, name) + "?expand=n2")  # the subworkflow's graph, in place
    page.locator("svg.graph").screenshot(path=str(DOCS / "console-graph-shapes.png"))
    cluster = page.locator("svg.graph g.cluster[data-node-id=n2]")
    assert sorted(cluster.locator("a.gnode").evaluate_all("els => els.map(e => e.dataset.nodeId)")) == [
        "n2", "n2-0-n0", "n2-0-n1"]
    assert cluster.locator('a.gnode[data-node-id="n2-0-n1"] rect.phase-SUCCEEDED').count() == 1
    assert cluster.locator("path.edge").count() == 1  # n0 → n1 inside the subworkflow
    assert page.locator("svg.graph a.gtoggle[data-toggle=n2]").get_attribute("aria-label") == "collapse n2"
    page.close()


def test_timeline_draws_each_retry_as_a_bar(sandbox_server, browser):
    client = Client(sandbox_server["url"])
    flaky = task("tests.console_flaky", "import os\nif os.environ['FLYTE_ATTEMPT_NUMBER'] == '0':\n"
                 "    fail('try again', recoverable=True)\nwrite({'o0': 1})", {}, {"o0": INT}, retries=2)
    wf = workflow("tests.console_retried", {}, {"o0": INT}, [task_node("n0", flaky, {})], {"o0": promise("n0", "o0")})
    client.register(flaky, wf, launch_plan(wf))
    name = client.launch(dict(wf["id"], resource_type="LAUNCH_PLAN"))
    assert client.wait(name)["closure"]["phase"] == "SUCCEEDED"
    page = browser.new_page()
    page.goto(execution_url(sandbox_server, name))
    bars = page.locator("svg.timeline g.bar")
    assert bars.locator("text.barlabel").all_text_contents() == ["n0 #1", "n0 #2"]
    assert bars.nth(0).locator("rect.phase-FAILED").count() == 1
    assert bars.nth(1).locator("rect.phase-SUCCEEDED").count() == 1
    first, second = (bars.nth(i).locator("rect").bounding_box() for i in (0, 1))
    assert second["x"] >= first["x"] + first["width"] - 1  # the retry starts after the first attempt ends
    page.close()


def test_registered_entities_versions_and_interfaces(sandbox_server):
    client = Client(sandbox_server["url"])
    wf, plan = add_plan()
    client.register(ADD, wf, plan)
    newer = dict(wf, id=dict(wf["id"], version="v2"))
    newer["spec"]["template"]["id"] = newer["id"]
    client.register(newer)
    base = "/console/projects/flytesnacks/domains/development"
    listing = client.get("/console/entities").text
    assert "Workflows in flytesnacks/development" in listing and "Launch plans in flytesnacks/development" in listing
    assert '/workflows/tests.console_launch">tests.console_launch</a></td><td>2</td>' in listing  # two versions
    page = client.get(base + "/workflows/tests.console_launch")
    assert page.status_code == 200
    assert page.text.index(">v2</a>") < page.text.index(">v1</a>")  # newest first, and shown by default
    assert 'aria-current="true" class="current">v2' in page.text
    assert "<th>a</th><td><code>int</code>" in page.text and "<th>o0</th><td><code>int</code>" in page.text
    assert "/launch_plans/tests.console_launch" in page.text
    task_page = client.get(base + "/tasks/tests.add", params={"version": "v1"})
    assert task_page.status_code == 200 and "<th>b</th><td><code>int</code>" in task_page.text
    missing = client.get(base + "/launch_plans/tests.no_such_plan")
    assert missing.status_code == 404 and "No launch plan named tests.no_such_plan in flytesnacks/development" in (
        missing.text)
    old = client.get(base + "/workflows/tests.console_launch", params={"version": "v9"})
    assert old.status_code == 404 and "tests.console_launch has no version v9; choose one of the versions below" in (
        old.text)


# -- decks in a sandboxed iframe ------------------------------------------------------------------------------
# The probe deck tries what a hostile deck would: the console's cookie and session storage, the framing page's DOM
# and the API. It writes what it got into its own DOM, which the test reads from the console page.
PROBE = """<html><head><title>probe</title></head><body><h1>Probe deck</h1><pre id="probe">running</pre><script>
const out = {};
function attempt(name, read) { try { out[name] = String(read()); } catch (e) { out[name] = "error: " + e.name; } }
attempt("cookie", function () { return document.cookie; });
attempt("storage", function () { return sessionStorage.getItem("flyrunToken"); });
attempt("parent", function () { return parent.document.title; });
attempt("parent_header", function () { return parent.document.querySelector("header").textContent; });
fetch("/api/v1/projects").then(function (r) { return r.text(); })
  .then(function (text) { out.fetch = "got: " + text; }, function (e) { out.fetch = "error: " + e.name; })
  .finally(function () { document.getElementById("probe").textContent = JSON.stringify(out); });
</script></body></html>"""


def plain_deck() -> str:
    """A deck as flyrun writes one (script-free tabs): a report and a table."""
    from flyrun.deck import Deck, MarkdownRenderer, TableRenderer, render_document

    report = Deck("Report", MarkdownRenderer().to_html("# Plain deck\n\nrows: 3"), auto_add_to_deck=False)
    table = Deck("Table", TableRenderer().to_html([["1", "1"], ["2", "4"], ["3", "9"]], ["x", "x²"]),
                 auto_add_to_deck=False)
    return render_document([report, table], "plain deck")


def deck_task(name, document):
    body = f"write({{'o0': inputs['x'] + 1}})\nopen(os.path.join(out_dir, 'deck.html'), 'w').write({document!r})"
    return task(name, body, {"x": INT}, {"o0": INT})


def request_log(page):
    """Every URL the page (and its frames) asks for; the console must never reach beyond this server."""
    seen = []
    page.on("request", lambda request: seen.append(request.url))
    return seen


def assert_only_local(seen, server):
    """Every request went to the sandbox itself, on a loopback address (no CDN, no font or image host)."""
    import socket
    from urllib.parse import urlsplit

    foreign = [url for url in seen if not url.startswith(server["url"] + "/") and not url.startswith(
        ("data:", "about:"))]
    assert seen and not foreign, foreign
    hosts = {urlsplit(url).hostname for url in seen if url.startswith("http")}
    assert {socket.gethostbyname(host) for host in hosts} == {"127.0.0.1"}, hosts


def test_a_deck_in_its_iframe_cannot_reach_the_consoles_cookies_dom_or_api(sandbox_server, browser):
    client = Client(sandbox_server["url"])
    probe, plain = deck_task("tests.console_probe_deck", PROBE), deck_task("tests.console_plain_deck", plain_deck())
    wf = workflow("tests.console_decks", {"x": INT}, {"o0": INT},
                  [task_node("n0", probe, {"x": promise("start-node", "x")}),
                   task_node("n1", plain, {"x": promise("n0", "o0")})], {"o0": promise("n1", "o0")})
    client.register(probe, plain, wf, launch_plan(wf))
    name = client.launch(dict(wf["id"], resource_type="LAUNCH_PLAN"), {"x": integer(1)})
    assert client.wait(name)["closure"]["phase"] == "SUCCEEDED"
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    context.add_cookies([{"name": "console_session", "value": "cookie-secret-1", "url": sandbox_server["url"]}])
    page = context.new_page()
    seen = request_log(page)
    page.goto(execution_url(sandbox_server, name))
    wait_for_phase(page, "SUCCEEDED")
    page.evaluate("() => sessionStorage.setItem('flyrunToken', 'token-secret-2')")
    assert page.evaluate("() => document.cookie") == "console_session=cookie-secret-1"  # the console can
    # A deck with scripts runs them in an opaque origin; one without gets no permissions at all.
    assert page.get_attribute("details[data-key=deck-n0] iframe", "sandbox") == "allow-scripts"
    assert page.get_attribute("details[data-key=deck-n1] iframe", "sandbox") == ""
    page.click("details[data-key=deck-n0] summary")
    frame = page.frame_locator("details[data-key=deck-n0] iframe")
    assert frame.locator("h1").inner_text() == "Probe deck"  # rendered inside the console page
    frame.locator("#probe:not(:text-is('running'))").wait_for(timeout=10000)
    got = json.loads(frame.locator("#probe").inner_text())
    assert got["cookie"] == "error: SecurityError" and got["storage"] == "error: SecurityError", got
    assert got["parent"] == "error: SecurityError" and got["parent_header"] == "error: SecurityError", got
    assert got["fetch"] == "error: TypeError", got  # refused by the deck's policy: no request leaves
    text = json.dumps(got)
    assert "cookie-secret-1" not in text and "token-secret-2" not in text and "flytesnacks" not in text
    assert not [url for url in seen if "/api/v1/projects" in url]
    page.click("details[data-key=deck-n0] summary")  # closed again
    page.click("details[data-key=deck-n1] summary")
    shown = page.frame_locator("details[data-key=deck-n1] iframe")
    assert shown.locator("h1").inner_text() == "Plain deck" and "rows: 3" in shown.locator("body").inner_text()
    shown.locator("label[for=deck-1]").click()  # its tabs work in the frame, without scripts
    shown.locator("section[data-deck=Table]").wait_for(timeout=5000)
    scrolled = page.evaluate("() => window.scrollY")  # bounding boxes are in the viewport, the clip in the page
    top = page.locator("table.nodes thead").bounding_box()
    bottom = page.locator("tr.deck-row:has(details[data-key=deck-n1])").bounding_box()
    page.screenshot(path=str(DOCS / "console-deck.png"), full_page=True, clip={
        "x": 0, "y": top["y"] + scrolled, "width": 1200, "height": bottom["y"] + bottom["height"] - top["y"] + 8})
    # Opened on its own, the deck is still sandboxed (the policy's sandbox directive): no cookie for it either.
    page.goto(f"{execution_url(sandbox_server, name)}/nodes/n0/deck")
    page.locator("#probe:not(:text-is('running'))").wait_for(timeout=10000)
    alone = json.loads(page.inner_text("#probe"))
    assert alone["cookie"] == "error: SecurityError" and alone["fetch"] == "error: TypeError", alone
    assert_only_local(seen, sandbox_server)
    context.close()


def test_console_pages_refuse_framing_even_by_the_console_while_its_decks_allow_it(sandbox_server, browser):
    client = Client(sandbox_server["url"])
    plain = deck_task("tests.console_plain_deck", plain_deck())
    wf = workflow("tests.console_framed", {"x": INT}, {"o0": INT}, [task_node("n0", plain, {
        "x": promise("start-node", "x")})], {"o0": promise("n0", "o0")})
    client.register(plain, wf, launch_plan(wf))
    name = client.launch(dict(wf["id"], resource_type="LAUNCH_PLAN"), {"x": integer(1)})
    client.wait(name)
    page = browser.new_page()
    framer = sandbox_server["url"] + "/framer-test-page"  # a page of this very origin, answered by the browser
    execution = execution_url(sandbox_server, name)
    page.route(framer, lambda route: route.fulfill(content_type="text/html", body=(
        f'<iframe id="console" src="/console"></iframe><iframe id="execution" src="{execution}"></iframe>'
        f'<iframe id="deck" src="{execution}/nodes/n0/deck"></iframe>')))
    page.goto(framer)
    page.frame_locator("#deck").locator("h1").wait_for(timeout=10000)
    assert page.frame_locator("#deck").locator("h1").inner_text() == "Plain deck"  # 'self' may frame a deck
    for refused in ("#console", "#execution"):  # frame-ancestors 'none': a blocked frame shows Chromium's error
        frame = page.locator(refused).element_handle().content_frame()
        assert frame.url.startswith("chrome-error:") or frame.locator("header").count() == 0, frame.url
    page.close()


# -- expandable dynamic sub-graphs and subworkflows -------------------------------------------------------------
def dynamic_task():
    """A dynamic task whose futures.pb generates dn0 = square(x), dn1 = add(dn0, 1): two sub-nodes."""
    spec = {"min_successes": 2,
            "nodes": [task_node("dn0", SQUARE, {"x": promise("start-node", "x")}),
                      task_node("dn1", ADD, {"a": promise("dn0", "o0"), "b": integer(1)})],
            "outputs": [{"var": "o0", "binding": promise("dn1", "o0")}],
            "tasks": [SQUARE["spec"]["template"], ADD["spec"]["template"]]}
    # The generated graph reads the dynamic task's own inputs by value, as flytekit writes them. The inner tasks'
    # {{.input}} templates are hidden from the sandbox filling in the dynamic task's own command line.
    hidden = json.dumps(spec).replace("{{", "<<").replace("}}", ">>")
    body = ("import json\nfrom google.protobuf import json_format\nfrom flyteidl.core import dynamic_job_pb2\n"
            f"spec = json.loads({hidden!r}.replace('<<', '{{{{').replace('>>', '}}}}'))\n"
            "spec['nodes'][0]['inputs'][0]['binding'] = {'scalar': {'primitive': {'integer': str(inputs['x'])}}}\n"
            "message = json_format.ParseDict(spec, dynamic_job_pb2.DynamicJobSpec())\n"
            "open(os.path.join(out_dir, 'futures.pb'), 'wb').write(message.SerializeToString())")
    return task("tests.console_dynamic", body, {"x": INT}, {"o0": INT})


def test_expanding_a_dynamic_node_shows_its_generated_graph(sandbox_server, browser):
    client = Client(sandbox_server["url"])
    generator = dynamic_task()
    wf = workflow("tests.console_dynamic_wf", {"x": INT}, {"o0": INT},
                  [task_node("n0", generator, {"x": promise("start-node", "x")}),
                   task_node("n1", ADD, {"a": promise("n0", "o0"), "b": integer(10)})], {"o0": promise("n1", "o0")})
    client.register(SQUARE, ADD, generator, wf, launch_plan(wf))
    name = client.launch(dict(wf["id"], resource_type="LAUNCH_PLAN"), {"x": integer(3)})
    done = client.wait(name)
    assert done["closure"]["phase"] == "SUCCEEDED", done["closure"].get("error")
    assert client.outputs(name)["o0"]["scalar"]["primitive"]["integer"] == "20"  # 3² + 1 + 10
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    seen = request_log(page)
    page.goto(execution_url(sandbox_server, name))
    wait_for_phase(page, "SUCCEEDED")
    graph = page.locator("svg.graph")
    assert graph.locator("a.gnode").count() == 2
    assert graph.locator("a.gnode[data-node-id=n0] text.gstatus").text_content() == "2 inner: dn0, dn1"
    assert graph.locator("a.gtoggle").count() == 1  # only the dynamic node can expand
    # Keyboard: Tab reaches the toggle (a link), Enter expands the node in place.
    graph.locator("a.gtoggle[data-toggle=n0]").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**?expand=n0#graph")
    wait_for_phase(page, "SUCCEEDED")
    inner = graph.locator('g.cluster[data-node-id=n0] a.gnode[data-node-id^="n0-0-"]')
    assert sorted(inner.evaluate_all("els => els.map(e => e.dataset.nodeId)")) == ["n0-0-dn0", "n0-0-dn1"]
    assert graph.locator('a.gnode[data-node-id="n0-0-dn0"] rect.phase-SUCCEEDED').count() == 1
    assert graph.locator("g.cluster[data-node-id=n0] path.edge").count() == 1  # dn0 → dn1
    assert graph.locator("path.edge").count() == 2  # and n0 → n1 outside
    boxes = {n: graph.locator(f'[data-node-id="{n}"] rect').first.bounding_box() for n in ("n0", "n0-0-dn0", "n1")}
    assert boxes["n0"]["y"] < boxes["n0-0-dn0"]["y"] < boxes["n1"]["y"]  # inside the box, above the next node
    shot = graph.screenshot(path=str(DOCS / "console-graph-dynamic.png"))
    assert _coloured_pixels(shot) > 2000
    graph.locator('a.gnode[data-node-id="n0-0-dn1"]').click()
    assert page.url.endswith("#node-n0-0-dn1")
    assert "o0: 10" in page.inner_text('tr[id="node-n0-0-dn1"]')
    page.click("a.gtoggle[data-toggle=n0]")  # collapse again
    page.wait_for_url("**?#graph")
    assert page.locator('svg.graph a.gnode[data-node-id^="n0-0-"]').count() == 0
    page.goto(execution_url(sandbox_server, name) + "?expand=n1,nope")
    assert "Not expanded: n1, nope" in page.inner_text("section.graph-view")
    assert_only_local(seen, sandbox_server)
    page.close()


def test_a_launch_plan_node_expands_to_the_workflow_it_ran(sandbox_server):
    client = Client(sandbox_server["url"])
    child = square_twice()
    client.register(SQUARE, child, square_twice_plan())
    node = {"id": "n0", "metadata": {"name": "child"}, "inputs": [{"var": "x", "binding": promise("start-node", "x")}],
            "workflow_node": {"launchplan_ref": ident("LAUNCH_PLAN", "tests.square_twice")}}
    wf = workflow("tests.console_calls_plan", {"x": INT}, {"o0": INT}, [node], {"o0": promise("n0", "o0")})
    client.register(wf, launch_plan(wf))
    name = client.launch(dict(wf["id"], resource_type="LAUNCH_PLAN"), {"x": integer(3)})
    assert client.wait(name)["closure"]["phase"] == "SUCCEEDED"
    closed = client.get(execution_url(sandbox_server, name).removeprefix(sandbox_server["url"])).text
    assert 'data-toggle="n0"' in closed and 'class="gnode" data-node-id="n0-0-n1"' not in closed
    opened = client.get(execution_url(sandbox_server, name).removeprefix(sandbox_server["url"]),
                        params={"expand": "n0"}).text
    assert 'class="gnode" data-node-id="n0-0-n0"' in opened and 'class="gnode" data-node-id="n0-0-n1"' in opened
    assert opened.count('class="edge"') == 1  # n0 -> n1 inside the launched workflow


def test_live_refresh_keeps_an_open_deck_and_the_focused_toggle(sandbox_server, browser):
    """While a run waits at a gate the page re-renders every second or so; what the user opened and where the
    keyboard was stay put."""
    client = Client(sandbox_server["url"])
    shown = deck_task("tests.console_plain_deck", plain_deck())
    sub_id = ident("WORKFLOW", "tests.console_live_sub")
    sub = workflow_template(sub_id, {"x": INT}, {"o0": INT},
                            [task_node("n0", SQUARE, {"x": promise("start-node", "x")})], {"o0": promise("n0", "o0")})
    gate = {"id": "n2", "metadata": {"name": "review", "timeout": "600s"},
            "inputs": [{"var": "o0", "binding": promise("n1", "o0")}],
            "gate_node": {"approve": {"signal_id": "review"}}}
    wf = workflow("tests.console_live", {"x": INT}, {"o0": INT},
                  [task_node("n0", shown, {"x": promise("start-node", "x")}),
                   {"id": "n1", "metadata": {"name": "sub"}, "inputs": [{"var": "x", "binding": promise("n0", "o0")}],
                    "workflow_node": {"sub_workflow_ref": sub_id}}, gate], {"o0": promise("n2", "o0")},
                  sub_workflows=[sub])
    client.register(SQUARE, shown, wf, launch_plan(wf))
    name = client.launch(dict(wf["id"], resource_type="LAUNCH_PLAN"), {"x": integer(2)})
    client.wait_for_node(name, "n2", "RUNNING")
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    refreshes = []
    page.on("requestfinished", lambda request: refreshes.append(1) if "fragment=1" in request.url else None)
    page.goto(execution_url(sandbox_server, name))
    page.click("details[data-key=deck-n0] summary")
    page.locator("a.gtoggle[data-toggle=n1]").focus()
    seen = len(refreshes)
    deadline = time.monotonic() + 20
    while len(refreshes) < seen + 2:  # two live refreshes replace the fragment
        assert time.monotonic() < deadline, "the page did not refresh"
        page.wait_for_timeout(200)
    page.wait_for_timeout(300)
    assert page.get_attribute("details[data-key=deck-n0]", "open") is not None
    assert page.evaluate("() => document.activeElement.getAttribute('data-toggle')") == "n1"
    page.keyboard.press("Enter")  # and the keyboard goes on from there: the subworkflow opens
    page.wait_for_url("**?expand=n1#graph")
    assert page.locator('svg.graph a.gnode[data-node-id="n1-0-n0"]').count() == 1
    client.signal(name, "review", {"scalar": {"primitive": {"boolean": True}}})
    wait_for_phase(page, "SUCCEEDED")
    page.close()
