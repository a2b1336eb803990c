"""The code bundle and the version: deterministic, portable, and changed by every change that matters."""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import textwrap
from pathlib import Path

from idl_project import FLOWS


def _package(cli, root: Path, out: Path, *extra: str) -> dict:
    result = cli("package", str(root), "--output-dir", str(out), *extra)
    assert result.exit_code == 0, result.output
    return json.loads((out / "manifest.json").read_text())


def _dry_run(cli, root: Path, *extra: str) -> dict:
    result = cli("package", str(root), "--dry-run", "-o", "json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_same_tree_twice_and_from_another_folder_gives_the_same_bytes(cli, project, tmp_path, monkeypatch):
    root = project(FLOWS)
    first = _package(cli, root, tmp_path / "a")
    second = _package(cli, root, tmp_path / "b")
    moved = tmp_path / "elsewhere" / "deeper" / "proj"
    shutil.copytree(root, moved)
    for path in moved.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))  # other times on another machine
    monkeypatch.chdir(tmp_path / "elsewhere")
    third = _package(cli, Path("deeper/proj"), tmp_path / "c")
    assert first["version"] == second["version"] == third["version"]
    assert first["bundle"]["digest"] == second["bundle"]["digest"] == third["bundle"]["digest"]
    archives = [(tmp_path / d / first["bundle"]["file"]).read_bytes() for d in "abc"]
    assert archives[0] == archives[1] == archives[2]
    assert first["bundle"]["md5"] == third["bundle"]["md5"]
    specs = [(tmp_path / d / "workflows" / "flows.pipeline.main.json").read_text() for d in "abc"]
    assert specs[0] == specs[1] == specs[2]


def test_a_changed_file_image_or_pod_template_changes_the_version(cli, project, tmp_path):
    root = project(FLOWS)
    base = _dry_run(cli, root)
    types_file = root / "flows" / "types.py"
    types_file.write_text(types_file.read_text() + "\n# a comment\n")
    edited = _dry_run(cli, root)
    assert edited["digest"] != base["digest"] and edited["version"] != base["version"]
    image = _dry_run(cli, root, "--image", "ghcr.io/me/img:2")
    assert image["digest"] == edited["digest"] and image["version"] != edited["version"]
    named = _dry_run(cli, root, "--image", "ghcr.io/me/img:2", "--image", "special=ghcr.io/me/special:1")
    assert named["version"] == image["version"]  # the name is not used by any task
    assert _dry_run(cli, root, "--image", "ghcr.io/me/img:2")["version"] == image["version"]
    # flytekit compatibility mode is in every task's command: the same code in it is another version, so
    # registering it beside the plain one is not refused as "a different definition".
    compat = _dry_run(cli, root, "--image", "ghcr.io/me/img:2", "--flytekit-compat")
    assert compat["digest"] == image["digest"] and compat["version"] != image["version"]


def test_copy_auto_takes_loaded_modules_under_the_root(cli, project):
    files = dict(FLOWS)
    files["flows/unused.py"] = "x = 1\n"
    files["helpers/__init__.py"] = ""
    files["helpers/text.py"] = "def shout(s):\n    return s.upper()\n"
    files["flows/extra.py"] = ("from flyrun import task\nfrom helpers.text import shout\n\n"
                               "@task\ndef loud(s: str) -> str:\n    return shout(s)\n")
    root = project(files)
    listed = _dry_run(cli, root / "flows" / "extra.py")
    assert [f["path"] for f in listed["files"]] == ["flows/__init__.py", "flows/extra.py", "helpers/__init__.py",
                                                    "helpers/text.py"]


def test_copy_all_honours_ignore_files_and_skips_tooling(cli, project, tmp_path):
    files = dict(FLOWS)
    files[".gitignore"] = "*.log\n!keep.log\nbuild/\n/secret.txt\n"
    files["flows/.gitignore"] = "local_*.py\n"
    files[".flyteignore"] = "docs/\n"
    files.update({"a.log": "", "keep.log": "", "build/x.py": "", "secret.txt": "", "sub/secret.txt": "",
                  "flows/local_dev.py": "", "docs/index.md": "", ".git/config": "", "__pycache__/x.pyc": "",
                  "flows/__pycache__/y.pyc": "", "venv/pyvenv.cfg": "", "venv/lib/site.py": "",
                  ".venv/lib/z.py": ""})
    root = project(files)
    out = root / "dist"
    listed = _dry_run(cli, root, "--copy", "all")
    paths = [f["path"] for f in listed["files"]]
    assert paths == [".flyteignore", ".gitignore", "README.md", "flows/.gitignore", "flows/__init__.py",
                     "flows/constructs.py", "flows/data.csv", "flows/pipeline.py", "flows/tasks.py", "flows/types.py",
                     "keep.log", "sub/secret.txt"]
    manifest = _package(cli, root, out, "--copy", "all")
    again = _package(cli, root, tmp_path / "again", "--copy", "all")  # dist/ (inside the root) is never bundled
    assert manifest["bundle"]["digest"] == again["bundle"]["digest"] == listed["digest"]
    with tarfile.open(out / manifest["bundle"]["file"]) as tar:
        assert tar.getnames() == paths


def test_dry_run_lists_files_sizes_digest_version_and_warns_about_big_files(cli, project):
    root = project(FLOWS)
    with open(root / "flows" / "big.bin", "wb") as big:
        big.truncate(11 * 1024 * 1024)
    result = cli("package", str(root), "--dry-run", "--copy", "all")
    assert result.exit_code == 0, result.output
    assert "flows/big.bin is 11.5 MB" in result.stderr
    assert "      0 B  flows/__init__.py" in result.stdout
    assert "digest:  " in result.stdout and "version: " in result.stdout
    assert not (root / "dist").exists()


def test_unsupported_type_names_task_input_and_type(cli, project, tmp_path):
    root = project({"bad.py": textwrap.dedent('''
        from flyrun import task

        @task
        def t(x: set) -> int:
            return 1
        ''')})
    result = cli("package", str(root / "bad.py"), "--output-dir", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert "task 'bad.t': input 'x': type set is not supported" in result.stderr
    assert "Traceback" not in result.output and not (tmp_path / "o").exists()


def test_a_default_that_cannot_be_serialized_names_workflow_input_and_type(cli, project, tmp_path):
    root = project({"wf.py": textwrap.dedent('''
        from flyrun import task, workflow

        @task
        def inc(x: int) -> int:
            return x + 1

        @workflow
        def wf(x: int = "three") -> int:
            return inc(x=x)
        ''')})
    result = cli("package", str(root / "wf.py"), "--output-dir", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        "Error: workflow wf.wf: default of input 'x' (int): value 'three' cannot be serialized: expected int, "
        "got str 'three'")
    assert not (tmp_path / "o").exists()


def test_bad_arguments(cli, project, tmp_path):
    root = project(FLOWS)
    other = tmp_path / "other"
    other.mkdir()
    (other / "solo.py").write_text("x = 1\n")
    cases = [
        (("package", str(root)), "--output-dir is required"),
        (("package", str(root / "nope.py"), "--dry-run"), "file not found"),
        (("package", str(root / "flows" / "tasks.py"), str(other / "solo.py"), "--dry-run"),
         "different project roots"),
        (("package", str(root), "--copy", "some", "--dry-run"), "Invalid value for '--copy'"),
    ]
    for args, message in cases:
        result = cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr, (args, result.stderr)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    result = cli("package", str(root), "--output-dir", str(busy))
    assert result.exit_code == 2 and "is not empty and holds no flyrun package" in result.stderr
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"]
