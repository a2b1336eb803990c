"""The local task cache: hits, misses, --overwrite-cache, `flyrun cache`, and outputs whose files are gone."""

from __future__ import annotations

import json
import sys
from pathlib import Path

FLOWS = '''
import os
from pathlib import Path
from typing import List
from flyrun import ContainerTask, kwtypes, map_task, task, workflow
from flyrun.types.engine import TypeTransformer

LOG = Path(os.environ["CACHE_TEST_LOG"])

def note(text):
    with LOG.open("a") as log:
        log.write(text + "\\n")

@task(cache=True, cache_version="1")
def double(x: int) -> int:
    note(f"double {x}")
    return 2 * x

@task
def plain(x: int) -> int:
    note(f"plain {x}")
    return x

@workflow
def wf(x: int) -> int:
    return plain(x=double(x=double(x=x)))


class LocalPath:
    """A file output, as FlyteFile is: its literal is a blob pointing at a path."""

    def __init__(self, path):
        self.path = path

    @classmethod
    def __flyrun_transformer__(cls):
        return PathTransformer()


class PathTransformer(TypeTransformer):
    BLOB = {"format": "", "dimensionality": "SINGLE"}

    def literal_type(self, python_type):
        return {"blob": self.BLOB}

    def to_literal(self, value, python_type):
        return {"scalar": {"blob": {"metadata": {"type": self.BLOB}, "uri": value.path}}}

    def to_python(self, literal, python_type):
        return LocalPath(literal["scalar"]["blob"]["uri"])

    def to_json(self, value, python_type):
        return value.path


@task(cache=True, cache_version="1")
def write(text: str, folder: str) -> LocalPath:
    note(f"write {text}")
    path = Path(folder) / f"{text}.txt"
    path.write_text(text)
    return LocalPath(str(path))
'''


def _setup(project, tmp_path, monkeypatch, extra=""):
    log = tmp_path / "calls.log"
    monkeypatch.setenv("CACHE_TEST_LOG", str(log))
    root = project({"flows.py": FLOWS + extra})

    def calls() -> list[str]:
        lines = log.read_text().splitlines() if log.exists() else []
        log.unlink(missing_ok=True)
        return lines

    return root, calls


def test_a_rerun_skips_cached_tasks_and_says_so(cli, project, tmp_path, monkeypatch, isolated_home):
    root, calls = _setup(project, tmp_path, monkeypatch)
    first = cli("run", str(root / "flows.py"), "wf", "--x", "3")
    assert (first.exit_code, first.stdout) == (0, "o0: 12\n"), first.stderr
    assert calls() == ["double 3", "double 6", "plain 12"] and "cached" not in first.stderr
    second = cli("run", str(root / "flows.py"), "wf", "--x", "3")
    assert (second.exit_code, second.stdout) == (0, "o0: 12\n")
    assert calls() == ["plain 12"]
    assert second.stderr.count("flows.double: cached outputs reused (cache_version 1)") == 2
    entries = list((isolated_home / ".cache" / "flyrun" / "task-cache" / "flows.double").glob("*.json"))
    assert len(entries) == 2  # XDG_CACHE_HOME is honoured


def test_other_inputs_miss_and_overwrite_cache_recomputes(cli, project, tmp_path, monkeypatch):
    root, calls = _setup(project, tmp_path, monkeypatch)
    cli("run", str(root / "flows.py"), "double", "--x", "1")
    assert calls() == ["double 1"]
    cli("run", str(root / "flows.py"), "double", "--x", "2")
    assert calls() == ["double 2"]
    result = cli("run", str(root / "flows.py"), "double", "--x", "1", "--overwrite-cache")
    assert (result.exit_code, calls()) == (0, ["double 1"]) and "cached" not in result.stderr
    cli("run", str(root / "flows.py"), "double", "--x", "1")
    assert calls() == []


def test_a_new_cache_version_or_interface_misses(cli, project, tmp_path, monkeypatch):
    root, calls = _setup(project, tmp_path, monkeypatch)
    cli("run", str(root / "flows.py"), "double", "--x", "5")
    assert calls() == ["double 5"]
    flows = root / "flows.py"
    flows.write_text(flows.read_text().replace('cache_version="1")\ndef double', 'cache_version="2")\ndef double'))
    cli("run", str(flows), "double", "--x", "5")
    assert calls() == ["double 5"]
    flows.write_text(flows.read_text().replace("def double(x: int)", "def double(x: int, unused: int = 0)"))
    result = cli("run", str(flows), "double", "--x", "5")
    assert (result.exit_code, result.stdout, calls()) == (0, "o0: 10\n", ["double 5"]), result.stderr


