"""Answer gates in a local run: from ``--approve``/``--reject``/``--signal``, or by asking on a terminal.

Flags are checked before anything runs, so a gate that nothing can answer fails at once instead of after the
tasks before it have run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flyrun.errors import RunFailedError, UsageError
from flyrun.sdk.gates import Gate
from flyrun.types import engine

# (question, timeout_seconds or None) -> the answer; raises TimeoutError when the time runs out first.
Ask = Callable[[str, float | None], str]
NO_PROMPT = "(no terminal, or CI is set)"


def gates_in(entity: Any) -> list[Gate]:
    """Every gate a run of ``entity`` can reach, sub-workflows included, in definition order."""
    found: list[Gate] = []
    for node in getattr(entity, "nodes", ()):
        if isinstance(node.entity, Gate):
            found.append(node.entity)
        else:
            found.extend(gates_in(node.entity))
    return found


def check_answers(entity: Any, approve: tuple[str, ...], reject: tuple[str, ...], signals: dict[str, str],
                  interactive: bool) -> None:
    """Fail now if a flag names no gate, answers one twice or the wrong way, or a gate has no way to be answered."""
    gates = {g.name: g for g in gates_in(entity) if g.kind != "sleep"}
    named = [("--approve", n) for n in approve] + [("--reject", n) for n in reject] + \
            [("--signal", n) for n in signals]
    for flag, name in named:
        if name not in gates:
            known = ", ".join(gates) or "none"
            raise UsageError(f"{flag} {name}: {entity.name} has no gate named '{name}'; its gates: {known}")
    both = sorted(set(approve) & set(reject))
    if both:
        raise UsageError(f"gate '{both[0]}' is both approved and rejected", hint="keep one of the two flags")
    for flag, name in named:
        if flag != "--signal" and gates[name].kind == "signal":
            raise UsageError(f"{flag} {name}: '{name}' waits for a value, not an approval",
                             hint=f"pass --signal {name}=VALUE")
    for name, text in signals.items():
        _parse(gates[name], text, bool if gates[name].kind == "approve" else gates[name].expected_type)
    for name, gate in gates.items():
        answered = name in approve or name in reject or name in signals
        if not answered and not interactive:
            raise UsageError(f"{gate.describe()} needs an answer, and this run cannot ask {NO_PROMPT}",
                             hint=f"pass {flag_for(gate)}")


def flag_for(gate: Gate) -> str:
    if gate.kind == "approve":
        return f"--approve {gate.name} (or --reject {gate.name})"
    return f"--signal {gate.name}=VALUE ({engine.describe(gate.expected_type)})"


class GateResolver:
    """Gives each gate its value when the run reaches it."""

    def __init__(self, approve: tuple[str, ...], reject: tuple[str, ...], signals: dict[str, str],
                 ask: Ask | None, notify: Callable[[str], None]) -> None:
        self.approve, self.reject, self.signals = set(approve), set(reject), dict(signals)
        self.ask = ask
        self.notify = notify

    def __call__(self, gate: Gate, upstream_value: Any) -> Any:
        if gate.kind == "sleep":
            self.notify(f"{gate.describe()}: not waiting in a local run")
            return None
        if gate.kind == "approve":
            return upstream_value if self._approved(gate, upstream_value) else None
        return self._signal_value(gate)

    def _approved(self, gate: Gate, value: Any) -> bool:
        if gate.name in self.approve:
            decision, how = True, f"--approve {gate.name}"
        elif gate.name in self.reject:
            decision, how = False, f"--reject {gate.name}"
        elif gate.name in self.signals:
            decision, how = _parse(gate, self.signals[gate.name], bool), f"--signal {gate.name}=..."
        else:
            decision, how = self._ask_approval(gate, value), "answered no"
        if not decision:
            raise RunFailedError(f"{gate.describe()} was rejected ({how})")
        self.notify(f"{gate.describe()}: approved")
        return True

    def _signal_value(self, gate: Gate) -> Any:
        if gate.name in self.signals:
            value = _parse(gate, self.signals[gate.name], gate.expected_type)
        else:
            value = self._ask_value(gate)
        self.notify(f"{gate.describe()}: got {engine.to_json(value, gate.expected_type)!r}")
        return value

    def _ask_approval(self, gate: Gate, value: Any) -> bool:
        shown = engine.to_json(value, gate.expected_type)
        question = f"Approve {gate.describe()} (value: {shown!r})? [y/n]: "
        deadline = _deadline(gate)
        while True:
            answer = self._prompt(gate, question, deadline).strip().lower()
            if answer in ("y", "yes"):
                return True
            if answer in ("n", "no"):
                return False
            question = "Please answer y or n: "

    def _ask_value(self, gate: Gate) -> Any:
        type_name = engine.describe(gate.expected_type)
        question = f"Value for {gate.describe()} ({type_name}): "
        deadline = _deadline(gate)
        while True:
            answer = self._prompt(gate, question, deadline)
            try:
                return engine.from_text(answer, gate.expected_type)
            except engine.TypeMismatch as exc:
                question = f"{exc}; try again ({type_name}): "

    def _prompt(self, gate: Gate, question: str, deadline: float | None) -> str:
        if self.ask is None:
            raise UsageError(f"{gate.describe()} needs an answer, and this run cannot ask {NO_PROMPT}",
                             hint=f"pass {flag_for(gate)}")
        try:
            return self.ask(question, None if deadline is None else deadline - time.monotonic())
        except EOFError:
            raise UsageError(f"{gate.describe()}: no answer (end of input)", hint=f"pass {flag_for(gate)}") from None
        except TimeoutError:
            # As on a cluster, a gate that gets no answer within its timeout fails the run.
            waited = engine.to_json(gate.timeout, type(gate.timeout))
            raise RunFailedError(f"{gate.describe()} timed out: no answer within {waited}",
                                 hint=f"answer sooner, or pass {flag_for(gate)}") from None


def _deadline(gate: Gate) -> float | None:
    return None if gate.timeout is None else time.monotonic() + gate.timeout.total_seconds()


def _parse(gate: Gate, text: str, python_type: Any) -> Any:
    try:
        return engine.from_text(text, python_type)
    except engine.TypeMismatch as exc:
        raise UsageError(f"--signal {gate.name}={text}: {exc}",
                         hint=f"{gate.describe()} expects {engine.describe(python_type)}") from None
