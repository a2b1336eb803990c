"""Bad input to the remote commands: one `Error:` line (and a hint), the documented exit code, nothing on stdout."""

from __future__ import annotations

import pytest
from conftest import free_port
from remote_projects import write_stages


@pytest.fixture
def unreachable(tmp_path):
    port = free_port()  # nothing listens there
    config = tmp_path / "c.yaml"
    config.write_text(f"admin:\n  endpoint: localhost:{port}\n  insecure: true\n  authType: None\n")
    return str(config), f"http://localhost:{port}"


@pytest.mark.parametrize("words", [
    ("run", "--remote", "STAGES", "breaks"),
    ("run", "--remote", "--wait", "some.flow"),
    ("register", "STAGES"),
    ("executions", "list"),
    ("executions", "get", "abc"),
    ("set-input", "abc", "count", "1"),
])
def test_an_unreachable_endpoint_exits_5_naming_it(cli, unreachable, tmp_path, words):
    config, url = unreachable
    stages = str(write_stages(tmp_path))
    result = cli("-c", config, *[stages if w == "STAGES" else w for w in words])
    assert result.exit_code == 5, result.output
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"Error: cannot reach {url}: connection refused",
                                          "Hint: check that the server is running and admin.endpoint is right"]


NO_SUCH = ["Error: no execution nosuch in flytesnacks/development",
           "Hint: list recent ones with `flyrun executions list`"]


@pytest.mark.slow
@pytest.mark.parametrize(("words", "lines"), [
    (("executions", "get", "nosuch"), NO_SUCH),
    (("executions", "wait", "nosuch"), NO_SUCH),
    (("executions", "outputs", "nosuch"), NO_SUCH),
    (("executions", "terminate", "flytesnacks/staging/nosuch"), [NO_SUCH[0].replace("development", "staging"),
                                                                 NO_SUCH[1]]),
    (("signals", "nosuch"), NO_SUCH),
    (("set-input", "nosuch", "count", "1"), NO_SUCH),
    (("executions", "get", "a/b"), ["Error: 'a/b' is not an execution name or PROJECT/DOMAIN/NAME"]),
    (("run", "--remote", "nowhere_to_be_found"), [
        "Error: no workflow or task named 'nowhere_to_be_found' in the Python files here or on the server "
        "(flytesnacks/development)", "Hint: give the file: flyrun run --remote FILE ENTITY"]),
    (("run", "--remote", "pkg.flows.nowhere"), [
        "Error: no workflow or task named 'pkg.flows.nowhere' in the Python files here or on the server "
        "(flytesnacks/development)", "Hint: give the file: flyrun run --remote FILE ENTITY"]),
])
def test_what_the_server_does_not_have_exits_2(remote, tmp_path, words, lines):
    result = remote(*words, cwd=tmp_path)
    assert result.exit_code == 2, result.output
    assert result.stdout == "" and result.stderr.splitlines() == lines


@pytest.mark.slow
def test_a_wrong_input_type_for_a_remote_run_exits_2_before_anything_is_sent(remote, tmp_path):
    result = remote("run", "--remote", str(write_stages(tmp_path)), "breaks", "--x", "five")
    assert result.exit_code == 2 and result.stdout == ""
    assert "'five' is not a valid integer" in result.stderr
    assert remote.proxy.calls() == []
