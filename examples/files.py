"""Files and directories that stream through fsspec, wherever they are (local disk, s3://, gs://).

    flyrun run examples/files.py copy_file --ff ./data.csv
    flyrun run examples/files.py process_folder --fd s3://bucket/inputs/ --raw-output-data-prefix gs://bucket/out
"""

import os

from flyrun import FlyteDirectory, FlyteFile, task, workflow


@task
def copy_file(ff: FlyteFile) -> FlyteFile:
    new_file = FlyteFile.new_remote_file(ff.remote_path)
    with ff.open("r", cache_type="simplecache", cache_options={}) as r:
        with new_file.open("w") as w:
            w.write(r.read())
    return new_file


@task
def process_folder(fd: FlyteDirectory) -> FlyteDirectory:
    out_fd = FlyteDirectory.new_remote()
    for base, x in fd.crawl():
        src = os.path.join(base, x)
        out_file = out_fd.new_file(x)
        with FlyteFile(src).open("rb") as f:
            with out_file.open("wb") as o:
                o.write(f.read())
    return out_fd


@task
def count_lines(ff: FlyteFile) -> int:
    with ff.open("r") as f:
        return sum(1 for _ in f)


@workflow
def copy_and_count(ff: FlyteFile) -> int:
    return count_lines(ff=copy_file(ff=ff))
