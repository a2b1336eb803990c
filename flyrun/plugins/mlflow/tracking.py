"""``@mlflow_autolog``: a task's function runs inside an MLflow run with the framework's autologging on; afterwards
the run's parameters and metrics become decks (shown with ``@task(enable_deck=True)``).

The tracking store is ``MLFLOW_TRACKING_URI`` when it is set. Otherwise it is a folder beside the task's outputs:
in a local run ``<run folder>/mlruns`` (the path is printed), in a task container (the sandbox, a cluster) a local
folder copied to ``<output prefix>/mlruns`` when the function returns, next to ``outputs.pb`` and ``deck.html``.
"""

from __future__ import annotations

import contextlib
import functools
import html
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

from flyrun.data import fs as storage
from flyrun.data import transfer
from flyrun.deck import Deck, TableRenderer
from flyrun.errors import UsageError, WorkflowDefinitionError
from flyrun.sdk.context import current_context as runner_context
from flyrun.sdk.params import current_context, local_run_area

INSTALL = "pip install 'flyrun[mlflow]'"
LOCAL_EXPERIMENT = "local workflow"  # flytekit's experiment name for local runs


def mlflow_autolog(fn: Callable[..., Any] | None = None, *, framework: Any = None,
                   experiment_name: str | None = None, run_name: str | None = None,
                   autolog_kwargs: dict[str, Any] | None = None) -> Any:
    """Autolog ``fn``'s training with MLflow: put it under ``@task``.

    ``framework``: the MLflow flavor module whose ``autolog()`` is turned on (``mlflow.sklearn`` when not given,
    ``mlflow.keras``, ``mlflow.xgboost``, ...). ``experiment_name``: by default the workflow's name on a cluster or
    the sandbox, and ``"local workflow"`` locally, as flytekit names it. ``run_name``: by default
    ``<execution>.<task>``. ``autolog_kwargs`` (flyrun's addition) go to ``autolog()``, for example
    ``{"log_models": False}`` to skip logging the model, for which MLflow infers pip requirements (slow).
    """

    if framework is not None and not callable(getattr(framework, "autolog", None)):
        raise WorkflowDefinitionError(f"mlflow_autolog: framework= must be an MLflow flavor module with autolog(), "
                                      f"such as mlflow.sklearn or mlflow.keras; got {framework!r}")
    for label, value in (("experiment_name", experiment_name), ("run_name", run_name)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise WorkflowDefinitionError(f"mlflow_autolog: {label}= must be a non-empty string, not {value!r}")
    if autolog_kwargs is not None and not isinstance(autolog_kwargs, dict):
        raise WorkflowDefinitionError(f"mlflow_autolog: autolog_kwargs= must be a dict of autolog() arguments, "
                                      f"not {autolog_kwargs!r}")
    if fn is None:
        return functools.partial(mlflow_autolog, framework=framework, experiment_name=experiment_name,
                                 run_name=run_name, autolog_kwargs=autolog_kwargs)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return _run_tracked(fn, args, kwargs, framework, experiment_name, run_name, autolog_kwargs or {})

    return wrapper


def _require_mlflow(task_name: str) -> Any:
    try:
        import mlflow
    except ImportError:
        raise UsageError(f"mlflow_autolog on task '{task_name}' needs mlflow, which is not installed: "
                         f"{INSTALL}") from None
    return mlflow


def _run_tracked(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], framework: Any,
                 experiment_name: str | None, run_name: str | None, autolog_kwargs: dict[str, Any]) -> Any:
    params = current_context()
    task_name = params.task_name or getattr(fn, "__name__", "task")
    mlflow = _require_mlflow(task_name)
    if framework is None:
        import mlflow.sklearn

        framework = mlflow.sklearn
    runner = runner_context()
    in_container = bool(runner.output_prefix)
    experiment = experiment_name or (os.environ.get("FLYTE_INTERNAL_EXECUTION_WORKFLOW") if in_container
                                     else None) or LOCAL_EXPERIMENT
    name = run_name or f"{params.execution_id.name}.{task_name.rsplit('.', 1)[-1]}"
    with _tracking_store(mlflow, runner, task_name):
        framework.autolog(**autolog_kwargs)
        try:
            mlflow.set_experiment(experiment)
            with mlflow.start_run(run_name=name, nested=mlflow.active_run() is not None) as run:
                result = fn(*args, **kwargs)
            _add_decks(mlflow, run.info.run_id)
        finally:
            # Autologging patches the library for the whole process: later tasks of a local run must not log.
            with contextlib.suppress(Exception):
                framework.autolog(disable=True)
    return result


