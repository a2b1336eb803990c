"""flyrun sandbox: a one-process, FlyteAdmin-compatible server that runs executions on this machine.

- ``server``: start and stop (bind, pid file, resume unfinished runs); ``services``: what handlers share;
  ``app``: the WSGI application every request enters by.
- ``admin``: FlyteAdmin's API (routes, wire format, registration, executions, nodes and signals, data proxy).
- ``engine``: the execution engine (scheduler, graph walker, task processes, arrays, branches, gates, containers).
- ``auth``: the OAuth 2.0 authorization server of ``--auth``.
- ``console``: the HTML console.
- ``state``: the data dir's layout and the SQLite store with its migrations.

Nothing here is imported by ``flyrun --help`` or a local run; werkzeug and flyteidl load only when the server
starts.
"""
