"""Frozen entry point of ``sttdesk``, the command line (see sttdesk.spec)."""

import sys

from sttdesk.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
