"""flytekit's own registrations for sandbox tests: `pyflyte package --fast` of a project, registered the way
`pyflyte register` does it (fill in project, domain and version, upload the fast bundle through the data proxy,
put its URL into the tasks' arguments), but through the sandbox's REST API with binary protobuf bodies."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import requests

FLYTEKIT_PROJECT = Path(__file__).resolve().parent / "data" / "flytekit_project"
PROJECT, DOMAIN = "flytesnacks", "development"
PACKAGE_PATH = "{{ .remote_package_path }}"
# pyflyte package names each file <n>_<name>_<resource type>.pb (core.ResourceType: 1 task, 2 workflow, 3 plan)
KINDS = {"1": "TASK", "2": "WORKFLOW", "3": "LAUNCH_PLAN"}


def pyflyte_program(name: str) -> str:
    """A flytekit console script of this test's Python (pyflyte, pyflyte-execute ...)."""
    found = Path(sys.executable).parent / name
    return str(found) if found.exists() else (shutil.which(name) or name)


def package(workdir: Path, env: dict[str, str] | None = None) -> Path:
    """``pyflyte --pkgs fkproj package --fast`` of a copy of the project; returns the archive."""
    source = workdir / "flytekit_project"
    shutil.copytree(FLYTEKIT_PROJECT, source, ignore=shutil.ignore_patterns("__pycache__"))
    archive = workdir / "flyte-package.tgz"
    done = subprocess.run([pyflyte_program("pyflyte"), "--pkgs", "fkproj", "package", "--fast", "--image",
                           "ghcr.io/flyteorg/flytekit:py3.11-1.16.31", "-o", str(archive)], cwd=source,
                          capture_output=True, text=True, timeout=180, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return archive


def _fill_identifiers(message: Any, version: str) -> None:
    """What pyflyte register does to a packaged entity: every Identifier gets the project, domain and version."""
    from flyteidl.core import identifier_pb2

    if isinstance(message, identifier_pb2.Identifier):
        message.project = message.project or PROJECT
        message.domain = message.domain or DOMAIN
        message.version = message.version or version
        return
    for field, value in message.ListFields():
        if field.type != field.TYPE_MESSAGE:
            continue
        if hasattr(value, "ListFields"):
            _fill_identifiers(value, version)
            continue
        items = value.values() if hasattr(value, "values") else value  # a map of messages, or a repeated field
        for item in items:
            if hasattr(item, "ListFields"):
                _fill_identifiers(item, version)


def upload(url: str, name: str, data: bytes) -> str:
    """Upload through the data proxy as pyflyte does; returns the native URL tasks read."""
    digest = hashlib.md5(data).digest()
    location = requests.post(f"{url}/api/v1/dataproxy/artifact_urn", timeout=30, json={
        "project": PROJECT, "domain": DOMAIN, "content_md5": base64.b64encode(digest).decode(), "filename": name})
    assert location.status_code == 200, location.text
    answer = location.json()
    put = requests.put(answer["signed_url"], data=data, timeout=30,
                       headers={"Content-MD5": base64.b64encode(digest).decode()})
    assert put.status_code in (200, 201), put.text
    return answer["native_url"]


def register(url: str, archive: Path) -> str:
    """Register every entity of a `pyflyte package --fast` archive; returns the version used."""
    from flyteidl.admin import launch_plan_pb2, task_pb2, workflow_pb2

    with tarfile.open(archive) as tar:
        files = {member.name: tar.extractfile(member).read() for member in tar.getmembers() if member.isfile()}
    bundle = next(name for name in files if name.startswith("fast") and name.endswith(".tar.gz"))
    version = hashlib.md5(files[bundle]).hexdigest()[:20]
    native = upload(url, bundle, files[bundle])
    http = requests.Session()
    for name in sorted(n for n in files if n.endswith(".pb")):
        kind = KINDS[name[:-3].rsplit("_", 1)[1]]
        if kind == "TASK":
            spec = task_pb2.TaskSpec.FromString(files[name])
            _fill_identifiers(spec, version)
            args = spec.template.container.args
            for index, arg in enumerate(args):
                if arg == PACKAGE_PATH:
                    args[index] = native
            body: Any = task_pb2.TaskCreateRequest(id=spec.template.id, spec=spec)
            path = "tasks"
        elif kind == "WORKFLOW":
            spec = workflow_pb2.WorkflowSpec.FromString(files[name])
            _fill_identifiers(spec, version)
            body, path = workflow_pb2.WorkflowCreateRequest(id=spec.template.id, spec=spec), "workflows"
        else:
            plan = launch_plan_pb2.LaunchPlan.FromString(files[name])
            _fill_identifiers(plan, version)
            body, path = launch_plan_pb2.LaunchPlanCreateRequest(id=plan.id, spec=plan.spec), "launch_plans"
        created = http.post(f"{url}/api/v1/{path}", data=body.SerializeToString(), timeout=30,
                            headers={"Content-Type": "application/x-protobuf"})
        assert created.status_code in (200, 409), f"{name}: {created.status_code} {created.text}"
    return version


def literal_text(literal: dict[str, Any]) -> Any:
    primitive = literal["scalar"]["primitive"]
    return next(iter(primitive.values()))


def clean_env(home: Path) -> dict[str, str]:
    """pyflyte's environment: this one, with a home of its own (no ~/.flyte config of the machine's)."""
    return {**os.environ, "HOME": str(home), "FLYTECTL_CONFIG": ""}
