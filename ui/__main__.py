"""``python -m ui`` and the bundle's entry point. Started without arguments (double-clicking
the program) it opens the window through the launcher, ``ui.main.run``, directly; with
arguments it is the ``hjemmeprove`` command line (whose ``gui`` command calls the same
launcher)."""

import sys

if __name__ == "__main__":
    if sys.argv[1:]:
        from hjemmeprove.cli import main

        sys.exit(main(sys.argv[1:]))
    from ui.main import run

    sys.exit(run())
