import sys

from hjemmeprove.cli import main

sys.exit(main())
