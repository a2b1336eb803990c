"""The set-up: installed packages inside the declared ranges, every range bounded, and programs outside Python
(chromium, jq, fish, zsh) skipped with the reason where missing but required where CI says so."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import REPO, require_tool

from flyrun.depcheck import Declared, declared_requirements, problems

EXTRAS = ("sandbox", "test", "kubernetes")


def test_installed_packages_are_inside_the_declared_ranges():
    found = problems(declared_requirements(["sandbox", "test"]))
    assert not found, "\n".join(found) + "\nfix with: pip install -e '.[sandbox,test]'"


def test_every_declared_requirement_has_an_upper_bound():
    from packaging.requirements import Requirement

    def bounded(text: str) -> bool:
        return any(spec.operator in ("<", "<=", "==", "~=") for spec in Requirement(text).specifier)

    unbounded = [item.requirement for item in declared_requirements(EXTRAS) if not bounded(item.requirement)]
    assert not unbounded, f"give these an upper bound on the major version in pyproject.toml: {unbounded}"


def test_a_version_outside_the_range_names_the_package_the_version_and_the_range():
    from importlib.metadata import version

    click_version = version("click")
    assert problems([Declared("click>=8.1,<8.2", "flyrun")]) == [
        f"click {click_version} is installed, outside the range flyrun allows: <8.2,>=8.1"]


def test_a_missing_package_is_named_with_what_needs_it():
    assert problems([Declared("flyrun-no-such-package>=1,<2", "flyrun[test]")]) == [
        "flyrun-no-such-package is not installed; flyrun[test] needs flyrun-no-such-package<2,>=1"]


def test_what_an_extra_of_a_dependency_brings_is_checked_too():
    # moto[server] brings flask; a package that no interpreter here runs on is left out, not reported missing.
    assert problems([Declared("moto[server]>=5", "flyrun[test]")]) == []
    assert problems([Declared("flyrun-no-such-package>=1; python_version < '3'", "flyrun")]) == []


def run_deps_check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flyrun.depcheck", *args], capture_output=True, text=True,
                          timeout=60, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)))


def test_make_deps_check_passes_here_and_fails_with_exit_3_outside_the_range(tmp_path):
    done = run_deps_check("--extras", "sandbox,test")
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert done.stdout.startswith("deps-check: the ") and done.stdout.endswith(" requirements of flyrun[sandbox,test]"
                                                                              " are met\n")
    narrow = tmp_path / "pyproject.toml"
    narrow.write_text('[project]\nname = "x"\ndependencies = ["click>=8.1,<8.2"]\n')
    done = run_deps_check("--pyproject", str(narrow))
    assert done.returncode == 3 and done.stdout == ""
    first, fix = done.stderr.splitlines()
    assert first.startswith("deps-check: click ") and first.endswith(" is installed, outside the range flyrun allows: "
                                                                     "<8.2,>=8.1")
    assert fix == "deps-check: fix with: pip install -e ."


def test_an_unknown_extra_is_a_usage_error():
    done = run_deps_check("--extras", "tset")
    assert done.returncode == 2
    assert done.stderr.startswith("deps-check: pyproject.toml has no extra 'tset'; it has: ")
    listed = done.stderr.strip().rsplit(": ", 1)[-1].split(", ")
    assert {"sandbox", "test"} <= set(listed) and listed == sorted(listed)
    assert len(done.stderr.splitlines()) == 1


def test_a_missing_program_skips_with_the_reason(monkeypatch):
    monkeypatch.delenv("FLYRUN_REQUIRE_TOOLS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="^jq is not installed: apt-get install jq$"):
        require_tool(False, "jq is not installed: apt-get install jq")


def test_a_missing_program_fails_where_ci_requires_it(monkeypatch):
    from conftest import chromium

    monkeypatch.setenv("FLYRUN_REQUIRE_TOOLS", "1")
    monkeypatch.setenv("FLYRUN_TEST_CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(pytest.fail.Exception, match="^no Chromium browser at /nonexistent/chromium: apt-get install "
                                                    "chromium, or set FLYRUN_TEST_CHROMIUM to a Chromium binary; "
                                                    "FLYRUN_REQUIRE_TOOLS=1 says this machine must have it$"):
        chromium()
