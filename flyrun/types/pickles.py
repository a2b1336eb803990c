"""Any Python class no transformer knows: pickled (cloudpickle), as flytekit's ``FlytePickle`` does.

LiteralType ``{"blob": {"format": "PythonPickle"}, "metadata": {"python_class_name": "<class 'mod.C'>"}}``; Literal
``{"scalar": {"blob": {"metadata": {"type": {"format": "PythonPickle"}}, "uri": "<raw>/<random>/<md5 of bytes>"}}}``.
A pickle only loads where the same classes (and Python) are: flytekit warns about it, so does flyrun, once per class.
"""

from __future__ import annotations

import sys
from typing import Any

from flyrun.types.registry import TypeMismatch, TypeTransformer, describe, register_fallback

FORMAT = "PythonPickle"
_WARNED: set[str] = set()


def picklable_type(python_type: Any) -> bool:
    """A user's class (not a builtin such as ``set``, not a generic alias): what flytekit falls back to pickling."""
    return isinstance(python_type, type) and python_type.__module__ != "builtins"


def class_name(python_type: Any) -> str:
    return str(python_type)  # flytekit writes str(cls): "<class 'mod.Superhero'>"


def _warn_once(python_type: Any) -> None:
    name = class_name(python_type)
    if name not in _WARNED:
        _WARNED.add(name)
        print(f"Warning: {describe(python_type)} has no type transformer; values of it are pickled (FlytePickle), "
              "which only load with the same class and Python version", file=sys.stderr)


@register_fallback
class PickleTransformer(TypeTransformer):
    name = "pickle"

    def matches(self, python_type: Any) -> bool:
        return picklable_type(python_type)

    def literal_type(self, python_type: Any) -> dict:
        _warn_once(python_type)
        return {"blob": {"format": FORMAT}, "metadata": {"python_class_name": class_name(python_type)}}

    def check(self, value: Any, python_type: Any) -> None:
        if not isinstance(value, python_type):
            raise TypeMismatch(f"expected {describe(python_type)}, got {type(value).__name__}")

    def to_literal(self, value: Any, python_type: Any) -> dict:
        _warn_once(python_type)
        self.check(value, python_type)
        import cloudpickle

        try:
            data = cloudpickle.dumps(value)
        except Exception as exc:
            raise TypeMismatch(f"{describe(python_type)} value cannot be pickled: {type(exc).__name__}: "
                               f"{exc}".splitlines()[0]) from None
        uri = write_pickle(data)
        return {"scalar": {"blob": {"metadata": {"type": {"format": FORMAT}}, "uri": uri}}}

    def to_python(self, literal: dict, python_type: Any) -> Any:
        try:
            uri = literal["scalar"]["blob"]["uri"]
        except (KeyError, TypeError):
            raise TypeMismatch(f"literal {literal!r} is not a pickle blob") from None
        import cloudpickle

        from flyrun.data import transfer
        from flyrun.data.files import _context

        with transfer.open_for_read(uri, _context()) as reader:
            data = reader.read()
        try:
            return cloudpickle.loads(data)
        except Exception as exc:
            raise TypeMismatch(f"pickle {uri} does not load as {describe(python_type)}: {type(exc).__name__}: "
                               f"{exc}") from None

    def from_json(self, value: Any, python_type: Any) -> Any:
        if isinstance(value, python_type):
            return value
        raise TypeMismatch(f"{describe(python_type)} is pickled; it cannot be given as text or JSON (pass it "
                           "from Python, or from another task's output)")

    def from_text(self, text: str, python_type: Any) -> Any:
        return self.from_json(text, python_type)

    def to_json(self, value: Any, python_type: Any) -> Any:
        return repr(value)


def write_pickle(data: bytes) -> str:
    import hashlib
    import secrets

    from flyrun.data import fs as storage
    from flyrun.data import transfer
    from flyrun.data.files import _context

    context = _context()
    prefix = context.raw_output_prefix
    if not prefix:
        import tempfile

        prefix = tempfile.mkdtemp(prefix="flyrun-raw-")
    uri = storage.join(prefix, secrets.token_hex(16), hashlib.md5(data).hexdigest())
    with transfer.open_for_write(uri, context) as writer:
        writer.write(data)
    return uri
