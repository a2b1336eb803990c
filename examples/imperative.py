"""The imperative workflow builder, as flytekit's `Workflow`: `flyrun run examples/imperative.py wb --in1 hello`.

The graph is built by calls instead of traced from a function; it runs, serializes and registers as any workflow.
"""

from flyrun import LaunchPlan, Workflow, task, workflow


@task
def greet(a: str) -> str:
    return a + " world"


@task
def measure(x: str, times: int = 2) -> int:
    return len(x) * times


@workflow
def twice(s: str) -> str:
    return greet(a=greet(a=s))


twice_plan = LaunchPlan.get_or_create(twice, "twice_plan")

wb = Workflow(name="examples.imperative.builder")
wb.add_workflow_input("in1", str)
first = wb.add_entity(greet, a=wb.inputs["in1"])
size = wb.add_task(measure, x=first.o0, times=3)
sub = wb.add_subwf(twice, s=first.outputs["o0"])
planned = wb.add_launch_plan(twice_plan, s=wb.inputs["in1"])
wb.add_workflow_output("greeting", first.outputs["o0"])
wb.add_workflow_output("size", size.o0)
wb.add_workflow_output("both", [sub.o0, planned.o0], python_type=list[str])


@workflow
def nested(word: str) -> int:
    """An imperative workflow is called like any other inside a @workflow."""
    greeting, size, both = wb(in1=word)
    return measure(x=greeting, times=size)
