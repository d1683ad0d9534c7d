"""Frozen entry point of ``sttdesk-agent``, the headless worker (see sttdesk.spec)."""

import sys

from sttdesk.agent.main import main

if __name__ == "__main__":
    sys.exit(main())
