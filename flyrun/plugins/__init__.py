"""flytekit's plugins under flyrun's name: ``flytekitplugins.<name>`` becomes ``flyrun.plugins.<name>``.

Each plugin's library is an optional extra (``pip install 'flyrun[<name>]'``), imported only when a task runs.
"""
