"""Trust lists: the public keys one side of a link accepts from the other.

The app keeps the agents it trusts (``keys/trusted-agents.json`` under its data
dir), each agent the coordinators it serves (``keys/trusted-coordinators.json``
under the agent's data dir). Both are small JSON files, written atomically with
mode 0600 in the private keys folder.

Why a file and not a table in the app's SQLite job database: the agent has no
database, and one class then serves both sides; the admin commands
(``sttdesk agents trust|revoke``, ``sttdesk-agent trust|revoke``) run as their own
processes beside a running app or agent and only need to rewrite one file; and the
running side notices the change by a ``stat`` per heartbeat (:meth:`TrustStore.refresh`),
so a revocation takes effect within a second without any message between processes.

Besides the file, a store holds keys trusted for this run only
(:meth:`TrustStore.trust_for_session`): the app's own loopback agents, whose keys
it learns from their output when it starts them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: one admin command at a time is the rule there
    fcntl = None  # type: ignore[assignment]

from .errors import InvalidPublicKeyError, KeyFileCorruptError, KeyStoreUnavailableError
from .keys import check_private_file, ensure_private_directory, fingerprint, parse_public_key, write_private_file

log = logging.getLogger(__name__)

#: File names of the two trust lists, inside the keys folder.
TRUSTED_AGENTS_FILE = "trusted-agents.json"
TRUSTED_COORDINATORS_FILE = "trusted-coordinators.json"
#: Format version written in the file, so a later layout can be told apart.
TRUST_FILE_VERSION = 1
#: Longest name kept for a peer (names come from the other side of the wire).
MAX_PEER_NAME = 200


@dataclass(frozen=True, slots=True)
class TrustedPeer:
    """One trusted public key and what is known of its owner."""

    #: Z85 public key, 40 characters.
    public_key: str
    #: Human name at the time it was trusted (host or coordinator name); may be empty.
    name: str = ""
    #: The peer's id (agent id or coordinator id) when known; may be empty.
    peer_id: str = ""
    #: Last known address of an agent (``tcp://host:port``); empty for coordinators.
    endpoint: str = ""
    #: Epoch seconds it was added.
    added: float = 0.0
    #: How it came to be trusted: "paired", "manual" (an admin command) or "session" (this run only).
    how: str = "manual"

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)


class TrustStore:
    """A trust list kept in ``path`` (or in memory only when ``path`` is None); thread-safe."""

    def __init__(self, path: Path | None, *, clock: Callable[[], float] = time.time) -> None:
        self._path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._file_peers: dict[str, TrustedPeer] = {}
        self._session_peers: dict[str, TrustedPeer] = {}
        self._signature: tuple[int, int, int] | None = None
        if path is not None:
            ensure_private_directory(path.parent)
            self._load()

    @classmethod
    def in_memory(cls) -> TrustStore:
        """A store that keeps nothing on disk (tests, and runs without a data folder)."""
        return cls(None)

    @property
    def path(self) -> Path | None:
        return self._path

    # --- questions ----------------------------------------------------------------

    def is_trusted(self, public_key: bytes | str | None) -> bool:
        """Whether ``public_key`` (Z85) is trusted, from the file or for this run."""
        if not public_key:
            return False
        key = public_key.decode("ascii", "replace") if isinstance(public_key, bytes) else public_key
        with self._lock:
            return key in self._file_peers or key in self._session_peers

    def get(self, public_key: bytes | str) -> TrustedPeer | None:
        key = public_key.decode("ascii", "replace") if isinstance(public_key, bytes) else public_key
        with self._lock:
            return self._file_peers.get(key) or self._session_peers.get(key)

    def peers(self) -> list[TrustedPeer]:
        """Every trusted key (kept ones first, by the time they were added)."""
        with self._lock:
            kept = sorted(self._file_peers.values(), key=lambda p: (p.added, p.public_key))
            return kept + [p for k, p in self._session_peers.items() if k not in self._file_peers]

    def keys(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._file_peers) | frozenset(self._session_peers)

    # --- changes --------------------------------------------------------------------

    def trust(self, public_key: bytes | str, *, name: str = "", peer_id: str = "", endpoint: str = "",
              how: str = "manual") -> TrustedPeer:
        """Trust ``public_key`` from now on (kept in the file); returns its entry."""
        key = parse_public_key(public_key).decode("ascii")
        peer = TrustedPeer(public_key=key, name=name[:MAX_PEER_NAME], peer_id=peer_id[:MAX_PEER_NAME],
                           endpoint=endpoint[:MAX_PEER_NAME], added=self._clock(), how=how)
        with self._lock, self._file_lock():
            self._reload_locked()
            self._file_peers[key] = peer
            self._save_locked()
        log.info("trusting key %s (%s)", peer.fingerprint, name or peer_id or "no name")
        return peer

    def trust_for_session(self, public_key: bytes | str, *, name: str = "", peer_id: str = "",
                          endpoint: str = "") -> TrustedPeer:
        """Trust ``public_key`` until this process ends (never written to the file)."""
        key = parse_public_key(public_key).decode("ascii")
        peer = TrustedPeer(public_key=key, name=name[:MAX_PEER_NAME], peer_id=peer_id[:MAX_PEER_NAME],
                           endpoint=endpoint[:MAX_PEER_NAME], added=self._clock(), how="session")
        with self._lock:
            self._session_peers[key] = peer
        return peer

    def forget_session(self, public_key: bytes | str) -> None:
        """Stop trusting a key trusted for this run only (a local agent that went away)."""
        key = public_key.decode("ascii", "replace") if isinstance(public_key, bytes) else public_key
        with self._lock:
            self._session_peers.pop(key, None)

    def revoke(self, public_key: bytes | str) -> TrustedPeer | None:
        """Stop trusting ``public_key`` (file and session); returns the entry removed, if any."""
        key = public_key.decode("ascii", "replace") if isinstance(public_key, bytes) else public_key
        with self._lock, self._file_lock():
            self._reload_locked()
            removed = self._file_peers.pop(key, None)
            if removed is not None:
                self._save_locked()
            session = self._session_peers.pop(key, None)
        if removed or session:
            log.info("revoked key %s", fingerprint(key))
        return removed or session

    def find(self, text: str) -> list[TrustedPeer]:
        """Entries matching ``text``: a whole public key, a fingerprint (or its start), an id or a name."""
        needle = text.strip()
        if not needle:
            return []
        lowered = needle.lower()
        matches = []
        for peer in self.peers():
            if needle in (peer.public_key, peer.peer_id, peer.name, peer.endpoint):
                matches.append(peer)
            elif len(lowered) >= 4 and peer.fingerprint.startswith(lowered):
                matches.append(peer)
        return matches

    def refresh(self) -> bool:
        """Re-read the file if another process changed it; True when the trusted keys changed."""
        if self._path is None:
            return False
        with self._lock:
            before = frozenset(self._file_peers)
            self._reload_locked()
            return frozenset(self._file_peers) != before

    # --- the file ------------------------------------------------------------------------

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        """Hold an exclusive lock on ``<file>.lock``: two admin commands at once lose no change."""
        if self._path is None or fcntl is None:
            yield
            return
        lock_path = self._path.with_name(self._path.name + ".lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise KeyStoreUnavailableError(exc.strerror or str(exc), path=str(lock_path)) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _file_signature(self) -> tuple[int, int, int] | None:
        assert self._path is not None
        try:
            info = self._path.stat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise KeyStoreUnavailableError(exc.strerror or str(exc), path=str(self._path)) from exc
        return (info.st_ino, info.st_mtime_ns, info.st_size)

    def _reload_locked(self) -> None:
        if self._path is None:
            return
        signature = self._file_signature()
        if signature != self._signature:
            self._load_locked(signature)

    def _load(self) -> None:
        with self._lock:
            self._load_locked(self._file_signature())

    def _load_locked(self, signature: tuple[int, int, int] | None) -> None:
        assert self._path is not None
        self._signature = signature
        if signature is None:
            self._file_peers = {}
            return
        check_private_file(self._path)
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise KeyFileCorruptError(f"not a trust list: {exc}", path=str(self._path)) from exc
        self._file_peers = self._parse(data)

    def _parse(self, data: Any) -> dict[str, TrustedPeer]:
        assert self._path is not None
        if not isinstance(data, dict) or not isinstance(data.get("trusted"), list):
            raise KeyFileCorruptError("no 'trusted' list", path=str(self._path))
        peers: dict[str, TrustedPeer] = {}
        for entry in data["trusted"]:
            try:
                key = parse_public_key(str(entry["public_key"])).decode("ascii")
                peers[key] = TrustedPeer(
                    public_key=key, name=str(entry.get("name", "")), peer_id=str(entry.get("peer_id", "")),
                    endpoint=str(entry.get("endpoint", "")), added=float(entry.get("added", 0.0)),
                    how=str(entry.get("how", "manual")),
                )
            except (TypeError, KeyError, ValueError, InvalidPublicKeyError) as exc:
                raise KeyFileCorruptError(f"a bad entry ({exc})", path=str(self._path)) from exc
        return peers

    def _save_locked(self) -> None:
        if self._path is None:
            return
        data = {"version": TRUST_FILE_VERSION,
                "trusted": [asdict(p) for p in sorted(self._file_peers.values(), key=lambda p: p.added)]}
        write_private_file(self._path, json.dumps(data, indent=2, ensure_ascii=False) + "\n", replace=True)
        self._signature = self._file_signature()