def test_cache_clear_and_info(cli, project, tmp_path, monkeypatch, isolated_home):
    root, calls = _setup(project, tmp_path, monkeypatch)
    cli("run", str(root / "flows.py"), "wf", "--x", "1")
    calls()
    info = cli("-o", "json", "cache", "info")
    assert info.exit_code == 0
    document = json.loads(info.stdout)
    assert (document["entries"], document["tasks"]) == (2, 1) and document["bytes"] > 0
    assert document["dir"] == str(isolated_home / ".cache" / "flyrun" / "task-cache")
    cleared = cli("cache", "clear")
    assert (cleared.exit_code, cleared.stdout) == (0, f"Removed 2 cached results from {document['dir']}.\n")
    cli("run", str(root / "flows.py"), "wf", "--x", "1")
    assert calls() == ["double 1", "double 2", "plain 4"]
    only = cli("-o", "json", "cache", "clear", "--task", "flows.other")
    assert json.loads(only.stdout)["removed"] == 0
    assert json.loads(cli("-o", "json", "cache", "clear", "--task", "flows.double").stdout)["removed"] == 2


def test_cache_dir_comes_from_config(cli, project, tmp_path, monkeypatch):
    root, calls = _setup(project, tmp_path, monkeypatch)
    custom = tmp_path / "custom-cache"
    monkeypatch.setenv("FLYRUN_CACHE_DIR", str(custom))
    cli("run", str(root / "flows.py"), "double", "--x", "1")
    assert len(list(custom.glob("*/*.json"))) == 1
    assert "custom-cache" in cli("cache", "info").stdout


def test_a_cached_file_output_whose_file_is_gone_is_recomputed(cli, project, tmp_path, monkeypatch):
    root, calls = _setup(project, tmp_path, monkeypatch)
    folder = tmp_path / "files"
    folder.mkdir()
    args = ("run", str(root / "flows.py"), "write", "--text", "hello", "--folder", str(folder))
    assert cli(*args).stdout == f"o0: {folder / 'hello.txt'}\n"
    assert calls() == ["write hello"]
    cli(*args)
    assert calls() == []
    (folder / "hello.txt").unlink()
    result = cli(*args)
    assert result.exit_code == 0 and calls() == ["write hello"]
    assert "flows.write: cached outputs point at files that no longer exist; recomputing" in result.stderr
    assert (folder / "hello.txt").read_text() == "hello"


def test_a_broken_cache_entry_is_recomputed(cli, project, tmp_path, monkeypatch, isolated_home):
    root, calls = _setup(project, tmp_path, monkeypatch)
    cli("run", str(root / "flows.py"), "double", "--x", "7")
    calls()
    (entry,) = (isolated_home / ".cache" / "flyrun" / "task-cache").glob("*/*.json")
    entry.write_text("{not json")
    result = cli("run", str(root / "flows.py"), "double", "--x", "7")
    assert (result.exit_code, result.stdout, calls()) == (0, "o0: 14\n", ["double 7"])
    assert "is unreadable (JSONDecodeError); recomputing" in result.stderr
    assert json.loads(entry.read_text())["outputs"]["o0"] == {"scalar": {"primitive": {"integer": "14"}}}


def test_mapped_cached_items_are_reused_and_summarized(cli, project, tmp_path, monkeypatch):
    root, calls = _setup(project, tmp_path, monkeypatch, "m = map_task(double)\n")
    first = cli("run", str(root / "flows.py"), "m", "--x", "[1, 2, 3]")
    assert first.stdout == "o0: [2, 4, 6]\n" and sorted(calls()) == ["double 1", "double 2", "double 3"]
    second = cli("run", str(root / "flows.py"), "m", "--x", "[1, 2, 3, 4]")
    assert second.stdout == "o0: [2, 4, 6, 8]\n" and calls() == ["double 4"]
    assert "flows.double: cached outputs reused (cache_version 1) (x3 items)" in second.stderr


def test_container_tasks_are_cached_too(cli, project, tmp_path, monkeypatch):
    root, calls = _setup(project, tmp_path, monkeypatch, f'''
ct = ContainerTask(name="echo", image="i", output_data_dir="/out", inputs=kwtypes(n=int), outputs=kwtypes(n=int),
                   cache=True, cache_version="1", command=[{sys.executable!r}, "-c",
                   "import sys; open('/out/n', 'w').write(sys.argv[1]); open({str(tmp_path / 'calls.log')!r}, 'a')"
                   ".write('container\\\\n')", "{{{{.inputs.n}}}}"])
''')
    args = ("run", "--container-runtime", "host", str(root / "flows.py"), "ct", "--n", "9")
    assert cli(*args).stdout == "n: 9\n"
    assert calls() == ["container"]
    again = cli(*args)
    assert (again.exit_code, again.stdout, calls()) == (0, "n: 9\n", [])
    assert "echo: cached outputs reused" in again.stderr


def test_unwritable_cache_warns_but_the_run_succeeds(cli, project, tmp_path, monkeypatch):
    root, calls = _setup(project, tmp_path, monkeypatch)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("FLYRUN_CACHE_DIR", str(blocker))
    result = cli("run", str(root / "flows.py"), "double", "--x", "2")
    assert (result.exit_code, result.stdout) == (0, "o0: 4\n")
    assert "Warning: flows.double: could not write to the cache at" in result.stderr
    cleared = cli("cache", "clear")
    assert cleared.exit_code == 2 and f"the cache dir {blocker} is not a folder" in cleared.stderr
    assert Path(blocker).is_file()
