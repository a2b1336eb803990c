"""ImageSpec: a content tag, the image reference in a task's container, overrides, and `flyrun build`."""

from __future__ import annotations

import json
import os
import stat
import sys

import pytest
from idl_project import spec_files

from flyrun.errors import UsageError

FLOWS = '''
from flyrun import ImageSpec, task, workflow

spec = ImageSpec(name="my-img", registry="ghcr.io/org", packages=["pandas==2.2.0"], apt_packages=["git"],
                 env={"MODE": "prod"}, requirements="req.txt", python_version="3.11")


@task(container_image=spec)
def t(x: int) -> int:
    return x + 1


@task
def plain(x: int) -> int:
    return x


@workflow
def wf(x: int) -> int:
    return plain(x=t(x=x))


@workflow
def overridden(x: int) -> int:
    return plain(x=x).with_overrides(container_image=spec.with_packages("polars"))
'''

EXPECTED_DOCKERFILE = """\
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends git && rm -rf /var/lib/apt/lists/*
COPY requirements.txt /tmp/flyrun-requirements.txt
RUN python -m pip install --no-cache-dir flyrun=={version} pandas==2.2.0 -r /tmp/flyrun-requirements.txt
WORKDIR /root
ENV PYTHONPATH="/root" MODE="prod"
"""

# Logs each call's argv (and, for `build`, the Dockerfile it was given) as a JSON line; FAKE_DOCKER_FAIL fails builds.
FAKE_DOCKER = '''#!{python}
import json, os, sys
args = sys.argv[1:]
if args[:1] == ["info"]:
    sys.exit(0)
entry = {{"args": args}}
if args[:1] == ["build"]:
    entry["dockerfile"] = open(args[args.index("--file") + 1]).read()
    entry["context"] = sorted(os.listdir(args[-1]))
    print("Step 1/8 : FROM python:3.11-slim")
    if os.environ.get("FAKE_DOCKER_FAIL"):
        print("E: Unable to locate package nosuch", flush=True)
        sys.exit(100)
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(json.dumps(entry) + "\\n")
'''


@pytest.fixture
def fake_docker(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER.format(python=sys.executable))
    docker.chmod(docker.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "docker.log"
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(log))
    return log


@pytest.fixture
def flows(project):
    root = project({"flows.py": FLOWS, "req.txt": "numpy\n"})
    os.chdir(root)  # the spec's requirements path is relative to the current folder, as flytekit's
    return root


def _calls(log):
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_the_tag_is_a_hash_of_the_spec_and_of_the_files_it_copies_in(tmp_path, monkeypatch):
    from flyrun import ImageSpec

    monkeypatch.chdir(tmp_path)
    (tmp_path / "req.txt").write_text("numpy\n")
    one = ImageSpec(name="img", packages=["pandas"], requirements="req.txt", python_version="3.11")
    same = ImageSpec(name="img", packages=["pandas"], requirements="req.txt", python_version="3.11")
    assert one.image_name() == same.image_name() == f"img:{one.tag}"
    assert len(one.tag) == 20 and one.tag.isalnum()
    moved = ImageSpec(name="img", registry="localhost:30000", packages=["pandas"], requirements="req.txt",
                      python_version="3.11")
    assert moved.image_name() == f"localhost:30000/img:{one.tag}"  # where it is pushed is not what is in it
    assert ImageSpec(name="img", packages=["polars"], requirements="req.txt", python_version="3.11").tag != one.tag
    assert one.with_packages("polars").tag not in (one.tag,)
    (tmp_path / "req.txt").write_text("numpy==2.0\n")
    assert ImageSpec(name="img", packages=["pandas"], requirements="req.txt", python_version="3.11").tag != one.tag
    assert len({one, same}) == 1  # hashable by content, like flytekit's
    dev = ImageSpec(name="img", python_version="3.11", tag_format="{spec_hash}-dev")
    assert dev.tag.endswith("-dev")


