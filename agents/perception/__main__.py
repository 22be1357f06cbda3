import sys

from agents.perception.cli import main

sys.exit(main())
