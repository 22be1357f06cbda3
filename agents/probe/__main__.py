import sys

from agents.probe.cli import main

sys.exit(main())
