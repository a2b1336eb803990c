"""Shell completion: the committed scripts are current, and entity names complete without running code."""

from __future__ import annotations

import pytest
from conftest import REPO


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


def test_entity_names_complete_from_the_syntax_tree(flyrun_process, project):
    root = project({"flow.py": "raise SystemExit('imported!')\nfrom flyrun import task, workflow\n"
                               "@task\ndef alpha(x: int) -> int:\n    return x\n"
                               "@workflow\ndef beta() -> None:\n    alpha(x=1)\n"})
    env = {"_FLYRUN_COMPLETE": "bash_complete", "COMP_WORDS": f"flyrun run {root / 'flow.py'} ",
           "COMP_CWORD": "3"}
    result = flyrun_process(env=env)
    assert result.exit_code == 0
    assert result.stdout.split() == ["plain,alpha", "plain,beta"]
    env.update(COMP_WORDS=f"flyrun run {root / 'flow.py'} be")
    assert flyrun_process(env=env).stdout.split() == ["plain,beta"]
