"""Extra kinds of tasks: ``flyrun.extras.tasks.shell.ShellTask``."""
