"""``python -m agents.sweep``: see :mod:`agents.sweep.cli`."""

import sys

from agents.sweep.cli import main

if __name__ == "__main__":
    sys.exit(main())
