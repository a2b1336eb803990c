"""Which sandbox tasks the task pool forks, and why the others get a fresh process (said with -v)."""

from __future__ import annotations

import sys
from pathlib import Path

from flyrun.sandbox.engine.taskpool import TaskPool, _base_environment

ENTRY = [sys.executable, "-m", "flyrun.idl.entrypoint", "--inputs", "in.pb", "--output-prefix", "out",
         "--bundle", "file:///b.tar.gz", "--dest-dir", ".", "--resolver", "flyrun.default", "--",
         "task-module", "m", "task-name", "t"]


def _pool(tmp_path: Path, enabled: bool = True) -> TaskPool:
    return TaskPool(tmp_path / "pool", enabled=enabled)


def test_a_flyrun_task_with_a_bundle_on_this_python_is_forked(tmp_path: Path):
    assert _pool(tmp_path).unsuitable(ENTRY, dict(_base_environment(), FLYTE_INTERNAL_NODE_ID="n0"), False) is None


def test_everything_else_gets_a_fresh_process_with_the_reason(tmp_path: Path):
    pool, env = _pool(tmp_path), _base_environment()
    no_bundle = [w for w in ENTRY if w not in ("--bundle", "file:///b.tar.gz")]
    cases = [
        (ENTRY, env, True, "a container task runs in its image"),
        (["/other/python3", *ENTRY[1:]], env, False, "not flyrun-execute on the sandbox's own Python"),
        (["sh", "-c", "true"], env, False, "not flyrun-execute on the sandbox's own Python"),
        (ENTRY, dict(env, PYTHONHASHSEED="0"), False, "its environment sets PYTHONHASHSEED"),
        (ENTRY, dict(env, LD_PRELOAD="/x.so"), False, "its environment sets LD_PRELOAD"),
        (no_bundle, env, False, "it has no code bundle"),
    ]
    for argv, environment, container, reason in cases:
        assert reason in (pool.unsuitable(argv, environment, container) or ""), argv
    assert _pool(tmp_path, enabled=False).unsuitable(ENTRY, env, False) == "the task pool is off (--no-task-pool)"


def test_the_key_follows_the_bundle_content_not_the_per_run_ids(tmp_path: Path):
    pool = _pool(tmp_path)
    bundle = tmp_path / "b.tar.gz"
    bundle.write_bytes(b"one")
    env = _base_environment()
    first = pool._key(str(bundle), "img", dict(env, FLYTE_INTERNAL_NODE_ID="n0", FLYTE_ATTEMPT_NUMBER="0"))
    assert first == pool._key(f"file://{bundle}", "img", dict(env, FLYTE_INTERNAL_NODE_ID="n1"))
    assert first != pool._key(str(bundle), "other-img", env)
    assert first != pool._key(str(bundle), "img", dict(env, API_URL="http://x"))  # read at import, maybe
    bundle.write_bytes(b"two, rewritten in place")
    assert first != pool._key(str(bundle), "img", env)  # a new registration never reaches old modules
