"""Browse for agents inside a namespace and print each change as one JSON line (for the LAN tests).

``{"ready": true}`` once browsing, then ``{"change": "found"|"updated"|"lost", "agent": {...}}``.
Runs until stdin closes or it is terminated.
"""

from __future__ import annotations

import json
import logging
import sys
import threading

from sttdesk.cluster.discovery import AgentBrowser, DiscoveredAgent

_lock = threading.Lock()


def emit(obj: dict[str, object]) -> None:
    with _lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def main() -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)

    def on_change(kind: str, agent: DiscoveredAgent) -> None:
        emit({"change": kind, "agent": agent.to_dict()})

    browser = AgentBrowser(on_change)
    browser.start()
    emit({"ready": True})
    try:
        sys.stdin.read()  # until the test closes our stdin
    finally:
        browser.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
