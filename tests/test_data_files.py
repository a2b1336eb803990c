"""FlyteFile and FlyteDirectory as Python objects: paths, lazy downloads, streaming opens, literals, outputs."""

from __future__ import annotations

import os
import secrets
import typing
from pathlib import Path

import pytest

from flyrun import FlyteDirectory, FlyteFile, task, workflow
from flyrun.errors import StorageError
from flyrun.sdk.context import ExecutionContext, use_context
from flyrun.types import engine

CSV = typing.TypeVar("csv")


@pytest.fixture
def run_context(tmp_path: Path, s3_peer, gcs_peer, monkeypatch):
    """A run whose raw output prefix is a local folder and whose storage reaches both peers."""
    for name, value in s3_peer.env.items():
        monkeypatch.setenv(name, value)
    context = ExecutionContext(raw_output_prefix=str(tmp_path / "raw"), storage_options={
        "s3": {"endpoint_url": s3_peer.endpoint}, "gs": {"endpoint_url": gcs_peer.endpoint, "token": "anon"}})
    with use_context(context):
        yield context


@pytest.fixture
def remote(s3_peer, gcs_peer):
    """A fresh prefix per backend: remote["s3"] == "s3://flyrun-api/<random>"."""
    run = secrets.token_hex(4)
    return {"s3": s3_peer.uri(s3_peer.bucket("flyrun-api"), run),
            "gs": gcs_peer.uri(gcs_peer.bucket("flyrun-api"), run)}


def test_local_file_is_its_path(tmp_path):
    local = tmp_path / "a.txt"
    local.write_text("hi")
    ff = FlyteFile(local)
    assert ff.path == str(local) and ff.remote_path is None and not ff.is_remote
    assert os.fspath(ff) == str(local) and str(ff) == str(local)
    assert FlyteFile(f"file://{local}").path == str(local)
    assert FlyteFile(ff) == ff


def test_nothing_moves_until_asked(run_context):
    ff = FlyteFile("s3://no-such-bucket-lazy/key.csv")  # constructing touches nothing
    assert ff.remote_path == "s3://no-such-bucket-lazy/key.csv"
    with pytest.raises(StorageError, match="cannot download s3://no-such-bucket-lazy/key.csv: bucket"):
        os.fspath(ff)


@pytest.mark.parametrize("backend", ("s3", "gs"))
def test_remote_file_streams_and_downloads_once(run_context, remote, backend):
    uri = f"{remote[backend]}/dir/hello.txt"
    with FlyteFile(uri).open("w") as out:
        out.write("hello\nw\u00f6rld\n")
    ff = FlyteFile(uri)
    with ff.open("r") as stream:
        assert stream.read() == "hello\nw\u00f6rld\n"
    with ff.open("rb", cache_type="readahead", cache_options={}, block_size=2**20) as stream:
        assert stream.read(5) == b"hello"
    with ff.open("r", cache_type="simplecache", cache_options={}) as stream:
        assert stream.readline() == "hello\n"
    local = ff.download()
    assert local != uri and Path(local).read_text() == "hello\nw\u00f6rld\n"
    assert ff.download() == local and os.fspath(ff) == local


@pytest.mark.parametrize("backend", ("local", "s3", "gs"))
def test_writes_are_atomic_in_python_too(run_context, remote, tmp_path, backend):
    target = str(tmp_path / "out" / "f.bin") if backend == "local" else f"{remote[backend]}/f.bin"
    with pytest.raises(RuntimeError, match="mid-write"):
        with FlyteFile(target).open("wb") as out:
            out.write(b"partial")
            raise RuntimeError("mid-write")
    writer = FlyteFile(target).open("w")
    writer.write("dropped without close")
    del writer  # garbage collected unclosed: never committed
    with pytest.raises(StorageError), FlyteFile(target).open("rb") as stream:
        stream.read()
    with FlyteFile(target).open("wb") as out:
        out.write(b"whole")
    with FlyteFile(target).open("rb") as stream:
        assert stream.read() == b"whole"
    if backend == "local":
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["f.bin"]  # no temporary left over


def test_empty_file_on_each_backend(run_context, remote, tmp_path):
    for target in (str(tmp_path / "empty"), f"{remote['s3']}/empty", f"{remote['gs']}/empty"):
        with FlyteFile(target).open("wb"):
            pass
        with FlyteFile(target).open("rb") as stream:
            assert stream.read() == b""


def test_unsupported_modes_and_cache_types(tmp_path):
    with pytest.raises(ValueError, match="mode 'a' is not supported"):
        FlyteFile("x").open("a")
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="unknown cache_type 'simple'; known: .*readahead.*simplecache"):
        FlyteFile(tmp_path / "f").open("r", cache_type="simple")


def test_new_remote_file_lands_under_the_prefix(run_context):
    first, second = FlyteFile.new_remote_file("s3://bucket/data/report.csv"), FlyteFile.new_remote_file()
    prefix = run_context.raw_output_prefix
    assert first.path.startswith(prefix + "/") and first.path.endswith("/report.csv")
    assert second.path.startswith(prefix + "/") and second.path != first.path
    run_context.raw_output_prefix = "gs://bucket/raw"
    assert FlyteFile.new_remote_file("x.txt").path.startswith("gs://bucket/raw/")
    assert FlyteDirectory.new_remote().path.startswith("gs://bucket/raw/")


