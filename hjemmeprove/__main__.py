"""``python -m hjemmeprove``: the same as the ``hjemmeprove`` command."""

import sys

from hjemmeprove.cli import main

if __name__ == "__main__":
    sys.exit(main())
