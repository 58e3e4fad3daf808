"""``python -m ui`` and the bundle's entry point: the CLI, with ``gui`` when no command is
given (double-clicking the program opens the window)."""

import sys

from hjemmeprove.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["gui"]))