@pytest.mark.parametrize("backend", ("local", "s3", "gs"))
def test_directory_crawl_listing_download(run_context, remote, tmp_path, backend):
    base = str(tmp_path / "tree") if backend == "local" else f"{remote[backend]}/tree"
    fd = FlyteDirectory(base)
    for name, data in {"a.txt": b"a", "sub/b.txt": b"bb", "sub/deep/\u00e9t\u00e9.txt": b"", "z.txt": b"z"}.items():
        with fd.new_file(name).open("wb") as out:
            out.write(data)
    assert sorted(rel for _, rel in fd.crawl()) == ["a.txt", "sub/b.txt", "sub/deep/\u00e9t\u00e9.txt", "z.txt"]
    assert all(b == base for b, _ in fd.crawl())
    assert sorted(rel for _, rel in fd.crawl(maxdepth=1)) == ["a.txt", "z.txt"]
    bottom_up = [rel for _, rel in fd.crawl(topdown=False)]
    assert bottom_up.index("sub/deep/\u00e9t\u00e9.txt") < bottom_up.index("a.txt")
    listed = fd.listing()
    assert [type(x).__name__ for x in listed] == ["FlyteFile", "FlyteDirectory", "FlyteFile"]
    assert [os.path.basename(x.path) for x in listed] == ["a.txt", "sub", "z.txt"]
    local = Path(fd.download())
    assert (local / "sub" / "deep" / "\u00e9t\u00e9.txt").read_bytes() == b""
    assert (local / "sub" / "b.txt").read_bytes() == b"bb"
    assert fd.new_dir("sub").new_file("c").path == os.path.join(base, "sub", "c")


def test_typed_files_and_their_literals():
    csv_file = FlyteFile[CSV]
    assert csv_file is FlyteFile[typing.TypeVar("csv")] and csv_file is FlyteFile["csv"]
    assert issubclass(csv_file, FlyteFile) and csv_file.__name__ == "FlyteFile[csv]"
    assert engine.literal_type(csv_file) == {"blob": {"format": "csv", "dimensionality": "SINGLE"}}
    assert engine.literal_type(FlyteDirectory) == {"blob": {"format": "", "dimensionality": "MULTIPART"}}
    literal = engine.to_literal(FlyteFile("s3://b/k.csv"), csv_file)
    assert literal == {"scalar": {"blob": {"metadata": {"type": {"format": "csv", "dimensionality": "SINGLE"}},
                                           "uri": "s3://b/k.csv"}}}
    from flyteidl.core import literals_pb2  # the shape flyteidl itself accepts
    from google.protobuf import json_format

    json_format.ParseDict(literal, literals_pb2.Literal(), ignore_unknown_fields=False)
    value = engine.to_python(literal, csv_file)
    assert type(value) is csv_file and value.path == "s3://b/k.csv"
    assert engine.to_json(value, csv_file) == "s3://b/k.csv"
    # A blob without a format fits any format; different formats and file/directory do not mix.
    plain, dirs = engine.literal_type(FlyteFile), engine.literal_type(FlyteDirectory)
    assert engine.is_assignable(plain, engine.literal_type(csv_file))
    assert engine.is_assignable(engine.literal_type(csv_file), plain)
    assert not engine.is_assignable(engine.literal_type(FlyteFile["json"]), engine.literal_type(csv_file))
    assert not engine.is_assignable(plain, dirs)
    with pytest.raises(engine.TypeMismatch):
        engine.to_literal(FlyteDirectory("s3://b/d"), FlyteFile)


def test_inputs_are_referenced_outputs_are_uploaded(run_context, tmp_path):
    source = tmp_path / "mine.txt"
    source.write_text("data")

    @task
    def passthrough(ff: FlyteFile) -> FlyteFile:
        assert ff.path == str(source)  # an input on local disk is used where it is
        return ff

    out = passthrough(ff=FlyteFile(source))
    assert out.path.startswith(run_context.raw_output_prefix + "/") and out.path.endswith("/mine.txt")
    assert Path(out.path).read_text() == "data"
    again = passthrough.run_function({"ff": FlyteFile(source)})["o0"]
    assert again.path != out.path  # a fresh location per output


def test_output_with_its_own_remote_path(run_context, remote, tmp_path):
    source = tmp_path / "r.txt"
    source.write_text("to s3")
    destination = f"{remote['s3']}/chosen/r.txt"

    @task
    def produce() -> FlyteFile:
        return FlyteFile(source, remote_path=destination)

    assert produce().path == destination
    assert FlyteFile(destination).open("rb").read() == b"to s3"


def test_a_workflow_passes_files_between_tasks(run_context, tmp_path):
    @task
    def write(text: str) -> FlyteFile:
        path = tmp_path / "scratch.txt"
        path.write_text(text)
        return FlyteFile(path)

    @task
    def read(ff: FlyteFile[CSV]) -> str:
        with ff.open("r") as stream:
            return stream.read()

    @workflow
    def wf(text: str) -> str:
        return read(ff=write(text=text))

    assert wf(text="through a workflow") == "through a workflow"


def test_missing_output_file_fails_the_task(run_context, tmp_path):
    @task
    def lost() -> FlyteFile:
        return FlyteFile(tmp_path / "never-written.txt")

    with pytest.raises(Exception, match="never-written.txt does not exist"):
        lost()


def test_other_fsspec_stores_write_through_a_temporary_name():
    import fsspec

    folder = f"memory://flyrun-{secrets.token_hex(4)}"
    target = f"{folder}/out.txt"
    with pytest.raises(RuntimeError), FlyteFile(target).open("w") as out:
        out.write("partial")
        raise RuntimeError("mid-write")
    memory = fsspec.filesystem("memory")
    assert not memory.exists(target) and memory.find(folder) == []
    with FlyteFile(target).open("w") as out:
        out.write("whole")
    assert memory.cat_file(target) == b"whole"
    assert [p.rsplit("/", 1)[1] for p in memory.find(folder)] == ["out.txt"]
