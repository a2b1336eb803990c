"""flytekit compatibility mode: a flytekit program runs under flyrun with its import lines unchanged.

``install()`` puts a finder first on ``sys.meta_path`` that resolves ``flytekit`` and ``flytekit.<path>`` to
``flyrun`` and ``flyrun.<path>``, and ``flytekitplugins.<name>`` to ``flyrun.plugins.<name>`` (the port rule),
before the user's module is loaded. It wins over an installed flytekit: flytekit modules already imported are
dropped from ``sys.modules`` first. Each flytekit module is a thin module of its own whose attributes are flyrun's
objects (``flytekit.task is flyrun.task``); a public name or module flyrun does not have raises
``CompatNameError`` (an ``ImportError``, so ``try: ... except ImportError`` in user code still works) naming it.

Turned on by ``flyrun run --flytekit-compat`` (and ``package``, ``register``) or ``compat: flytekit`` in the
config; a task packaged in this mode runs ``flyrun-execute --compat flytekit``, and local map workers get the
mode in their spec, so the same mapping applies wherever the code is imported again.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Sequence
from typing import Any

from flyrun.errors import UsageError, UserCodeError

FLYTEKIT = "flytekit"
MODES = (FLYTEKIT,)
_ROOTS = {"flytekit": "flyrun", "flytekitplugins": "flyrun.plugins"}
_HINT = "import flyrun's own equivalent instead, or run this program with pyflyte"


class CompatNameError(UserCodeError, ImportError):
    """A flytekit name or module that flyrun does not have, imported in compatibility mode."""

    def __init__(self, flytekit_name: str) -> None:
        UserCodeError.__init__(self, f"{flytekit_name} is not available in flyrun's flytekit compatibility mode; "
                                     f"{_HINT}")
        self.flytekit_name = flytekit_name


def flyrun_name(name: str) -> str | None:
    """The flyrun module a flytekit module name maps to, or None for a name outside flytekit."""
    root, dot, rest = name.partition(".")
    target = _ROOTS.get(root)
    if target is None:
        return None
    return f"{target}{dot}{rest}"


class _CompatModule(types.ModuleType):
    """``flytekit[.x]``: every attribute is the flyrun module's; a missing public one is a CompatNameError."""

    __target__: types.ModuleType

    def __getattr__(self, attribute: str) -> Any:
        target = self.__dict__.get("__target__")
        if target is None or attribute.startswith("__"):
            raise AttributeError(attribute)
        try:
            return getattr(target, attribute)
        except AttributeError:
            pass
        submodule = f"{self.__name__}.{attribute}"
        if submodule in sys.modules:
            return sys.modules[submodule]
        if attribute.startswith("_"):
            raise AttributeError(f"module {self.__name__!r} has no attribute {attribute!r}")
        # Not an AttributeError: `from flytekit import Foo` would turn that into a bare "cannot import name".
        raise CompatNameError(f"{self.__name__}.{attribute}")

    def __dir__(self) -> list[str]:
        return sorted(set(dir(self.__dict__["__target__"])) | set(self.__dict__))


class _CompatLoader(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        try:
            target = importlib.import_module(self.target)
        except ModuleNotFoundError as error:
            if error.name and (error.name == self.target or self.target.startswith(error.name + ".")):
                raise CompatNameError(spec.name) from None
            raise
        module = _CompatModule(spec.name, target.__doc__)
        module.__target__ = target
        if hasattr(target, "__path__"):
            module.__path__ = []  # a package: its submodules are found by this finder, by name
        if hasattr(target, "__all__"):
            module.__dict__["__all__"] = list(target.__all__)
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        return None


class FlytekitFinder(importlib.abc.MetaPathFinder):
    """Finds ``flytekit``/``flytekitplugins`` modules as flyrun's (first on ``sys.meta_path``)."""

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        mapped = flyrun_name(fullname)
        if mapped is None:
            return None
        return importlib.util.spec_from_loader(fullname, _CompatLoader(mapped), is_package=True)


def active() -> str:
    """The compatibility mode in effect in this process ("" for none)."""
    return FLYTEKIT if any(isinstance(f, FlytekitFinder) for f in sys.meta_path) else ""


def install(mode: str = FLYTEKIT) -> None:
    """Turn on ``mode`` for this process (idempotent); "" does nothing."""
    if not mode:
        return
    if mode not in MODES:
        raise UsageError(f"unknown compatibility mode {mode!r}", hint=f"use one of: {', '.join(MODES)}")
    if active():
        return
    for name, module in list(sys.modules.items()):
        if flyrun_name(name) is not None and not isinstance(module, _CompatModule):
            del sys.modules[name]  # the real flytekit, imported earlier: compat mode wins
    sys.meta_path.insert(0, FlytekitFinder())
    importlib.invalidate_caches()


def uninstall() -> None:
    """Turn compatibility mode off again (tests, and callers that ran one program in it)."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, FlytekitFinder)]
    for name, module in list(sys.modules.items()):
        if isinstance(module, _CompatModule):
            del sys.modules[name]
