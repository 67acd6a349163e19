"""``python -m genzoo`` and the ``genzoo`` command (``launch``): the CLI, with a Ctrl-C during
its first second (while torch and the plugins import) ending quietly with exit code 130."""

import signal
import sys


def _quiet(signum: int, frame: object) -> None:
    print("interrupted", file=sys.stderr)
    sys.exit(130)


def launch() -> None:
    previous = signal.signal(signal.SIGINT, _quiet)  # until the CLI's own handling is in place
    try:
        from genzoo.cli import main
    finally:
        signal.signal(signal.SIGINT, previous)
    main()


if __name__ == "__main__":
    launch()
