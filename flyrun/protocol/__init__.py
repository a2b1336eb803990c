"""Flyte's task-execution protocol, written once for every runner: the local runner, ``flyrun-execute`` and the
sandbox all call this package.

Why a package of its own and not ``flyrun.idl``: ``idl`` turns SDK entities into flyteidl documents (registration,
packaging, the task entrypoint's inputs and outputs); this package is what a *platform* does around a task:

- ``literals``: text of a literal (for command templates, copilot's input files, and display) and type checks;
- ``templates``: ``{{.inputs.x}}``, ``{{.outputPrefix}}``, ... rendered as propeller renders them;
- ``copilot``: the raw-container data layout (inputs written to a folder, outputs read back from one);
- ``runtimes``: where a raw container runs (``host``, ``docker``, ``podman``) and its command line there;
- ``gotext``: Go's text forms of numbers, durations and booleans, which the protocol is defined in.

The one literal form here is the flyteidl message (``flyteidl.core.literals_pb2``): the sandbox already holds
messages, and the local runner converts its protojson dicts at its one boundary (``flyrun.idl.literals.parse`` /
``to_dict``). Storage options have one builder, ``flyrun.data.fs`` (from config, or from the environment a task
pod sees). Every module imports protobuf and flyteidl inside its functions, so importing this package is cheap.
"""
