"""MLflow autologging around a task (flytekitplugins.mlflow's mlflow_autolog, ported by changing the import).

    pip install 'flyrun[mlflow]'
    flyrun run examples/mlflow_tracking.py train_wf --c 0.5
    flyrun run --remote examples/mlflow_tracking.py train_wf      # on `flyrun sandbox` or a Flyte cluster

The run's parameters and metrics go to ``MLFLOW_TRACKING_URI`` if set, else to an ``mlruns`` folder beside the
task's outputs (a local run prints where); the task's deck shows them as tables and a plot per metric.
"""

import mlflow
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from flyrun import task, workflow
from flyrun.plugins.mlflow import mlflow_autolog


@task(enable_deck=True)
@mlflow_autolog(framework=mlflow.sklearn, experiment_name="flyrun-example",
                autolog_kwargs={"log_models": False})
def train(c: float, samples: int) -> float:
    features, labels = make_classification(n_samples=samples, n_features=8, random_state=0)
    model = LogisticRegression(C=c, max_iter=200).fit(features, labels)
    return round(float(model.score(features, labels)), 3)


@workflow
def train_wf(c: float = 1.0, samples: int = 200) -> float:
    return train(c=c, samples=samples)
