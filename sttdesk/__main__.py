"""``python -m sttdesk``: the ``sttdesk`` command (the desktop app when given no arguments)."""

from __future__ import annotations

import sys

from .cli.main import main

sys.exit(main())