@contextlib.contextmanager
def _tracking_store(mlflow: Any, runner: Any, task_name: str) -> Iterator[None]:
    """MLFLOW_TRACKING_URI as it is, or a file store beside the task's outputs, set for the call only."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        yield
        return
    import pathlib
    import tempfile

    if runner.output_prefix:
        folder = os.path.join(tempfile.mkdtemp(prefix="flyrun-mlflow-"), "mlruns")
    else:
        folder = os.path.join(local_run_area(runner), "mlruns")
    os.makedirs(folder, exist_ok=True)
    # MLflow 3 refuses a plain folder store unless told that one is wanted; flyrun wants exactly that here.
    previous_allow = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    mlflow.set_tracking_uri(pathlib.Path(folder).as_uri())
    try:
        yield
    finally:
        # set_tracking_uri also exports MLFLOW_TRACKING_URI (for subprocesses); None undoes both, so the next task
        # of a local run chooses its own store again.
        mlflow.set_tracking_uri(None)
        if previous_allow is None:
            os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
        else:
            os.environ["MLFLOW_ALLOW_FILE_STORE"] = previous_allow
        if runner.output_prefix:
            if sys.exc_info()[0] is None:
                _upload(folder, runner)
            else:  # the task's own error is what to report; the store is kept if it can be
                with contextlib.suppress(Exception):
                    _upload(folder, runner)
        else:
            runner.notify(f"{task_name}: MLflow tracking store {folder}")


def _upload(folder: str, runner: Any) -> None:
    destination = storage.join(runner.output_prefix, "mlruns")
    context = runner.ensure_storage()
    with storage.storage_errors("upload the MLflow tracking store", destination, context.storage_options):
        transfer.upload_directory(folder, destination, context)


def _add_decks(mlflow: Any, run_id: str) -> None:
    client = mlflow.MlflowClient()
    data = client.get_run(run_id).data
    histories = {key: client.get_metric_history(run_id, key) for key in sorted(data.metrics)}
    if histories:
        rows = [[key, _number(data.metrics[key]), len(history)] for key, history in histories.items()]
        table = TableRenderer().to_html(rows, ["Metric", "Last value", "Points"])
        charts = "".join(line_chart(key, *_points(history)) for key, history in histories.items())
        Deck("mlflow metrics", f'<h3>Metrics</h3>{table}<div class="mlflow-plots">{charts}</div>')
    if data.params:
        rows = [[key, data.params[key]] for key in sorted(data.params)]
        Deck("mlflow params", "<h3>Parameters</h3>" + TableRenderer().to_html(rows, ["Parameter", "Value"]))


def _points(history: list[Any]) -> tuple[list[tuple[float, float]], str]:
    """(x, value) per logged point and what x is: the step when steps vary, else seconds since the first point."""
    ordered = sorted(history, key=lambda m: (m.step, m.timestamp))
    if len({m.step for m in ordered}) > 1:
        return [(float(m.step), float(m.value)) for m in ordered], "step"
    start = ordered[0].timestamp if ordered else 0
    return [((m.timestamp - start) / 1000.0, float(m.value)) for m in ordered], "seconds"


def _number(value: float) -> str:
    return f"{value:.6g}"


def _axis(value: float) -> str:
    return f"{value:.4g}"


def line_chart(title: str, points: list[tuple[float, float]], x_label: str = "step", width: int = 360,
               height: int = 160) -> str:
    """A small self-contained SVG line chart (no script, no CSS, no matplotlib): the metric over steps or time."""
    left, right, top, bottom = 56, 12, 24, 28
    inner_w, inner_h = width - left - right, height - top - bottom
    xs = [x for x, _ in points] or [0.0]
    ys = [y for _, y in points] or [0.0]
    x_low, x_high = min(xs), max(xs)
    y_low, y_high = min(ys), max(ys)
    shown_x = (_axis(x_low), _axis(x_high)) if x_high != x_low else ("", "")  # one x: no scale to show
    if x_high == x_low:
        x_low, x_high = x_low - 1, x_high + 1
    if y_high == y_low:
        pad = abs(y_low) * 0.1 or 1.0
        y_low, y_high = y_low - pad, y_high + pad

    def at(x: float, y: float) -> str:
        px = left + (x - x_low) / (x_high - x_low) * inner_w
        py = top + (1 - (y - y_low) / (y_high - y_low)) * inner_h
        return f"{px:.1f},{py:.1f}"

    coordinates = [at(x, y) for x, y in points]
    marks = "".join(f'<circle cx="{xy.split(",")[0]}" cy="{xy.split(",")[1]}" r="2.5" fill="#6f2aef"/>'
                    for xy in coordinates)
    line = (f'<polyline fill="none" stroke="#6f2aef" stroke-width="2" points="{" ".join(coordinates)}"/>'
            if len(points) > 1 else "")
    label = html.escape(title)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="mlflow-metric" data-metric="{label}" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{label}">'
            f'<title>{label}</title>'
            f'<text x="{left}" y="16" font-size="12" font-family="sans-serif">{label}</text>'
            f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + inner_h}" stroke="#999"/>'
            f'<line x1="{left}" y1="{top + inner_h}" x2="{left + inner_w}" y2="{top + inner_h}" stroke="#999"/>'
            f'<text x="{left - 4}" y="{top + 4}" font-size="10" text-anchor="end" font-family="sans-serif">'
            f'{_axis(y_high)}</text>'
            f'<text x="{left - 4}" y="{top + inner_h}" font-size="10" text-anchor="end" font-family="sans-serif">'
            f'{_axis(y_low)}</text>'
            f'<text x="{left}" y="{height - 8}" font-size="10" font-family="sans-serif">{shown_x[0]}</text>'
            f'<text x="{left + inner_w / 2:.0f}" y="{height - 8}" font-size="10" text-anchor="middle" '
            f'font-family="sans-serif" fill="#666">{html.escape(x_label)}</text>'
            f'<text x="{left + inner_w}" y="{height - 8}" font-size="10" text-anchor="end" '
            f'font-family="sans-serif">{shown_x[1]}</text>'
            f'{line}{marks}</svg>')