def test_a_task_container_carries_the_image_reference_and_images_override_it_by_name(cli, flows, tmp_path):
    out = tmp_path / "o"
    result = cli("package", "flows.py", "--output-dir", str(out), "-p", "p", "-d", "d")
    assert result.exit_code == 0, result.stderr
    images = {name: spec["template"]["container"]["image"] for name, spec in spec_files(out).items()
              if name.startswith("tasks/")}
    from flyrun import ImageSpec

    expected = ImageSpec(name="my-img", registry="ghcr.io/org", packages=["pandas==2.2.0"], apt_packages=["git"],
                         env={"MODE": "prod"}, requirements="req.txt", python_version="3.11").image_name()
    assert images["tasks/flows.t.json"] == expected
    assert expected.startswith("ghcr.io/org/my-img:")
    assert images["tasks/flows.plain.json"].startswith("ghcr.io/flyrun/flyrun:")
    (node,) = spec_files(out)["workflows/flows.overridden.json"]["template"]["nodes"]
    image = node["task_node"]["overrides"]["container_image"]
    assert image.startswith("ghcr.io/org/my-img:") and image != expected

    forced = cli("package", "flows.py", "--output-dir", str(out), "-p", "p", "-d", "d",
                 "--image", "my-img=registry.example/mine:7")
    assert forced.exit_code == 0, forced.stderr
    assert spec_files(out)["tasks/flows.t.json"]["template"]["container"]["image"] == "registry.example/mine:7"
    (node,) = spec_files(out)["workflows/flows.overridden.json"]["template"]["nodes"]
    assert node["task_node"]["overrides"]["container_image"] == "registry.example/mine:7"
    config = tmp_path / "config.yaml"
    config.write_text("images:\n  my-img: registry.example/mine:8\n")
    configured = cli("-c", str(config), "package", "flows.py", "--output-dir", str(out), "-p", "p", "-d", "d")
    assert configured.exit_code == 0, configured.stderr
    assert spec_files(out)["tasks/flows.t.json"]["template"]["container"]["image"] == "registry.example/mine:8"


def test_a_local_run_of_a_task_with_an_image_spec_runs_here(cli, flows):
    result = cli("run", "flows.py", "wf", "--x", "2")
    assert (result.exit_code, result.stdout) == (0, "o0: 3\n"), result.stderr


def test_build_writes_the_dockerfile_and_runs_docker_build(cli, flows, fake_docker):
    from flyrun.__about__ import __version__

    result = cli("build", "flows.py")
    assert result.exit_code == 0, result.stderr
    images = result.stdout.split()
    # The task's spec and the spec its workflow gives in with_overrides are different images; module level wins.
    assert len(images) == 1 and images[0].startswith("ghcr.io/org/my-img:")
    (call,) = _calls(fake_docker)
    args = call["args"]
    assert args[:7] == ["build", "--platform", "linux/amd64", "--tag", images[0], "--file",
                        os.path.join(args[-1], "Dockerfile")]
    assert call["dockerfile"] == EXPECTED_DOCKERFILE.format(version=__version__)
    assert call["context"] == ["Dockerfile", "requirements.txt"]


def test_build_from_yaml_with_sources_push_and_json_output(cli, tmp_path, fake_docker):
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "__init__.py").write_text("")
    (tmp_path / "image.yaml").write_text(
        "name: etl\nregistry: localhost:30000\nbase_image: ubuntu:24.04\npackages: [flyrun]\n"
        "source_root: src\ncommands: [\"echo ready > /ready\"]\nentrypoint: [\"python\"]\n")
    result = cli("-o", "json", "build", str(tmp_path / "image.yaml"), "--push")
    assert result.exit_code == 0, result.stderr
    (built,) = json.loads(result.stdout)
    assert built["image"].startswith("localhost:30000/etl:") and built["built"] and built["pushed"]
    build, push = _calls(fake_docker)
    assert push["args"] == ["push", built["image"]]
    assert build["context"] == ["Dockerfile", "src"]
    assert build["dockerfile"] == (
        "FROM ubuntu:24.04\n\nENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1\n"
        "RUN python -m pip install --no-cache-dir flyrun\nRUN echo ready > /ready\nWORKDIR /root\n"
        "COPY src/ /root/\nENV PYTHONPATH=\"/root\"\nENTRYPOINT [\"python\"]\n")


