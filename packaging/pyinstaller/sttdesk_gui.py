"""Frozen entry point of ``sttdesk-gui``, the desktop app (see sttdesk.spec)."""

import sys

from sttdesk.gui.app import main

if __name__ == "__main__":
    sys.exit(main())
