"""The console: server-rendered HTML pages for executions, with a little JavaScript."""
