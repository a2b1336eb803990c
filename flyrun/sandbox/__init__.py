"""flyrun sandbox: a one-process, FlyteAdmin-compatible server that runs executions on this machine.

Nothing here is imported by ``flyrun --help`` or a local run; werkzeug and flyteidl load only when the server
starts.
"""