def test_build_skips_a_spec_that_images_name_and_dry_run_builds_nothing(cli, flows, fake_docker):
    skipped = cli("build", "flows.py", "--image", "my-img=registry.example/mine:7")
    assert (skipped.exit_code, skipped.stdout) == (0, "registry.example/mine:7\n"), skipped.stderr
    assert "my-img: uses registry.example/mine:7 (from --image or config `images`); not built" in skipped.stderr
    dry = cli("build", "flows.py", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert "FROM python:3.11-slim" in dry.stdout and "# build: docker build --platform linux/amd64" in dry.stdout
    assert _calls(fake_docker) == []


def test_without_docker_or_podman_build_says_so_in_one_line(cli, flows, tmp_path, monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    result = cli("build", "flows.py")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0] == ("Error: cannot build images: neither docker nor podman works here: docker is not installed "
                        "(not on PATH); podman is not installed (not on PATH)")
    assert lines[1].startswith("Hint: install or start Docker or Podman") and len(lines) == 2
    asked = cli("build", "flows.py", "--runtime", "podman")
    assert asked.exit_code == 2
    assert asked.stderr.startswith("Error: cannot build images: podman is not installed (not on PATH)\n")


def test_a_failed_build_is_one_line_with_the_engines_last_words(cli, flows, fake_docker, monkeypatch):
    monkeypatch.setenv("FAKE_DOCKER_FAIL", "1")
    result = cli("build", "flows.py")
    assert result.exit_code == 6
    assert result.stderr.splitlines()[-2].startswith("Error: docker build of ghcr.io/org/my-img:")
    assert result.stderr.splitlines()[-2].endswith("failed (exit status 100): E: Unable to locate package nosuch")
    assert "Traceback" not in result.stderr


BAD_YAML = {
    "unknown_field": ("name: x\npackage: [numpy]\n", "unknown ImageSpec field(s): package"),
    "packages_string": ("name: x\npackages: numpy\n",
                        "ImageSpec 'x': packages must be a list of strings, not the string 'numpy'"),
    "bad_name": ("name: My Image\n", "ImageSpec name 'My Image' is not a valid image name"),
    "bad_registry": ("name: x\nregistry: 'https://ghcr.io'\n",
                     "ImageSpec 'x': registry 'https://ghcr.io' is not host[:port][/path]"),
    "python_number": ("name: x\npython_version: 3.1\n",
                      "ImageSpec 'x': python_version must be a string like \"3.11\", not 3.1"),
    "conda": ("name: x\nconda_packages: [numpy]\n",
              "ImageSpec 'x': conda_packages is not supported by flyrun's image builder"),
    "builder": ("name: x\nbuilder: envd\n", "ImageSpec 'x': builder 'envd' is not supported"),
    "apt_injection": ("name: x\napt_packages: ['git; rm -rf /']\n",
                      "ImageSpec 'x': apt package 'git; rm -rf /' is not a Debian package name"),
    "env_value": ("name: x\nenv: {A: 1}\n",
                  "ImageSpec 'x': env 'A': 1: names must be identifiers and values strings"),
    "missing_requirements": ("name: x\nrequirements: nope.txt\n",
                             "ImageSpec 'x': requirements 'nope.txt' does not exist"),
    "not_a_mapping": ("- name: x\n", "an image spec must be a mapping of ImageSpec fields, not list"),
    "not_yaml": ("name: [x\n", "not valid YAML: "),
}


@pytest.mark.parametrize("case", sorted(BAD_YAML))
def test_bad_specs_are_one_line_with_exit_2(cli, tmp_path, fake_docker, case):
    text, message = BAD_YAML[case]
    spec = tmp_path / "image.yaml"
    spec.write_text(text)
    result = cli("build", str(spec))
    assert result.exit_code == 2, result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"Error: {spec}: {message}"), first
    assert "Traceback" not in result.stderr and _calls(fake_docker) == []


def test_a_bad_spec_in_python_names_the_line_and_a_file_without_specs_says_so(cli, project, fake_docker):
    root = project({"bad.py": "from flyrun import ImageSpec\n\nspec = ImageSpec(name='x', packages='numpy')\n",
                    "none.py": "x = 1\n", "image.txt": "name: x\n"})
    bad = cli("build", str(root / "bad.py"))
    assert bad.exit_code == 2
    assert bad.stderr.splitlines()[0] == (f"Error: {root / 'bad.py'}:3: ImageSpec 'x': packages must be a list of "
                                          "strings, not the string 'numpy'")
    assert "Hint: write packages=['numpy']" in bad.stderr
    none = cli("build", str(root / "none.py"))
    assert none.exit_code == 2 and "no ImageSpec (at module level or as a task's container_image) there" in none.stderr
    other = cli("build", str(root / "image.txt"))
    assert other.exit_code == 2 and "not a .yaml, .yml, .json or .py file" in other.stderr
    named = cli("build", str(root / "bad.py"), "--name", "y")
    assert named.exit_code == 2


def test_a_task_refuses_an_image_that_is_neither_a_reference_nor_a_spec():
    from flyrun import task

    with pytest.raises(UsageError, match="container_image must be an image reference, an image name or an "
                                         "ImageSpec, not int"):
        @task(container_image=3)
        def t(x: int) -> int:
            return x
