"""``flyrun build``: build the images ImageSpecs describe, with docker or podman."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from flyrun.cli.app import Application
from flyrun.cli.options import global_options

_BUILD_TIMEOUT_SECONDS = 3600


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("spec_file", metavar="IMAGE_SPEC_FILE_OR_PY", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", "names", multiple=True, help="Build only the ImageSpec(s) with this name (repeatable).")
@click.option("--runtime", type=click.Choice(["docker", "podman"]), default=None,
              help="Build with this engine (default: the spec's builder, else the first of docker, podman that works).")
@click.option("--push", is_flag=True, help="Push each image to its registry after building it.")
@click.option("--dry-run", is_flag=True, help="Print each Dockerfile and build command; build nothing.")
@click.option("--image", "images", multiple=True, metavar="NAME=URI",
              help="Use URI for the ImageSpec named NAME instead of building it (config `images` too).")
@global_options
@click.pass_obj
def build(app: Application, spec_file: Path, names: tuple[str, ...], runtime: str | None, push: bool,
          dry_run: bool, images: tuple[str, ...]) -> None:
    """Build the images described by IMAGE_SPEC_FILE_OR_PY.

    \b
    A YAML (or JSON) file holds one ImageSpec's fields; a Python file's ImageSpecs are the module's own and
    those its tasks give as container_image. Each image is tagged with a hash of its spec.
    \b
    flyrun build image.yaml                  build and print registry/name:tag
    flyrun build flows.py --dry-run          the Dockerfile and command line for each spec
    """
    from flyrun.errors import UsageError
    from flyrun.idl.settings import parse_images

    specs = _load_specs(spec_file)
    if names:
        unknown = sorted(set(names) - {spec.name for spec in specs})
        if unknown:
            raise UsageError(f"{spec_file}: no ImageSpec named {', '.join(unknown)}",
                             hint=f"the ImageSpecs there are: {', '.join(sorted({s.name for s in specs}))}")
        specs = [spec for spec in specs if spec.name in names]
    overrides = parse_images(images, app.config.get("images"))
    results: list[dict[str, Any]] = []
    engine = None
    for spec in specs:
        if spec.name in overrides:
            app.info(f"{spec.name}: uses {overrides[spec.name]} (from --image or config `images`); not built")
            results.append({"name": spec.name, "image": overrides[spec.name], "built": False})
            continue
        if engine is None and not dry_run:
            engine = _engine(runtime or (spec.builder if spec.builder in ("docker", "podman") else None))
        results.append(_build_one(app, spec, engine or runtime or "docker", push=push, dry_run=dry_run))
    if app.json_output:
        app.print_json(results)
    elif not dry_run:
        for result in results:
            app.echo(result["image"])


def _load_specs(path: Path) -> list:
    from flyrun.errors import UsageError

    if not path.is_file():
        raise UsageError(f"{path}: no such file", hint="give a YAML image spec or a Python file with ImageSpecs")
    if path.suffix == ".py":
        specs = _specs_in_module(path)
        what = "ImageSpec (at module level or as a task's container_image)"
    elif path.suffix in (".yaml", ".yml", ".json"):
        specs = [_spec_from_document(path)]
        what = "ImageSpec"
    else:
        raise UsageError(f"{path}: not a .yaml, .yml, .json or .py file",
                         hint="give a YAML image spec or a Python file with ImageSpecs")
    if not specs:
        raise UsageError(f"{path}: no {what} there")
    return specs


def _spec_from_document(path: Path):
    import yaml

    from flyrun.errors import UsageError
    from flyrun.sdk.image_spec import spec_from_mapping

    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"{path}: not valid YAML: {first}") from None
    return spec_from_mapping(data, str(path), path.resolve().parent)


def _specs_in_module(path: Path) -> list:
    from flyrun.loader import import_location, locate
    from flyrun.sdk.image_spec import ImageSpec

    module = import_location(locate(path))
    found: dict[str, ImageSpec] = {}
    for value in list(vars(module).values()):
        candidates = [value, getattr(value, "container_image", None)]
        inner = getattr(value, "task", None)  # a map task's own task
        if inner is not None:
            candidates.append(getattr(inner, "container_image", None))
        for candidate in candidates:
            if isinstance(candidate, ImageSpec):
                found.setdefault(candidate.image_name(), candidate)
    return list(found.values())


def _engine(asked: str | None) -> str:
    from flyrun.errors import UsageError
    from flyrun.protocol.runtimes import first_engine, runtime_problem

    if asked:
        problem = runtime_problem(asked)
        if problem is None:
            return asked
        raise UsageError(f"cannot build images: {problem}", hint="start it, or build with the other engine "
                         "(--runtime docker|podman); --dry-run prints the Dockerfile")
    engine, problems = first_engine()
    if engine is None:
        raise UsageError(f"cannot build images: neither docker nor podman works here: {'; '.join(problems)}",
                         hint="install or start Docker or Podman; --dry-run prints the Dockerfile to build elsewhere")
    return engine


def _build_one(app: Application, spec, engine: str, *, push: bool, dry_run: bool) -> dict[str, Any]:
    import tempfile

    image = spec.image_name()
    with tempfile.TemporaryDirectory(prefix="flyrun-build-") as folder:
        dockerfile = spec.write_context(Path(folder))
        argv = [engine, "build", "--platform", spec.platform, "--tag", image, "--file", str(dockerfile), folder]
        if dry_run:
            import shlex

            app.echo(f"# {spec.name}: {image}")
            app.echo(dockerfile.read_text().rstrip())
            app.echo(f"# build: {shlex.join(argv)}")
            app.echo("")
            return {"name": spec.name, "image": image, "built": False, "dockerfile": dockerfile.read_text(),
                    "command": argv}
        app.info(f"Building {image} with {engine}")
        _run(app, argv, f"{engine} build of {image}")
    if push:
        _run(app, [engine, "push", image], f"{engine} push of {image}")
    return {"name": spec.name, "image": image, "built": True, "pushed": push}


def _run(app: Application, argv: list[str], what: str) -> None:
    """Run the engine, its output to stderr (stdout stays the image references); a failure is one line."""
    import subprocess
    from collections import deque

    from flyrun.errors import RunFailedError

    last: deque[str] = deque(maxlen=1)
    try:
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              errors="replace") as process:
            assert process.stdout is not None
            for line in process.stdout:
                line = line.rstrip()
                if line:
                    last.append(line)
                    if app.verbose:
                        app.info(line)
            status = process.wait(timeout=_BUILD_TIMEOUT_SECONDS)
    except OSError as exc:
        raise RunFailedError(f"{what} could not start: {exc}") from None
    if status != 0:
        raise RunFailedError(f"{what} failed (exit status {status}): {last[0] if last else 'no output'}",
                             hint="run again with -v to see the engine's output")
