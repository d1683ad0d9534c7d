#!/usr/bin/env python3
"""Health check of the sttdesk image (Docker HEALTHCHECK): is the service answering?

    sttdesk-healthcheck                  TCP connect to the agent: 127.0.0.1:$STTDESK_AGENT_PORT (7878)
    sttdesk-healthcheck --tcp HOST:PORT  TCP connect to HOST:PORT
    sttdesk-healthcheck --http URL       GET URL; healthy on a 2xx answer (the REST API's health)

Exit code 0 when healthy, 1 when not (what Docker expects). Standard library only.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import urllib.error
import urllib.request

#: The agent's port when STTDESK_AGENT_PORT is not set (sttdesk.protocol.DEFAULT_AGENT_PORT).
DEFAULT_AGENT_PORT = 7878
#: Seconds one probe may take; Docker's own --timeout should be a little longer.
PROBE_TIMEOUT_SECONDS = 3.0
HEALTHY, UNHEALTHY = 0, 1


def tcp_ok(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=PROBE_TIMEOUT_SECONDS):
            return True
    except (OSError, ValueError) as exc:
        print(f"unhealthy: {address}: {exc}", file=sys.stderr)
        return False


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_SECONDS) as answer:
            return 200 <= answer.status < 300
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sttdesk-healthcheck", description=__doc__.splitlines()[0])
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--tcp", metavar="HOST:PORT")
    target.add_argument("--http", metavar="URL")
    args = parser.parse_args(argv)
    if args.http:
        return HEALTHY if http_ok(args.http) else UNHEALTHY
    address = args.tcp or f"127.0.0.1:{os.environ.get('STTDESK_AGENT_PORT', DEFAULT_AGENT_PORT)}"
    return HEALTHY if tcp_ok(address) else UNHEALTHY


if __name__ == "__main__":
    sys.exit(main())
