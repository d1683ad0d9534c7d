"""``python -m sttdesk.gui``: run the desktop app."""

from __future__ import annotations

from .app import main

raise SystemExit(main())
