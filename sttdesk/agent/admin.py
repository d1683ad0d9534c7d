"""``sttdesk-agent key|trust|revoke|trusted|pairing``: an admin's commands beside a running agent.

They only read and write files in the agent's data folder (its key pair, its trust
list, the open pairing codes a running agent records), so they work whether or
not the agent runs; a running agent notices a changed trust list at once.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..domain.errors import SttdeskError
from ..paths import default_paths
from ..security.keys import key_directory, load_or_create_keypair, public_key_from_argument
from ..security.pairing import OPEN_CODES_FILE, read_open_codes
from ..security.trust import TRUSTED_COORDINATORS_FILE, TrustStore

#: The first word that makes ``sttdesk-agent`` an admin command instead of the agent itself.
ADMIN_COMMANDS = ("key", "trust", "revoke", "trusted", "pairing")


def _parser() -> argparse.ArgumentParser:
    data_dir = default_paths().data_dir
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, default=data_dir,
                        help=f"the agent's data folder (default {data_dir})")
    parser = argparse.ArgumentParser(prog="sttdesk-agent", description="Manage this agent's keys and trust.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("key", parents=[common], help="show this agent's public key and fingerprint")
    trust = commands.add_parser("trust", parents=[common],
                                help="trust a coordinator's public key (from 'sttdesk agents key')")
    trust.add_argument("public_key", help="the key (40 characters) or a file holding it")
    trust.add_argument("--name", default="", help="a name to remember it by")
    revoke = commands.add_parser("revoke", parents=[common], help="stop trusting a coordinator at once")
    revoke.add_argument("which", help="its public key, fingerprint (or its first characters) or name")
    commands.add_parser("trusted", parents=[common], help="list the coordinators this agent trusts")
    commands.add_parser("pairing", parents=[common], help="show the pairing codes a running agent is waiting for")
    return parser


def run_admin(argv: list[str]) -> int | None:
    """Run an admin command if ``argv`` names one; None when it is the agent's own command line."""
    if not argv or argv[0] not in ADMIN_COMMANDS:
        return None
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except SttdeskError as exc:
        print(f"Error: {exc.user_message('en')}", file=sys.stderr)
        print(f"Lỗi: {exc.user_message('vi')}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    keys_dir = key_directory(args.data_dir)
    if args.command == "key":
        pair = load_or_create_keypair(keys_dir)
        print(f"public key:  {pair.public.decode()}")
        print(f"fingerprint: {pair.fingerprint}")
        return 0
    if args.command == "pairing":
        codes = read_open_codes(keys_dir / OPEN_CODES_FILE)
        if not codes:
            print("No pairing code is open. Start pairing from the coordinator: sttdesk agents pair HOST:PORT")
            return 0
        now = time.time()
        for entry in codes:
            print(f"code {entry['code']}  for {entry['coordinator'] or '?'} (key {entry['fingerprint']}), "
                  f"valid {max(0, float(entry['expires']) - now):.0f} s more")
        return 0
    trust = TrustStore(keys_dir / TRUSTED_COORDINATORS_FILE)
    if args.command == "trust":
        peer = trust.trust(public_key_from_argument(args.public_key), name=args.name, how="manual")
        print(f"Trusted coordinator key {peer.fingerprint}{f' ({peer.name})' if peer.name else ''}.")
        return 0
    if args.command == "revoke":
        matches = trust.find(args.which)
        if not matches:
            print(f"No trusted coordinator matches {args.which!r}.", file=sys.stderr)
            return 1
        if len(matches) > 1:
            print(f"{args.which!r} matches {len(matches)} coordinators; give more of the key:", file=sys.stderr)
            for peer in matches:
                print(f"  {peer.fingerprint}  {peer.name}", file=sys.stderr)
            return 1
        trust.revoke(matches[0].public_key)
        print(f"Revoked coordinator key {matches[0].fingerprint}; a running agent refuses it from now on.")
        return 0
    peers = trust.peers()
    if not peers:
        print("This agent trusts no coordinator yet.")
    for peer in peers:
        added = time.strftime("%Y-%m-%d %H:%M", time.localtime(peer.added)) if peer.added else "?"
        print(f"{peer.fingerprint}  {peer.name or '-':20}  {peer.how:7} since {added}  {peer.public_key}")
    return 0
