"""The application object every command receives on ``ctx.obj``.

It carries the environment (streams, TTY, config location, output format) so commands never read globals,
and it is the one place that renders results and diagnostics.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from flyrun.errors import ExitStatus


@dataclass
class Environment:
    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    stdin: IO[str] = field(default_factory=lambda: sys.stdin)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)

    @property
    def stdout_isatty(self) -> bool:
        return _isatty(self.stdout)

    @property
    def stderr_isatty(self) -> bool:
        return _isatty(self.stderr)

    @property
    def stdin_isatty(self) -> bool:
        return _isatty(self.stdin)

    @property
    def interactive(self) -> bool:
        """True when a person can answer a prompt: a TTY on stdin and stderr, and not in CI."""
        return self.stdin_isatty and self.stderr_isatty and not self.environ.get("CI")

    @property
    def color(self) -> bool:
        return self.stderr_isatty and "NO_COLOR" not in self.environ


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _readable_within(stream: IO[str], seconds: float) -> bool:
    """Whether a line can be read from ``stream`` within ``seconds`` (streams without a file descriptor: yes)."""
    import select

    try:
        ready, _, _ = select.select([stream], [], [], max(0.0, seconds))
    except (TypeError, ValueError, OSError):
        return True
    return bool(ready)


class Abort(Exception):
    """Raised by ``Application.abort`` and caught by ``main``: the message is already written."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class Application:
    def __init__(self, env: Environment | None = None) -> None:
        self.env = env or Environment()
        self.config_path: str | None = None
        self.verbose = bool(self.env.environ.get("FLYRUN_DEBUG"))
        self.output = "text"
        self._config = None

    # -- configuration ---------------------------------------------------------------------------
    def use_config(self, path: str) -> None:
        """Read configuration from ``path`` (``-c/--config``), wherever on the command line it was given."""
        self.config_path, self._config = path, None

    def config_may_be_set(self, *variables: str) -> bool:
        """Whether an item whose environment ``variables`` are given can differ from its default: the config is
        loaded, a config file exists or one of them is set. A local run with none never loads the config table."""
        from flyrun.config.paths import find_config_file

        environ = self.env.environ
        if self._config is not None or any(name in environ for name in variables):
            return True
        home = Path(environ.get("HOME", "~")).expanduser()
        return find_config_file(self.config_path, environ, home) is not None

    @property
    def config(self):
        if self._config is None:
            from flyrun.config import load_config

            self._config = load_config(self.config_path, self.env.environ)
            for warning in self._config.warnings:
                self.warn(warning)
        return self._config

    def admin_session(self, interactive: bool | None = None):
        """An ``AdminSession`` for this invocation's config; sign-in prompts go to stderr."""
        from flyrun.remote.session import AdminSession

        return AdminSession(self.config, environ=self.env.environ, notify=self.info, debug=self.debug,
                            interactive=self.env.interactive if interactive is None else interactive)

    # -- output ----------------------------------------------------------------------------------
    @property
    def json_output(self) -> bool:
        return self.output == "json"

    def echo(self, text: str = "") -> None:
        """A result line on stdout."""
        self.env.stdout.write(text + "\n")

    def info(self, text: str) -> None:
        """Progress or a notice on stderr."""
        self.env.stderr.write(text + "\n")
        self.env.stderr.flush()

    def warn(self, text: str) -> None:
        self.info(f"Warning: {text}")

    def debug(self, text: str) -> None:
        if self.verbose:
            self.info(f"debug: {text}")

    def ask(self, question: str, timeout: float | None = None) -> str:
        """Ask the person at the terminal: the question on stderr, one line of answer from stdin.

        With ``timeout`` seconds, no answer by then raises ``TimeoutError``.
        """
        self.env.stderr.write(question)
        self.env.stderr.flush()
        if timeout is not None and not _readable_within(self.env.stdin, timeout):
            self.env.stderr.write("\n")
            raise TimeoutError
        line = self.env.stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\r\n")

    def print_json(self, document: Any) -> None:
        import json

        self.env.stdout.write(json.dumps(document, indent=2, sort_keys=False, default=str) + "\n")

    def abort(self, text: str, code: int = ExitStatus.USAGE, hint: str | None = None) -> None:
        self.info(f"Error: {text}")
        if hint:
            self.info(f"Hint: {hint}")
        raise Abort(int(code))
