"""Shell completion: the committed scripts are current, they are flyrun's own (the same for every click), and each
one completes commands and entity names in its real shell, without running the user's code."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from conftest import REPO, require_tool

FLOW = {"flow.py": "raise SystemExit('imported!')\nfrom flyrun import task, workflow\n"
                   "@task\ndef alpha(x: int) -> int:\n    return x\n"
                   "@workflow\ndef beta() -> None:\n    alpha(x=1)\n"}


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_committed_completion_scripts_are_current(cli, shell):
    result = cli("completion", shell)
    assert result.exit_code == 0
    committed = (REPO / "completions" / f"flyrun.{shell}").read_text()
    assert result.stdout == committed, "run `make completions` and commit the result"


@pytest.mark.parametrize("shell", ["tcsh", "powershell"])
def test_unknown_shell_exits_2_naming_the_shells(cli, shell):
    result = cli("completion", shell)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [f"Error: flyrun has no completion script for {shell}: the shells are "
                                          "bash, zsh, fish"]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_scripts_come_from_flyruns_templates_not_clicks(cli, shell):
    # click's own templates differ between its versions (8.5's fish script is not 8.4's): none of them may leak in.
    from click.shell_completion import get_completion_class

    from flyrun.cli.completion import completion_script

    click_shell = get_completion_class(shell)(None, {}, "flyrun", "_FLYRUN_COMPLETE")
    script = completion_script(shell)
    assert script.startswith(("#compdef flyrun\n# zsh completion for flyrun", f"# {shell} completion for flyrun"))
    assert script != click_shell.source_template % click_shell.source_vars()


def test_unknown_shell_exits_2(cli):
    result = cli("completion", "tcsh")
    # The wording is click's and may change with it; what must hold is the shell named and the choices listed.
    assert result.exit_code == 2 and result.stderr.startswith("Error: ")
    assert all(word in result.stderr for word in ("tcsh", "bash", "zsh", "fish")), result.stderr


def test_entity_names_complete_from_the_syntax_tree(flyrun_process, project):
    root = project(FLOW)
    env = {"_FLYRUN_COMPLETE": "bash_complete", "COMP_WORDS": f"flyrun run {root / 'flow.py'} ",
           "COMP_CWORD": "3"}
    result = flyrun_process(env=env)
    assert result.exit_code == 0
    assert result.stdout.split() == ["plain,alpha", "plain,beta"]
    env.update(COMP_WORDS=f"flyrun run {root / 'flow.py'} be")
    assert flyrun_process(env=env).stdout.split() == ["plain,beta"]


@pytest.mark.parametrize("shell, words, cword, answer", [
    ("bash", "flyrun ex", "1", "plain,executions\n"),
    ("zsh", "flyrun ex", "1", "plain\nexecutions\nList, inspect, follow and stop executions...\n"),
    ("fish", "flyrun ex", "ex", "plain\texecutions\tList, inspect, follow and stop executions...\n"),
])
def test_answers_are_in_the_format_of_flyruns_scripts(flyrun_process, shell, words, cword, answer):
    result = flyrun_process(env={"_FLYRUN_COMPLETE": f"{shell}_complete", "COMP_WORDS": words, "COMP_CWORD": cword})
    assert (result.exit_code, result.stdout) == (0, answer)


@pytest.fixture
def shell_env(tmp_path, isolated_home):
    """The environment of a person's shell: `flyrun` on PATH is this checkout's."""
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "flyrun").write_text(f'#!/bin/sh\nexec {sys.executable} -m flyrun.cli.main "$@"\n')
    (tools / "flyrun").chmod(0o755)
    return dict(os.environ, PYTHONPATH=str(REPO), PATH=f"{tools}{os.pathsep}{os.environ['PATH']}")


def run_shell(argv: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_bash_script_completes_in_bash(shell_env, project):
    flow = project(FLOW) / "flow.py"
    script = (f"source completions/flyrun.bash\n"
              f"COMP_WORDS=(flyrun run {flow} be); COMP_CWORD=3; _flyrun_completion flyrun; echo ${{COMPREPLY[@]}}\n"
              f"COMP_WORDS=(flyrun ex); COMP_CWORD=1; _flyrun_completion flyrun; echo ${{COMPREPLY[@]}}\n")
    assert run_shell(["bash", "--norc", "-c", script], shell_env) == "beta\nexecutions\n"


def test_fish_script_completes_in_fish(shell_env, project):
    require_tool(shutil.which("fish") is not None, "fish is not installed: apt-get install fish")
    flow = project(FLOW) / "flow.py"
    script = (f"source completions/flyrun.fish; complete -C 'flyrun run {flow} be'; complete -C 'flyrun ex';"
              f"complete -C 'flyrun run {flow.parent}/fl'")
    assert run_shell(["fish", "--no-config", "-c", script], shell_env) == (
        f"beta\nexecutions\tList, inspect, follow and stop executions...\n{flow}\n")


def test_zsh_script_completes_in_zsh(shell_env, project):
    require_tool(shutil.which("zsh") is not None, "zsh is not installed: apt-get install zsh")
    flow = project(FLOW) / "flow.py"
    # Outside a completion widget, stand-ins for zsh's compadd and _describe print what they were given.
    script = ('compdef() { print "compdef $@" }; compadd() { print -r -l -- "${(@P)${@[-1]}}" }\n'
              '_describe() { print -r -l -- "${(@P)3}" }\n'
              "source completions/flyrun.zsh\n"
              f"words=(flyrun run {flow} be); CURRENT=4; _flyrun_completion\n"
              "words=(flyrun ex); CURRENT=2; _flyrun_completion\n")
    assert run_shell(["zsh", "-f", "-c", script], shell_env) == (
        "compdef _flyrun_completion flyrun\nbeta\nexecutions:List, inspect, follow and stop executions...\n")
