"""mlflow_autolog (flyrun.plugins.mlflow) with the real mlflow-skinny and scikit-learn: parameters and metrics
logged to the tracking store beside the task's outputs (or MLFLOW_TRACKING_URI), the deck's tables and metric
plots, locally and on `flyrun sandbox`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

PROGRAM = '''
import mlflow
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from flyrun import task, workflow
from flyrun.plugins.mlflow import mlflow_autolog


@task(enable_deck=True)
@mlflow_autolog(framework=mlflow.sklearn, autolog_kwargs={"log_models": False})
def train(c: float) -> float:
    features, labels = make_classification(n_samples=120, n_features=6, random_state=0)
    model = LogisticRegression(C=c, max_iter=100).fit(features, labels)
    return round(float(model.score(features, labels)), 3)


@task(enable_deck=True)
@mlflow_autolog(experiment_name="steps", run_name="by-hand")
def logged_by_hand(n: int) -> int:
    for step in range(n):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    mlflow.log_param("n", n)
    return n


@workflow
def wf(c: float = 0.5) -> float:
    return train(c=c)
'''


@pytest.fixture
def program(project):
    pytest.importorskip("mlflow")
    pytest.importorskip("sklearn")
    return project({"tracked.py": PROGRAM}) / "tracked.py"


def _noted(stderr: str, what: str) -> Path:
    found = re.search(rf": {what} (\S+)", stderr)
    assert found, stderr
    return Path(found.group(1))


def _runs(store: Path, experiment: str) -> list:
    import mlflow

    before = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # MLflow 3 reads a folder store only when told to
    try:
        client = mlflow.MlflowClient(tracking_uri=store.as_uri())
        found = client.get_experiment_by_name(experiment)
        assert found is not None, f"no experiment {experiment!r} in {store}"
        return client.search_runs([found.experiment_id])
    finally:
        if before is None:
            os.environ.pop("MLFLOW_ALLOW_FILE_STORE")
        else:
            os.environ["MLFLOW_ALLOW_FILE_STORE"] = before


def test_a_local_run_logs_params_and_metrics_beside_its_outputs_and_shows_them_in_the_deck(cli, program):
    done = cli("run", "-o", "json", str(program), "wf", "--c", "0.5")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["outputs"] == {"o0": 0.925}
    store = _noted(done.stderr, "MLflow tracking store")
    assert store.name == "mlruns" and store.parent.parent.name == "flyrun-local"  # the run's own folder
    (run,) = _runs(store, "local workflow")  # flytekit's experiment name for local runs
    assert run.data.params["C"] == "0.5" and run.data.params["max_iter"] == "100"
    assert run.data.metrics["training_accuracy_score"] == pytest.approx(0.925)
    assert run.info.run_name.endswith(".train") and run.info.status == "FINISHED"

    deck = _noted(done.stderr, "deck written to").read_text()
    tabs = re.findall(r'data-deck="([^"]+)"', deck)
    assert tabs[:2] == ["mlflow metrics", "mlflow params"]
    metrics = deck.split('data-deck="mlflow metrics"')[1].split("</section>")[0]
    assert "<td>training_accuracy_score</td><td>0.925</td>" in metrics
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="mlflow-metric" data-metric="training_score"' in metrics
    params = deck.split('data-deck="mlflow params"')[1].split("</section>")[0]
    assert "<td>C</td><td>0.5</td>" in params
    assert "<script" not in deck


def test_metric_history_is_plotted_as_a_line_and_names_are_the_users(cli, program):
    done = cli("run", str(program), "logged_by_hand", "--n", "4")
    assert done.exit_code == 0, done.output
    (run,) = _runs(_noted(done.stderr, "MLflow tracking store"), "steps")
    assert run.info.run_name == "by-hand" and run.data.params == {"n": "4"}
    deck = _noted(done.stderr, "deck written to").read_text()
    chart = deck.split('data-metric="loss"')[1].split("</svg>")[0]
    points = re.search(r'<polyline [^>]*points="([^"]+)"', chart).group(1).split()
    assert len(points) == 4 and chart.count("<circle") == 4
    heights = [float(point.split(",")[1]) for point in points]
    assert heights == sorted(heights)  # the loss falls: each point lower on the chart than... higher y in SVG
    assert "<td>loss</td><td>0.25</td><td>4</td>" in deck


def test_mlflow_tracking_uri_is_used_when_set(cli, program, tmp_path, monkeypatch):
    store = tmp_path / "elsewhere"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    done = cli("run", str(program), "logged_by_hand", "--n", "2")
    assert done.exit_code == 0, done.output
    assert "MLflow tracking store" not in done.stderr
    (run,) = _runs(store, "steps")
    assert run.data.metrics == {"loss": 0.5}


def test_autologging_ends_with_the_task(program, project, monkeypatch, request, tmp_path):
    import importlib

    import mlflow
    from sklearn.linear_model import LogisticRegression

    monkeypatch.syspath_prepend(str(program.parent))
    request.addfinalizer(lambda: sys.modules.pop("tracked", None))
    tracked = importlib.import_module("tracked")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracked.train(c=1.0) == 0.925
    # mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI: left behind, the next task would log to MLflow's default.
    assert "MLFLOW_TRACKING_URI" not in os.environ and "MLFLOW_ALLOW_FILE_STORE" not in os.environ
    assert tracked.logged_by_hand(n=2) == 2
    monkeypatch.chdir(tmp_path)
    LogisticRegression().fit([[0.0], [1.0]], [0, 1])  # outside the task: nothing is logged, no run is left open
    assert mlflow.active_run() is None and not (tmp_path / "mlruns").exists() and not (tmp_path / "mlflow.db").exists()


def test_bad_arguments_are_named(cli, project):
    root = project({"bad.py": """
        from flyrun import task
        from flyrun.plugins.mlflow import mlflow_autolog

        @task
        @mlflow_autolog(framework="sklearn")
        def t() -> int:
            return 1
    """})
    done = cli("run", str(root / "bad.py"), "t")
    assert done.exit_code == 2, done.output
    assert "framework= must be an MLflow flavor module with autolog(), such as mlflow.sklearn" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_missing_mlflow_is_one_line_naming_the_extra(cli, project, monkeypatch):
    root = project({"untracked.py": """
        from flyrun import task
        from flyrun.plugins.mlflow import mlflow_autolog

        @task
        @mlflow_autolog
        def t() -> int:
            return 1
    """})
    monkeypatch.setitem(sys.modules, "mlflow", None)  # what an import of a missing package raises
    done = cli("run", str(root / "untracked.py"), "t")
    assert done.exit_code == 2, done.output
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == ["Error: mlflow_autolog on task 'untracked.t' needs mlflow, which is not installed: "
                     "pip install 'flyrun[mlflow]'"], done.stderr


def test_importing_the_plugin_imports_no_mlflow():
    probe = ("import sys, flyrun.plugins.mlflow; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mlflow', 'sklearn')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr


def test_line_chart_is_plain_svg():
    from flyrun.plugins.mlflow.tracking import line_chart

    one = line_chart("a<b", [(0.0, 1.0)])
    assert one.startswith('<svg xmlns="http://www.w3.org/2000/svg"') and one.endswith("</svg>")
    assert "<polyline" not in one and one.count("<circle") == 1 and "a&lt;b" in one
    many = line_chart("loss", [(0.0, 3.0), (1.0, 2.0), (2.0, 2.0)])
    assert many.count("<circle") == 3 and "<polyline" in many and "style=" not in many


@pytest.mark.slow
def test_mlflow_autolog_on_the_sandbox(sandbox_server, tmp_path, program):
    config = tmp_path / "config.yaml"
    config.write_text(f"admin:\n  endpoint: {sandbox_server['endpoint']}\n  insecure: true\n  authType: None\n")
    env = dict(os.environ, PYTHONPATH=str(REPO), HOME=str(tmp_path))
    env.pop("MLFLOW_TRACKING_URI", None)
    done = subprocess.run([sys.executable, "-m", "flyrun.cli.main", "-c", str(config), "run", "--remote", "--wait",
                           "-o", "json", str(program), "wf", "--c", "0.5"], cwd=program.parent,
                          capture_output=True, text=True, env=env, timeout=290)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outputs"] == {"o0": 0.925}
    # The store sits beside the task's outputs.pb and deck.html, under the node's output prefix.
    stores = [p for p in Path(sandbox_server["data_dir"]).rglob("mlruns") if (p.parent / "outputs.pb").exists()]
    assert len(stores) == 1, list(Path(sandbox_server["data_dir"]).rglob("mlruns"))
    (run,) = _runs(stores[0], "tracked.wf")  # on a cluster the experiment is the launch plan's (workflow's) name
    assert run.data.params["C"] == "0.5" and run.data.metrics["training_score"] == pytest.approx(0.925)
    deck = (stores[0].parent / "deck.html").read_text()
    assert 'data-deck="mlflow params"' in deck and 'data-metric="training_score"' in deck
