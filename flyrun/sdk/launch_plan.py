"""``LaunchPlan``: a workflow with chosen default and fixed inputs, and optionally a schedule and notifications.

A launch plan is an entity like a task or a workflow: it runs locally (the workflow with its defaults and fixed
inputs), can be called inside another workflow (a launch-plan node), and is registered for a cluster. Its
interface is its workflow's minus the fixed inputs, so a fixed input can be neither passed nor bound.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

from flyrun.errors import UsageError, WorkflowDefinitionError
from flyrun.sdk.entity import ModuleLevelEntity
from flyrun.sdk.graph import user_call_site
from flyrun.sdk.interface import Interface
from flyrun.sdk.notification import Notification
from flyrun.sdk.schedule import CronSchedule, FixedRate
from flyrun.types import engine


class LaunchPlan(ModuleLevelEntity):
    kind = "launch_plan"

    def __init__(self, workflow: Any, name: str, *, default_inputs: dict[str, Any] | None = None,
                 fixed_inputs: dict[str, Any] | None = None, schedule: Any = None,
                 notifications: list[Any] | None = None, labels: dict[str, str] | None = None,
                 annotations: dict[str, str] | None = None, raw_output_data_config: Any = None,
                 max_parallelism: int | None = None, overwrite_cache: bool | None = None,
                 auto_activate: bool = False, call_site: str = "<unknown>", module: str = "__main__",
                 is_default: bool = False) -> None:
        self.workflow = workflow
        self.name = name
        self.call_site = call_site
        self._module = module
        self.is_default = is_default
        where = f"{call_site}: launch plan '{name}'"
        self.fixed_inputs = self._checked_values(fixed_inputs or {}, "fixed input", where)
        defaults = self._checked_values(default_inputs or {}, "default input", where)
        inputs = {n: t for n, t in workflow.interface.inputs.items() if n not in self.fixed_inputs}
        self.default_inputs = defaults
        self.interface = Interface(
            inputs=inputs,
            defaults={**{n: v for n, v in workflow.interface.defaults.items() if n in inputs}, **defaults},
            outputs=dict(workflow.interface.outputs), output_tuple=workflow.interface.output_tuple)
        self.schedule = schedule
        self.notifications = list(notifications or [])
        self._check_schedule(where)
        self._check_notifications(where)
        self.labels = _string_map(labels, "labels", where)
        self.annotations = _string_map(annotations, "annotations", where)
        self.raw_output_data_config = _raw_output_prefix(raw_output_data_config, where)
        if max_parallelism is not None and (not isinstance(max_parallelism, int) or max_parallelism < 0):
            raise WorkflowDefinitionError(f"{where}: max_parallelism must be a whole number >= 0, not "
                                          f"{max_parallelism!r}")
        self.max_parallelism = max_parallelism
        self.overwrite_cache = overwrite_cache
        self.auto_activate = bool(auto_activate)

    # -- construction ---------------------------------------------------------------------------------------
    @classmethod
    def get_or_create(cls, workflow: Any, name: str | None = None, default_inputs: dict[str, Any] | None = None,
                      fixed_inputs: dict[str, Any] | None = None, schedule: Any = None,
                      notifications: list[Any] | None = None, labels: dict[str, str] | None = None,
                      annotations: dict[str, str] | None = None, raw_output_data_config: Any = None,
                      max_parallelism: int | None = None, security_context: Any = None, auth_role: Any = None,
                      trigger: Any = None, overwrite_cache: bool | None = None, auto_activate: bool = False,
                      concurrency: Any = None) -> LaunchPlan:
        """flytekit's ``LaunchPlan.get_or_create``; without a name, the workflow's default launch plan."""
        call_site = user_call_site()
        module = sys._getframe(1).f_globals.get("__name__", "__main__")
        if getattr(workflow, "kind", "") != "workflow":
            raise WorkflowDefinitionError(f"{call_site}: LaunchPlan.get_or_create needs a workflow, not "
                                          f"{workflow!r}")
        unsupported = {"security_context": security_context, "auth_role": auth_role, "trigger": trigger,
                       "concurrency": concurrency}
        given = [key for key, value in unsupported.items() if value is not None]
        if given:
            raise WorkflowDefinitionError(f"{call_site}: LaunchPlan.get_or_create({given[0]}=...) is not supported "
                                          "by flyrun yet", hint="leave it out; set it on the cluster instead")
        options = dict(default_inputs=default_inputs, fixed_inputs=fixed_inputs, schedule=schedule,
                       notifications=notifications, labels=labels, annotations=annotations,
                       raw_output_data_config=raw_output_data_config, max_parallelism=max_parallelism,
                       overwrite_cache=overwrite_cache)
        if name is None or name == workflow.name:
            extra = [key for key, value in options.items() if value] + (["auto_activate"] if auto_activate else [])
            if name is None and extra:
                raise WorkflowDefinitionError(f"{call_site}: the default launch plan of '{workflow.name}' takes no "
                                              f"settings ({extra[0]}=...)", hint="give the launch plan a name")
            return cls(workflow, workflow.name, call_site=call_site, module=module, is_default=not any(
                options.values()), auto_activate=auto_activate, **options)
        return cls(workflow, name, call_site=call_site, module=module, auto_activate=auto_activate, **options)

    @classmethod
    def get_default_launch_plan(cls, *args: Any) -> LaunchPlan:
        """``LaunchPlan.get_default_launch_plan(ctx, workflow)`` (the context is flytekit's; it is ignored)."""
        return cls.get_or_create(args[-1])

    def _checked_values(self, values: dict[str, Any], label: str, where: str) -> dict[str, Any]:
        inputs = self.workflow.interface.inputs
        checked = {}
        for input_name, value in values.items():
            if input_name not in inputs:
                raise WorkflowDefinitionError(
                    f"{where}: {label} '{input_name}' is not an input of workflow '{self.workflow.name}'; inputs "
                    f"are: {', '.join(inputs) or 'none'}")
            try:
                checked[input_name] = engine.roundtrip(value, inputs[input_name])
            except engine.TypeMismatch as error:
                raise WorkflowDefinitionError(f"{where}: {label} '{input_name}' "
                                              f"({engine.describe(inputs[input_name])}): {error}") from None
        return checked

    def _check_schedule(self, where: str) -> None:
        if self.schedule is None:
            return
        if not isinstance(self.schedule, (CronSchedule, FixedRate)):
            raise WorkflowDefinitionError(f"{where}: schedule must be a CronSchedule or a FixedRate, not "
                                          f"{self.schedule!r}")
        kickoff = self.schedule.kickoff_time_input_arg
        if kickoff is not None and self.interface.inputs.get(kickoff) is not dt.datetime:
            raise WorkflowDefinitionError(f"{where}: kickoff_time_input_arg '{kickoff}' must name a datetime "
                                          f"input of workflow '{self.workflow.name}' that is not fixed")
        unbound = [n for n in self.interface.required_inputs if n != kickoff]
        if unbound:
            raise WorkflowDefinitionError(f"{where}: a scheduled launch plan must give every input a value, but "
                                          f"'{unbound[0]}' has none", hint="add it to default_inputs or fixed_inputs")

    def _check_notifications(self, where: str) -> None:
        for item in self.notifications:
            if not isinstance(item, Notification):
                raise WorkflowDefinitionError(f"{where}: notifications must be Email, Slack or PagerDuty, not "
                                              f"{item!r}")

    # -- as an entity -----------------------------------------------------------------------------------------

    @property
    def short_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    def local_execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """The workflow with these inputs and the fixed ones (schedules and notifications have no local meaning)."""
        return self.workflow.local_execute({**inputs, **self.fixed_inputs})

    def check_not_fixed(self, names: list[str]) -> None:
        """A fixed input cannot be given: say so, rather than treat it as an unknown input."""
        for input_name in names:
            if input_name in self.fixed_inputs:
                raise UsageError(f"input '{input_name}' is fixed to {self.fixed_inputs[input_name]!r} by launch "
                                 f"plan {self.name} and cannot be overridden",
                                 hint=f"run the workflow {self.workflow.short_name} to choose it")

    def __repr__(self) -> str:
        return f"<launch plan {self.name}>"


def _string_map(value: Any, label: str, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        value = getattr(value, "values", value)  # flytekit's Labels/Annotations models hold a dict in .values
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise WorkflowDefinitionError(f"{where}: {label} must map strings to strings, not {value!r}")
    return dict(value)


def _raw_output_prefix(value: Any, where: str) -> str:
    if value is None:
        return ""
    prefix = getattr(value, "output_location_prefix", value)
    if not isinstance(prefix, str):
        raise WorkflowDefinitionError(f"{where}: raw_output_data_config must be a prefix string, not {value!r}")
    return prefix
