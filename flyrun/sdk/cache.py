"""flytekit's ``Cache`` (``@task(cache=Cache(version="1", serialize=True, ignored_inputs=("x",)))``) and the
``CachePolicy`` protocol that computes a cache version when none is given.

As in flytekit 1.16, a version given wins; without one, each policy's ``get_version(salt, params)`` is joined and
the sha256 of the joined text is the version. flytekit ships no default policy, so ``Cache()`` with neither a
version nor a policy is an error here too (with a message that says what to add). Imported only by tasks that use a
``Cache``: a plain ``cache=True`` never loads this module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from flyrun.errors import WorkflowDefinitionError


@dataclass
class VersionParameters:
    """What a policy may look at to compute a version: the task's function, image and pod template."""

    func: Callable[..., Any]
    container_image: Any = None
    pod_template: Any = None
    pod_template_name: str | None = None


@runtime_checkable
class CachePolicy(Protocol):
    """Anything with ``get_version(salt, params) -> str`` (flytekit's protocol, matched by shape)."""

    def get_version(self, salt: str, params: VersionParameters) -> str: ...


def _fail(message: str, hint: str | None = None) -> WorkflowDefinitionError:
    return WorkflowDefinitionError(f"Cache: {message}", hint=hint)


@dataclass
class Cache:
    """A task's cache settings: ``version`` (or ``policies`` that compute one, with ``salt``), ``serialize``
    (identical concurrent runs wait for one), and ``ignored_inputs`` left out of the cache key."""

    version: str | None = None
    serialize: bool = False
    ignored_inputs: tuple[str, ...] | str = ()
    salt: str = ""
    policies: list[CachePolicy] | CachePolicy | None = None
    _policies: list[CachePolicy] = field(init=False, repr=False, compare=False, default_factory=list)

    def __post_init__(self) -> None:
        if self.version is not None and (not isinstance(self.version, str) or not self.version):
            raise _fail(f"version must be a non-empty string, not {self.version!r}", hint='Cache(version="1")')
        if not isinstance(self.serialize, bool):
            raise _fail(f"serialize must be True or False, not {self.serialize!r}")
        ignored = (self.ignored_inputs,) if isinstance(self.ignored_inputs, str) else self.ignored_inputs
        if not isinstance(ignored, (tuple, list)) or not all(isinstance(n, str) and n for n in ignored):
            raise _fail(f"ignored_inputs must be an input name or a tuple of input names, not "
                        f"{self.ignored_inputs!r}", hint='Cache(version="1", ignored_inputs=("x",))')
        self.ignored_inputs = tuple(ignored)
        if not isinstance(self.salt, str):
            raise _fail(f"salt must be a string, not {self.salt!r}")
        policies = self.policies
        if policies is None:
            policies = []
        elif isinstance(policies, CachePolicy):
            policies = [policies]
        if not isinstance(policies, (list, tuple)):
            raise _fail(f"policies must be a list of cache policies, not {type(policies).__name__}")
        for policy in policies:
            if not isinstance(policy, CachePolicy):
                raise _fail(f"{policy!r} is not a cache policy: a policy is an object with a "
                            "get_version(salt, params) method returning a string")
        self._policies = list(policies)
        if self.version is None and not self._policies:
            raise _fail("give a version or at least one cache policy to compute one",
                        hint='Cache(version="1"), or Cache(policies=[MyPolicy()])')

    def get_ignored_inputs(self) -> tuple[str, ...]:
        return tuple(self.ignored_inputs)

    def get_version(self, params: VersionParameters) -> str:
        """The version given, else the sha256 of the policies' versions joined in order."""
        if self.version is not None:
            return self.version
        import hashlib

        joined = ""
        for policy in self._policies:
            try:
                part = policy.get_version(self.salt, params)
            except Exception as exc:  # the user's policy: say which one, and the way out
                raise _fail(f"cache policy {type(policy).__name__} failed to compute a version "
                            f"({type(exc).__name__}: {exc})", hint='set one instead: Cache(version="1")') from None
            if not isinstance(part, str):
                raise _fail(f"cache policy {type(policy).__name__} returned {part!r}, not a string")
            joined += part
        return hashlib.sha256(joined.encode()).hexdigest()


def task_cache_settings(cache: Any, where: str, params: VersionParameters, *, cache_version: str,
                        cache_serialize: bool, cache_ignore_input_vars: Any) -> tuple[str, bool, tuple[str, ...]]:
    """``cache=Cache(...)`` of a task as (version, serialize, ignored inputs); the older separate settings are
    refused next to it, as flytekit refuses them."""
    if not isinstance(cache, Cache):
        raise WorkflowDefinitionError(f"{where}: cache must be True, False or a Cache(...), not {cache!r}",
                                      hint='cache=Cache(version="1")')
    if cache_version or cache_serialize or cache_ignore_input_vars:
        raise WorkflowDefinitionError(f"{where}: cache=Cache(...) replaces cache_version, cache_serialize and "
                                      "cache_ignore_input_vars; set them in the Cache instead",
                                      hint='cache=Cache(version="1", serialize=True, ignored_inputs=("x",))')
    try:
        version = cache.get_version(params)
    except WorkflowDefinitionError as exc:
        raise WorkflowDefinitionError(f"{where}: {exc.message}", hint=exc.hint) from None
    return version, cache.serialize, cache.get_ignored_inputs()
