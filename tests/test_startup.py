"""Startup stays cheap: `flyrun --help` imports nothing heavy, and the version prints."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

from conftest import REPO

HEAVY = ("fsspec", "s3fs", "gcsfs", "requests", "keyring", "yaml", "google.protobuf", "flyteidl", "rich",
         "botocore", "aiohttp", "tensorflow", "keras", "mlflow", "sklearn")

PROBE = """
import json, sys
from flyrun.cli.main import run_cli
code = run_cli(sys.argv[1:])
sys.stdout.flush()
print("\\nMODULES=" + json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def loaded_modules(*args: str, env: dict[str, str] | None = None) -> tuple[set[str], subprocess.CompletedProcess]:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(REPO), **(env or {})), cwd=REPO)
    marker = proc.stderr.rsplit("MODULES=", 1)[1]
    return set(json.loads(marker)), proc


def heavy_in(modules: set[str]) -> list[str]:
    return [m for m in modules if m.split(".")[0] in {h.split(".")[0] for h in HEAVY} and
            any(m == h or m.startswith(h + ".") for h in HEAVY)]


def test_help_imports_nothing_heavy():
    modules, proc = loaded_modules("--help")
    assert proc.returncode == 0
    assert "run" in proc.stdout
    assert heavy_in(modules) == []


def test_local_run_of_hello_imports_nothing_heavy():
    modules, proc = loaded_modules("run", "examples/hello.py", "wf", "--x", "3")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "o0: Hello world, the answer is 9"
    assert heavy_in(modules) == []


# What a local run of examples/hello.py (two int/str tasks, one workflow) must not load: libraries it does not use,
# and flyrun modules for features it does not use. Each was on that path once; see ARCHITECTURE.md (Layers).
NOT_ON_THE_HELLO_PATH = (
    # libraries: serialization, remote, rich output, data frames, structs
    "google.protobuf", "flyteidl", "requests", "rich", "rich_click", "yaml", "fsspec", "pandas", "pyarrow",
    "numpy", "msgpack", "cloudpickle", "werkzeug",
    # standard library modules only some runs need
    "asyncio", "logging", "json", "hashlib", "socket", "secrets", "traceback", "string",
    # flyrun features hello does not use
    "flyrun.sdk.conditions", "flyrun.sdk.failure", "flyrun.sdk.secrets", "flyrun.sdk.eager", "flyrun.sdk.asyncs",
    "flyrun.sdk.map", "flyrun.sdk.overrides", "flyrun.sdk.gates", "flyrun.sdk.container", "flyrun.sdk.decks",
    "flyrun.deck", "flyrun.idl", "flyrun.remote", "flyrun.protocol", "flyrun.sandbox", "flyrun.data.fs",
    "flyrun.local.cache", "flyrun.local.gates", "flyrun.local.container", "flyrun.local.mapping",
    "flyrun.types.models", "flyrun.types.structured", "flyrun.types.numpy_type",
    "flyrun.config.loader", "flyrun.config.items", "flyrun.config.values",  # only `config.paths`: is there a file?
)


def _hello_modules(home) -> set[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_CACHE_HOME=str(home / ".cache"))
    # Not PROBE: it imports json itself. The module list goes out with repr, read back with literal_eval.
    probe = ("import sys\nfrom flyrun.cli.main import run_cli\ncode = run_cli(sys.argv[1:])\nsys.stdout.flush()\n"
             "print('\\nMODULES=' + repr(sorted(sys.modules)), file=sys.stderr)\nsys.exit(code)\n")
    proc = subprocess.run([sys.executable, "-c", probe, "run", "examples/hello.py", "wf", "--x", "3"],
                          capture_output=True, text=True, timeout=60, env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "o0: Hello world, the answer is 9"
    return set(ast.literal_eval(proc.stderr.rsplit("MODULES=", 1)[1]))


def _not_on_the_hello_path(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == name or m.startswith(name + ".") for name in NOT_ON_THE_HELLO_PATH))


def test_local_run_of_hello_loads_only_what_it_uses(tmp_path):
    # A home without config files: a config file would (rightly) load yaml.
    assert _not_on_the_hello_path(_hello_modules(tmp_path)) == []


def test_runs_going_on_elsewhere_do_not_cost_a_local_run_hashlib_or_socket(tmp_path):
    """Another run's write journal (a live process) is left alone without working out this host's tag."""
    journals = tmp_path / ".cache" / "flyrun" / "writes"
    journals.mkdir(parents=True)
    (journals / f"0123456789ab-{os.getpid()}.txt").write_text("")
    assert _not_on_the_hello_path(_hello_modules(tmp_path)) == []
    assert (journals / f"0123456789ab-{os.getpid()}.txt").exists()


def test_rich_help_on_a_terminal_still_exits_0():
    modules, proc = loaded_modules("--help", env={"FORCE_COLOR": "1"})
    assert proc.returncode == 0
    assert "rich" in modules and "run" in proc.stdout


def test_version(flyrun_process):
    from flyrun import __version__

    result = flyrun_process("--version")
    assert (result.exit_code, result.stdout.strip()) == (0, f"flyrun {__version__}")


def test_unknown_command_exits_2(flyrun_process):
    result = flyrun_process("frobnicate")
    assert result.exit_code == 2
    assert "No such command 'frobnicate'" in result.stderr and "Traceback" not in result.stderr


def test_flyrun_alone_prints_the_help_and_exits_0(flyrun_process):
    result = flyrun_process()
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.startswith("Usage: flyrun [OPTIONS] COMMAND [ARGS]...") and "  run " in result.stdout


def test_python_dash_m_flyrun_is_the_flyrun_command(isolated_home):
    proc = subprocess.run([sys.executable, "-m", "flyrun", "run", str(REPO / "examples" / "hello.py"), "wf",
                           "--x", "3"], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(REPO)), cwd=isolated_home)
    assert (proc.returncode, proc.stdout) == (0, "o0: Hello world, the answer is 9\n"), proc.stderr
    usage = subprocess.run([sys.executable, "-m", "flyrun", "--help"], capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert usage.returncode == 0 and usage.stdout.startswith("Usage: flyrun ")


def test_tasks_run_with_pythons_own_collector_settings(tmp_path):
    """The CLI collects rarely while it starts (flyrun.cli.gcpolicy); a task must see plain Python's thresholds."""
    flow = tmp_path / "gcflow.py"
    flow.write_text("import gc\nfrom flyrun import task, workflow\n\n\n@task\ndef thresholds() -> str:\n"
                    "    return repr(gc.get_threshold())\n\n\n@workflow\ndef wf() -> str:\n    return thresholds()\n")
    plain = subprocess.run([sys.executable, "-c", "import gc; print(repr(gc.get_threshold()))"], capture_output=True,
                           text=True, check=True).stdout.strip()
    ran = subprocess.run([sys.executable, "-m", "flyrun.cli.main", "run", str(flow), "wf"], capture_output=True,
                         text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(REPO)), cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == f"o0: {plain}"
