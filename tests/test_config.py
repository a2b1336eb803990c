"""Configuration: search order, Flyte's keys, environment overrides, bad files, and `flyrun config ...`."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from conftest import REPO

from flyrun.config.loader import load_config, load_file
from flyrun.errors import ConfigError

EXAMPLES = sorted((REPO / "config-examples").glob("*.yaml"))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


# -- search order and precedence ---------------------------------------------------------------------------
def test_search_order_first_existing_file_wins(tmp_path: Path):
    home = tmp_path / "home"
    flyte = write(home / ".flyte" / "config.yaml", "task: {project: from-flyte}\n")
    assert load_config(None, {}, home).get("task.project") == "from-flyte"
    flyrun = write(home / ".flyrun" / "config.yaml", "task: {project: from-flyrun}\n")
    assert load_config(None, {}, home).path == flyrun
    flytectl = write(tmp_path / "flytectl.yaml", "task: {project: from-flytectl}\n")
    assert load_config(None, {"FLYTECTL_CONFIG": str(flytectl)}, home).path == flytectl
    own = write(tmp_path / "own.yaml", "task: {project: from-env}\n")
    environ = {"FLYTECTL_CONFIG": str(flytectl), "FLYRUN_CONFIG": str(own)}
    assert load_config(None, environ, home).path == own
    explicit = write(tmp_path / "explicit.yaml", "task: {project: explicit}\n")
    assert load_config(str(explicit), environ, home).get("task.project") == "explicit"
    assert flyte.exists()


def test_no_file_means_builtin_defaults(tmp_path: Path):
    config = load_config(None, {}, tmp_path)
    assert config.path is None
    assert (config.get("task.project"), config.get("task.domain")) == ("flytesnacks", "development")
    assert config.get("admin.endpoint") is None and config.source("task.project") == "default"


def test_environment_overrides_the_file_and_says_so(tmp_path: Path):
    path = write(tmp_path / "c.yaml", "admin:\n  endpoint: dns:///a.example.com\n  insecure: false\n")
    config = load_config(str(path), {"FLYTE_PLATFORM_INSECURE": "True", "FLYRUN_ADMIN_SCOPES": "all offline"},
                         tmp_path)
    assert config.get("admin.insecure") is True and config.source("admin.insecure") == "$FLYTE_PLATFORM_INSECURE"
    assert config.get("admin.scopes") == ["all", "offline"]
    assert config.source("admin.endpoint") == str(path) and config.endpoint == "a.example.com"


def test_a_flytectl_config_loads_unchanged_without_warnings(tmp_path: Path):
    path = write(tmp_path / "config.yaml", """\
        admin:
          endpoint: dns:///flyte.example.com
          authType: Pkce
          insecure: false
          insecureSkipVerify: true
          proxyCommand: ["echo", "x"]
          deviceFlowConfig: {refreshTime: 5m, timeout: 10m, pollInterval: 5s}
          tokenRefreshWindow: 2m
          command: [gcloud, auth, print-identity-token]
          clientSecretEnvVar: MY_SECRET
        logger: {show-source: true, level: 0}
        console: {endpoint: https://flyte.example.com/console}
        storage:
          type: minio
          connection: {endpoint: "http://localhost:9000", access-key: minio, secret-key: miniostorage,
                       disable-ssl: true, addressing-style: path}
        images: {default: ghcr.io/acme/flows:1.0}
        """)
    config = load_file(path)
    assert config.warnings == []
    assert config.get("admin.command") == ["gcloud", "auth", "print-identity-token"]
    assert config.get("admin.tokenRefreshWindow") == 120.0
    assert config.get("images") == {"default": "ghcr.io/acme/flows:1.0"}


def test_keys_match_without_case_as_in_flytes_go_tools(tmp_path: Path):
    config = load_file(write(tmp_path / "c.yaml", "admin:\n  authtype: deviceflow\n  ENDPOINT: localhost:30080\n"))
    assert config.get("admin.authType") == "DeviceFlow" and config.get("admin.endpoint") == "localhost:30080"


@pytest.mark.parametrize("value, expected", [("standard", "Pkce"), ("client_credentials", "ClientSecret"),
                                             ("external_process", "ExternalCommand"), ("None", "None")])
def test_flytes_auth_type_spellings(tmp_path: Path, value: str, expected: str):
    config = load_file(write(tmp_path / "c.yaml", f"admin:\n  authType: {value}\n"))
    assert config.get("admin.authType") == expected


def test_command_and_durations_from_environment_strings(tmp_path: Path):
    environ = {"FLYRUN_ADMIN_COMMAND": "print-token --audience 'my api'", "FLYRUN_ADMIN_TOKEN_REFRESH_WINDOW": "1h30m"}
    config = load_config(None, environ, tmp_path)
    assert config.get("admin.command") == ["print-token", "--audience", "my api"]
    assert config.get("admin.tokenRefreshWindow") == 5400.0


# -- bad files: exit 3 naming the file, the key and the reason ----------------------------------------------
BAD_FILES = {
    "wrong type": ("admin:\n  insecure: maybe\n", ["admin.insecure", "true or false", "'maybe'"]),
    "unknown auth type": ("admin:\n  authType: Magic\n", ["admin.authType", "'Magic'", "DeviceFlow"]),
    "bad endpoint": ("admin:\n  endpoint: grpc://x:1\n", ["admin.endpoint", "scheme 'grpc'"]),
    "endpoint with spaces": ("admin:\n  endpoint: a b\n", ["admin.endpoint", "not host[:port]"]),
    "list expected": ("admin:\n  scopes: {a: 1}\n", ["admin.scopes", "list of strings"]),
    "section not a mapping": ("admin: localhost\n", ["key 'admin'", "section"]),
    "yaml syntax": ("admin:\n  endpoint: [unclosed\n", ["line", "YAML"]),
    "top level list": ("- a\n- b\n", ["top level must be a mapping"]),
    "bad duration": ("admin:\n  tokenRefreshWindow: soon\n", ["admin.tokenRefreshWindow", "duration"]),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_config_file_exits_3_naming_file_key_and_reason(cli, tmp_path: Path, case: str):
    text, expected = BAD_FILES[case]
    path = write(tmp_path / "bad.yaml", text)
    result = cli("-c", str(path), "config", "show")
    assert result.exit_code == 3, result.output
    first = result.stderr.splitlines()[0]
    assert first.startswith("Error: ") and str(path) in first
    for fragment in expected:
        assert fragment in result.stderr, (fragment, result.stderr)
    assert result.stdout == "" and "Traceback" not in result.output


def test_missing_explicit_config_file_exits_3(cli, tmp_path: Path):
    result = cli("-c", str(tmp_path / "nope.yaml"), "config", "show")
    assert result.exit_code == 3
    assert "nope.yaml (from --config) does not exist" in result.stderr


def test_bad_environment_value_names_the_variable(cli, monkeypatch):
    monkeypatch.setenv("FLYRUN_ADMIN_INSECURE", "perhaps")
    result = cli("config", "show")
    assert result.exit_code == 3
    assert "$FLYRUN_ADMIN_INSECURE: key 'admin.insecure' must be true or false" in result.stderr


def test_unknown_key_warns_once_with_a_suggestion(cli, tmp_path: Path):
    path = write(tmp_path / "c.yaml", "admin:\n  endpont: localhost:30080\nmystery: 1\n")
    result = cli("-c", str(path), "config", "show")
    assert result.exit_code == 0
    assert f"Warning: {path}: unknown key 'admin.endpont' ignored (did you mean 'admin.endpoint'?)" in result.stderr
    assert "unknown key 'mystery' ignored" in result.stderr
    assert result.stderr.count("admin.endpont") == 1


def test_a_local_run_ignores_an_incomplete_remote_setup(cli, tmp_path: Path):
    path = write(tmp_path / "c.yaml", "admin:\n  endpoint: localhost:30080\n  authType: ClientSecret\n")
    result = cli("-c", str(path), "run", str(REPO / "examples" / "hello.py"), "wf", "--x", "2")
    assert result.exit_code == 0, result.output


# -- config show ---------------------------------------------------------------------------------------------
def test_config_show_lists_every_value_with_its_source(cli, tmp_path: Path, monkeypatch):
    path = write(tmp_path / "c.yaml", "admin:\n  endpoint: dns:///flyte.example.com\n")
    monkeypatch.setenv("FLYRUN_DOMAIN", "staging")
    result = cli("-c", str(path), "config", "show")
    assert result.exit_code == 0
    lines = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[1:]}
    assert lines["admin.endpoint"] == ["dns:///flyte.example.com", str(path)]
    assert lines["task.domain"] == ["staging", "$FLYRUN_DOMAIN"]
    assert lines["task.project"] == ["flytesnacks", "default"]
    assert result.stdout.splitlines()[0] == f"config file: {path}"


def test_config_show_redacts_secrets_in_text_and_json(cli, monkeypatch):
    monkeypatch.setenv("FLYRUN_STORAGE_ACCESS_KEY", "AKIASEKRITACCESS")
    monkeypatch.setenv("FLYRUN_STORAGE_SECRET_KEY", "SEKRITSECRETKEY")
    text = cli("config", "show", "-v")
    as_json = cli("config", "show", "-o", "json")
    for result in (text, as_json):
        assert result.exit_code == 0
        assert "SEKRIT" not in result.output
    document = json.loads(as_json.stdout)
    assert document["values"]["storage.connection.secret-key"] == {"value": "********",
                                                                   "source": "$FLYRUN_STORAGE_SECRET_KEY"}
    assert document["config_file"] is None and len(document["values"]) > 20


# -- config init ---------------------------------------------------------------------------------------------
def test_config_init_writes_a_local_starter_that_validates(cli, isolated_home: Path):
    result = cli("config", "init")
    target = isolated_home / ".flyrun" / "config.yaml"
    assert result.exit_code == 0 and result.stdout.strip() == f"Wrote {target}"
    assert load_file(target).warnings == [] and "admin" not in target.read_text().split("#")[0]
    assert cli("config", "validate", str(target)).exit_code == 0


def test_config_init_never_overwrites_without_force(cli, tmp_path: Path):
    target = write(tmp_path / "mine.yaml", "task: {project: precious}\n")
    result = cli("config", "init", str(target), "--sandbox")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"Error: {target} already exists", "Hint: pass --force to overwrite it"]
    assert target.read_text() == "task: {project: precious}\n"
    assert cli("config", "init", str(target), "--sandbox", "--force").exit_code == 0
    config = load_file(target)
    assert (config.get("admin.endpoint"), config.get("admin.insecure")) == ("dns:///localhost:30080", True)


def test_config_init_for_an_endpoint(cli, tmp_path: Path):
    target = tmp_path / "sub" / "cluster.yaml"
    result = cli("-c", str(target), "config", "init", "--endpoint", "flyte.example.com:443", "-o", "json")
    assert result.exit_code == 0 and json.loads(result.stdout) == {"path": str(target)}
    config = load_file(target)
    assert config.get("admin.endpoint") == "dns:///flyte.example.com:443"
    assert config.get("admin.authType") == "DeviceFlow" and config.warnings == []


def test_config_init_for_ci_and_for_an_external_command(cli, tmp_path: Path):
    ci = tmp_path / "ci.yaml"
    assert cli("config", "init", str(ci), "--endpoint", "https://flyte.example.com", "--auth-type", "ClientSecret",
               "--client-id", "ci: deployer").exit_code == 0
    config = load_file(ci)
    assert (config.get("admin.clientId"), config.get("admin.clientSecretEnvVar")) == ("ci: deployer",
                                                                                      "FLYTE_CLIENT_SECRET")
    assert cli("config", "validate", str(ci)).exit_code == 0
    external = tmp_path / "ext.yaml"
    assert cli("config", "init", str(external), "--endpoint", "x", "--auth-type", "external_process",
               "--command", "gcloud auth print-identity-token").exit_code == 0
    assert load_file(external).get("admin.command") == ["gcloud", "auth", "print-identity-token"]


@pytest.mark.parametrize("args, message", [
    (["--endpoint", "x", "--auth-type", "ClientSecret"], "needs --client-id"),
    (["--endpoint", "x", "--auth-type", "ExternalCommand"], "needs --command"),
    (["--endpoint", "ftp://x"], "scheme 'ftp'"),
    (["--endpoint", "x", "--auth-type", "Magic"], "'Magic'"),
    (["--endpoint", "x", "--sandbox"], "cannot be combined"),
])
def test_config_init_bad_flags_exit_2(cli, tmp_path: Path, args: list[str], message: str):
    result = cli("config", "init", str(tmp_path / "c.yaml"), *args)
    assert result.exit_code == 2 and message in result.stderr
    assert not (tmp_path / "c.yaml").exists()


# -- config validate -----------------------------------------------------------------------------------------
def test_config_validate_reports_every_problem_and_exits_3(cli, tmp_path: Path):
    path = write(tmp_path / "ci.yaml", """\
        admin:
          endpoint: flyte.example.com
          authType: ClientSecret
          caCertFilePath: /nonexistent/ca.pem
        """)
    result = cli("config", "validate", str(path))
    assert result.exit_code == 3
    assert f"{path}: key 'admin.clientId' is required when admin.authType is ClientSecret" in result.stdout
    assert "admin.clientSecretLocation" in result.stdout
    assert "/nonexistent/ca.pem, which does not exist" in result.stdout
    assert result.stderr.strip() == f"Error: {path}: 3 problems found"


def test_config_validate_json_and_strict(cli, tmp_path: Path):
    path = write(tmp_path / "c.yaml", "admin:\n  endpoint: localhost:30080\n  colour: blue\n")
    relaxed = cli("config", "validate", str(path), "-o", "json")
    assert relaxed.exit_code == 0
    assert json.loads(relaxed.stdout)["valid"] is True
    strict = cli("config", "validate", "--strict", str(path), "-o", "json")
    assert strict.exit_code == 3
    document = json.loads(strict.stdout)
    assert document["valid"] is False and "admin.colour" in document["problems"][0]["reason"]


def test_config_validate_missing_file_exits_3(cli, tmp_path: Path):
    result = cli("config", "validate", str(tmp_path / "none.yaml"))
    assert result.exit_code == 3 and "does not exist" in result.stderr


def test_client_secret_implied_by_a_secret_location(tmp_path: Path):
    from flyrun.config.checks import effective_auth_type

    config = load_file(write(tmp_path / "c.yaml", "admin:\n  clientId: ci\n  clientSecretEnvVar: S\n"))
    assert effective_auth_type(config) == "ClientSecret"


# -- the shipped examples ------------------------------------------------------------------------------------
def test_the_examples_are_all_there():
    assert {p.name for p in EXAMPLES} >= {"local.yaml", "sandbox.yaml", "device-flow.yaml",
                                          "client-secret-ci.yaml", "s3-minio.yaml", "gcs.yaml"}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_example_loads_and_validates_cleanly(cli, example: Path):
    from flyrun.config.checks import problems

    config = load_file(example)
    assert config.warnings == []
    assert problems(config) == []
    result = cli("config", "validate", "--strict", str(example))
    assert result.exit_code == 0, result.output


def test_config_errors_are_config_errors():
    with pytest.raises(ConfigError):
        load_config("/definitely/not/here.yaml", {}, Path("/"))
