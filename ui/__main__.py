"""``python -m ui`` and the bundle's entry point. Started without arguments (double-clicking
the program) it opens the window through the launcher, ``ui.main.run``, directly; with
arguments it is the ``hjemmeprove`` command line (whose ``gui`` command calls the same
launcher)."""

import multiprocessing
import sys

if __name__ == "__main__":
    # a second process of the frozen program (the planner's searches, the billing run's
    # documents) runs its task here and ends, instead of starting the program again
    multiprocessing.freeze_support()
    if sys.argv[1:]:
        from hjemmeprove.cli import main

        sys.exit(main(sys.argv[1:]))
    from ui.main import run

    sys.exit(run())
