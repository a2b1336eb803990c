"""``make deps-check``: are the installed packages inside the version ranges flyrun declares?

pip only enforces the ranges at install time; a later ``pip install`` of something else can move click or protobuf
out of them, and then failures look like flyrun's bugs. This says which package, which version, and the allowed
range, and exits 3 (a set-up problem, like a bad config) when any is outside.

    python -m flyrun.depcheck [--extras sandbox,test] [--pyproject PATH] [--quiet]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from flyrun.errors import ExitStatus

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


@dataclass(frozen=True)
class Declared:
    """One requirement and who declares it ("flyrun", "flyrun[test]", "moto[server]")."""

    requirement: str
    origin: str


def declared_requirements(extras: Iterable[str] = (), pyproject: Path | None = None) -> list[Declared]:
    """flyrun's requirements and those of ``extras``: from pyproject.toml in a checkout, else the installed metadata."""
    extras = list(extras)
    path = pyproject or PYPROJECT
    if path.is_file():
        try:
            import tomllib
        except ImportError:  # Python 3.10: the installed metadata says the same for an up-to-date install
            tomllib = None
        if tomllib is not None:
            project = tomllib.loads(path.read_text())["project"]
            optional = project.get("optional-dependencies", {})
            unknown = [extra for extra in extras if extra not in optional]
            if unknown:
                raise ValueError(f"pyproject.toml has no extra {unknown[0]!r}; it has: {', '.join(sorted(optional))}")
            found = [Declared(text, "flyrun") for text in project.get("dependencies", [])]
            for extra in extras:
                found += [Declared(text, f"flyrun[{extra}]") for text in optional[extra]]
            return found
    return _installed_requirements("flyrun", ["", *extras])


def _installed_requirements(distribution: str, extras: Sequence[str]) -> list[Declared]:
    from importlib.metadata import requires

    from packaging.requirements import Requirement

    found = []
    for text in requires(distribution) or []:
        marker = Requirement(text).marker
        for extra in extras:
            if (marker is None and extra == "") or (marker is not None and marker.evaluate({"extra": extra})):
                found.append(Declared(text, f"{distribution}[{extra}]" if extra else distribution))
                break
    return found


def problems(declared: Iterable[Declared]) -> list[str]:
    """One line per requirement that the installed packages do not meet; empty when all are met."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import Requirement

    found: list[str] = []
    for item in declared:
        requirement = Requirement(item.requirement)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": _extra_of(item.origin)}):
            continue  # for another platform or Python
        wanted = f"{requirement.name}{requirement.specifier}"
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            found.append(f"{requirement.name} is not installed; {item.origin} needs {wanted}")
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            found.append(f"{requirement.name} {installed} is installed, outside the range {item.origin} allows: "
                         f"{requirement.specifier}")
            continue
        for extra in sorted(requirement.extras):  # moto[server]: what the extra brings must be there too
            found += problems(_installed_requirements(requirement.name, [extra]))
    return found


def _extra_of(origin: str) -> str:
    return origin.partition("[")[2].rstrip("]")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flyrun.depcheck", description=__doc__.splitlines()[0])
    parser.add_argument("--extras", default="", help="comma-separated extras to check as well, e.g. sandbox,test")
    parser.add_argument("--pyproject", type=Path, help="the pyproject.toml to read (default: this checkout's)")
    parser.add_argument("--quiet", action="store_true", help="print nothing when every requirement is met")
    args = parser.parse_args(argv)
    extras = [extra.strip() for extra in args.extras.split(",") if extra.strip()]
    try:
        declared = declared_requirements(extras, args.pyproject)
        found = problems(declared)
    except ModuleNotFoundError as missing:  # packaging: brought by pytest and the test extra
        print(f"deps-check: {missing.name} is not installed: pip install -e '.[sandbox,test]'", file=sys.stderr)
        return ExitStatus.CONFIG
    except ValueError as error:
        print(f"deps-check: {error}", file=sys.stderr)
        return ExitStatus.USAGE
    label = f"flyrun[{','.join(extras)}]" if extras else "flyrun"
    for line in found:
        print(f"deps-check: {line}", file=sys.stderr)
    if found:
        print(f"deps-check: fix with: pip install -e '.[{','.join(extras)}]'" if extras
              else "deps-check: fix with: pip install -e .", file=sys.stderr)
        return ExitStatus.CONFIG
    if not args.quiet:
        print(f"deps-check: the {len(declared)} requirements of {label} are met")
    return ExitStatus.SUCCESS


if __name__ == "__main__":
    sys.exit(main())
