"""A raw container task with a pod template (the issue's seed example).

    flyrun run examples/container.py ellipse --a 2 --b 3 --container-runtime host
    flyrun run examples/container.py ellipse --a 2 --b 3        # in docker or podman, if one works

The command reads its inputs from files in /var/inputs and writes one file per output to /var/outputs, as Flyte's
raw containers do; `{{.inputs.a}}` is filled in with the input's value.
"""

from kubernetes.client import V1PodSpec, V1Toleration

from flyrun import ContainerTask, PodTemplate, kwtypes, workflow

SCRIPT = """
import math, pathlib, sys
a = float(pathlib.Path('/var/inputs/a').read_text())
b = float(sys.argv[1])
out = pathlib.Path('/var/outputs')
out.joinpath('area').write_text(str(math.pi * a * b))
out.joinpath('metadata').write_text(f'ellipse with semi-axes {a} and {b}')
"""

ps = V1PodSpec(containers=[], tolerations=[V1Toleration(effect="NoSchedule", key="ng", operator="Exists")])
ps.runtime_class_name = "nvidia"
pt = PodTemplate(pod_spec=ps, labels={"somelabel": "foobar"})
ct = ContainerTask(name="ellipse-area", image="python:3.11-slim", input_data_dir="/var/inputs",
                   output_data_dir="/var/outputs", inputs=kwtypes(a=float, b=float),
                   outputs=kwtypes(area=float, metadata=str),
                   command=["python", "-c", SCRIPT, "{{.inputs.b}}"], pod_template=pt,
                   pod_template_name="my-base-template")


@workflow
def ellipse(a: float, b: float) -> float:
    area, _metadata = ct(a=a, b=b)
    return area
