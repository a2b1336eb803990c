"""``python -m flyrun``: the same as the ``flyrun`` command."""

from flyrun.cli.main import main

if __name__ == "__main__":
    main()
