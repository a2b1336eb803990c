"""The one-process sandbox server and its parts."""
