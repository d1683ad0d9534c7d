"""Pairing a coordinator with an agent by a short one-time code (no sockets here).

The agent shows a six-digit code when an unknown coordinator asks to pair; the
user types it into the coordinator. Both sides then run SPAKE2 (a
password-authenticated key exchange) with the code as the password and both
CURVE public keys as the identities, and prove to each other that they reached
the same key:

====  =========================================  ===========================================
step  coordinator                                agent
====  =========================================  ===========================================
1     PAIR_REQUEST                               makes a code, shows it; PAIR_CHALLENGE
2     PAIR_EXCHANGE (SPAKE2 message)             counts an attempt; PAIR_EXCHANGE (SPAKE2
                                                 message + agent confirmation)
3     checks the agent's confirmation;           checks it; trusts the coordinator's key;
      PAIR_CONFIRM (coordinator confirmation)    PAIR_RESULT
4     trusts the agent's key
====  =========================================  ===========================================

Why this shape: the link already runs inside CURVE, so a bystander sees nothing.
A man in the middle (someone who announced a false agent key, or answers in the
agent's place) talks SPAKE2 with each side separately without the code; SPAKE2
gives him exactly one guess per run, never something he can test codes against
offline, and the confirmations bind both public keys as each side sees them,
so keys swapped in between make both confirmations fail. Online guessing is
bounded: a code lives :data:`CODE_LIFETIME_SECONDS`, is used once, allows
:data:`ATTEMPTS_PER_CODE` tries, and the agent takes at most
:data:`ATTEMPTS_PER_MINUTE` attempts (from anyone) and makes at most
:data:`CODES_PER_MINUTE` new codes a minute. With a six-digit code that is a
chance of about 3 in a million per code shown.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spake2 import SPAKE2_A, SPAKE2_B

from ..domain.errors import SttdeskError
from .errors import PairingCodeWrongError, PairingExpiredError, PairingRateLimitedError
from .keys import check_private_file, fingerprint, write_private_file

log = logging.getLogger(__name__)

#: Digits in a pairing code (shown as two groups of three).
CODE_DIGITS = 6
#: How long a shown code may be used.
CODE_LIFETIME_SECONDS = 300.0
#: Wrong tries one code allows before it is thrown away.
ATTEMPTS_PER_CODE = 3
#: Pairing attempts (PAIR_EXCHANGE) the agent takes per minute, from all coordinators together.
ATTEMPTS_PER_MINUTE = 10
#: New codes the agent makes per minute (each shows up in its log).
CODES_PER_MINUTE = 6
#: Codes waiting at once; a new one pushes the oldest out.
MAX_OPEN_CODES = 8
#: Seconds the agent waits for the coordinator's confirmation after its own.
CONFIRM_WINDOW_SECONDS = 60.0
_WINDOW_SECONDS = 60.0

_AGENT_CONFIRM_LABEL = b"sttdesk pairing: agent confirms"
_COORDINATOR_CONFIRM_LABEL = b"sttdesk pairing: coordinator confirms"


def normalize_code(text: str) -> str:
    """A code as typed ("123 456", "123-456") reduced to its digits."""
    return "".join(ch for ch in text if ch.isdigit())


def format_code(code: str) -> str:
    """A code as shown: ``123-456``."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def _identities(coordinator_key: bytes, agent_key: bytes) -> tuple[bytes, bytes]:
    return b"sttdesk-coordinator:" + coordinator_key, b"sttdesk-agent:" + agent_key


def _confirmation(label: bytes, shared: bytes, coordinator_key: bytes, agent_key: bytes) -> str:
    return hmac.new(shared, label + b"|" + coordinator_key + b"|" + agent_key, hashlib.sha256).hexdigest()


def _password(code: str) -> bytes:
    return b"sttdesk-pairing-code:" + normalize_code(code).encode("ascii")


@dataclass(frozen=True, slots=True)
class PairingOffer:
    """A code the agent shows, and for whom."""

    code: str
    #: The coordinator's public key (Z85) the code was made for.
    coordinator_key: bytes
    coordinator_name: str
    #: Epoch seconds the code stops working.
    expires: float
    attempts_left: int

    @property
    def shown(self) -> str:
        return format_code(self.code)


@dataclass(slots=True)
class _Open:
    offer: PairingOffer
    attempts_left: int
    #: Set between the agent's PAIR_EXCHANGE answer and the coordinator's PAIR_CONFIRM.
    expected_confirm: str | None = None
    confirm_deadline: float = 0.0


@dataclass(slots=True)
class _RateWindow:
    """Events allowed per sliding window."""

    limit: int
    times: deque[float] = field(default_factory=deque)

    def take(self, now: float) -> float:
        """0.0 when one more event is allowed now (and counts it), else seconds until one is."""
        while self.times and now - self.times[0] >= _WINDOW_SECONDS:
            self.times.popleft()
        if len(self.times) >= self.limit:
            return _WINDOW_SECONDS - (now - self.times[0])
        self.times.append(now)
        return 0.0


class PairingDesk:
    """The agent's side of pairing: open codes, attempts and rate limits (one thread uses it)."""

    def __init__(
        self,
        agent_key: bytes,
        *,
        agent_label: str = "",
        clock: Callable[[], float] = time.time,
        code_lifetime: float = CODE_LIFETIME_SECONDS,
        attempts_per_code: int = ATTEMPTS_PER_CODE,
        attempts_per_minute: int = ATTEMPTS_PER_MINUTE,
        codes_per_minute: int = CODES_PER_MINUTE,
        max_open_codes: int = MAX_OPEN_CODES,
    ) -> None:
        self._agent_key = agent_key
        self._label = agent_label
        self._clock = clock
        self._lifetime = code_lifetime
        self._attempts_per_code = attempts_per_code
        self._attempts = _RateWindow(attempts_per_minute)
        self._new_codes = _RateWindow(codes_per_minute)
        self._max_open = max_open_codes
        self._open: dict[bytes, _Open] = {}

    @property
    def agent_key(self) -> bytes:
        """The agent's own public key (Z85)."""
        return self._agent_key

    def offers(self) -> list[PairingOffer]:
        """The codes open now (for the status output)."""
        self._expire(self._clock())
        return [o.offer for o in self._open.values()]

    def request(self, coordinator_key: bytes, coordinator_name: str) -> PairingOffer:
        """The code for ``coordinator_key``: the open one, or a new one (raises PairingRateLimitedError)."""
        now = self._clock()
        self._expire(now)
        current = self._open.get(coordinator_key)
        if current is not None:
            return current.offer
        wait = self._new_codes.take(now)
        if wait:
            raise PairingRateLimitedError(agent=self._label, seconds=int(wait) + 1)
        while len(self._open) >= self._max_open:
            oldest = min(self._open, key=lambda k: self._open[k].offer.expires)
            del self._open[oldest]
        code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
        offer = PairingOffer(code=code, coordinator_key=coordinator_key, coordinator_name=coordinator_name,
                             expires=now + self._lifetime, attempts_left=self._attempts_per_code)
        self._open[coordinator_key] = _Open(offer=offer, attempts_left=self._attempts_per_code)
        return offer

    def exchange(self, coordinator_key: bytes, message: bytes) -> tuple[bytes, str, int]:
        """Answer a coordinator's SPAKE2 message: (agent's SPAKE2 message, agent's confirmation, attempts left).

        Each call spends one of the code's attempts. Raises PairingExpiredError (no open
        code for this coordinator), PairingRateLimitedError, PairingCodeWrongError (a
        malformed SPAKE2 message counts as a wrong code).
        """
        now = self._clock()
        self._expire(now)
        entry = self._open.get(coordinator_key)
        if entry is None:
            raise PairingExpiredError("no code is waiting for this computer", agent=self._label)
        if entry.attempts_left <= 0:
            del self._open[coordinator_key]
            raise PairingExpiredError("the code was tried too many times", agent=self._label)
        wait = self._attempts.take(now)
        if wait:
            raise PairingRateLimitedError(agent=self._label, seconds=int(wait) + 1)
        entry.attempts_left -= 1
        id_coordinator, id_agent = _identities(coordinator_key, self._agent_key)
        spake = SPAKE2_B(_password(entry.offer.code), idA=id_coordinator, idB=id_agent)
        answer = spake.start()
        try:
            shared = spake.finish(message)
        except Exception as exc:  # noqa: BLE001 - spake2 raises many kinds for a bad group element
            self._wrong(coordinator_key, entry)
            raise PairingCodeWrongError(f"bad SPAKE2 message: {exc}", agent=self._label,
                                        remaining=max(0, entry.attempts_left)) from None
        entry.expected_confirm = _confirmation(_COORDINATOR_CONFIRM_LABEL, shared, coordinator_key, self._agent_key)
        entry.confirm_deadline = now + CONFIRM_WINDOW_SECONDS
        confirmation = _confirmation(_AGENT_CONFIRM_LABEL, shared, coordinator_key, self._agent_key)
        return answer, confirmation, max(0, entry.attempts_left)

    def confirm(self, coordinator_key: bytes, confirmation: str) -> PairingOffer:
        """Check the coordinator's confirmation; on success the code is used up and its offer returned.

        Raises PairingCodeWrongError (with the attempts left) or PairingExpiredError.
        """
        now = self._clock()
        self._expire(now)
        entry = self._open.get(coordinator_key)
        if entry is None or entry.expected_confirm is None:
            raise PairingExpiredError("no pairing attempt is waiting for confirmation", agent=self._label)
        expected, entry.expected_confirm = entry.expected_confirm, None
        if not hmac.compare_digest(expected.encode(), confirmation.encode("ascii", "replace")):
            self._wrong(coordinator_key, entry)
            raise PairingCodeWrongError("confirmation does not match", agent=self._label,
                                        remaining=max(0, entry.attempts_left))
        del self._open[coordinator_key]
        return entry.offer

    def withdraw(self, coordinator_key: bytes) -> None:
        """Forget the code open for ``coordinator_key`` (it paired another way, or was revoked)."""
        self._open.pop(coordinator_key, None)

    def _wrong(self, coordinator_key: bytes, entry: _Open) -> None:
        log.warning("wrong pairing code from key %s (%d attempt(s) left)",
                    fingerprint(coordinator_key), max(0, entry.attempts_left))
        if entry.attempts_left <= 0:
            del self._open[coordinator_key]

    def _expire(self, now: float) -> None:
        for key, entry in list(self._open.items()):
            if now >= entry.offer.expires or (entry.expected_confirm and now >= entry.confirm_deadline):
                del self._open[key]


@dataclass(slots=True)
class PairingAttempt:
    """The coordinator's side of one try with one typed code."""

    coordinator_key: bytes
    agent_key: bytes
    code: str
    _spake: SPAKE2_A = field(init=False, repr=False)
    message: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        id_coordinator, id_agent = _identities(self.coordinator_key, self.agent_key)
        self._spake = SPAKE2_A(_password(self.code), idA=id_coordinator, idB=id_agent)
        self.message = self._spake.start()

    def finish(self, agent_message: bytes, agent_confirmation: str, *, agent_label: str = "",
               attempts_left: int = 0) -> str:
        """Check the agent's answer; returns the coordinator's confirmation to send.

        Raises PairingCodeWrongError when the agent's confirmation does not match: the code
        was mistyped, or something between the two changed a key. ``attempts_left`` (what
        the agent said) goes into the error's message.
        """
        try:
            shared = self._spake.finish(agent_message)
        except Exception as exc:  # noqa: BLE001 - spake2 raises many kinds for a bad group element
            raise PairingCodeWrongError(f"bad SPAKE2 answer: {exc}", agent=agent_label,
                                        remaining=attempts_left) from None
        expected = _confirmation(_AGENT_CONFIRM_LABEL, shared, self.coordinator_key, self.agent_key)
        if not hmac.compare_digest(expected.encode(), agent_confirmation.encode("ascii", "replace")):
            raise PairingCodeWrongError("the agent's confirmation does not match", agent=agent_label,
                                        remaining=attempts_left)
        return _confirmation(_COORDINATOR_CONFIRM_LABEL, shared, self.coordinator_key, self.agent_key)


#: File in the keys folder where a running agent lists its open codes, for ``sttdesk-agent pairing``.
OPEN_CODES_FILE = "pairing-codes.json"


def write_open_codes(path: Path, offers: list[PairingOffer]) -> None:
    """Record the open codes (mode 0600: a code is a secret until used); no codes removes the file."""
    if not offers:
        path.unlink(missing_ok=True)
        return
    entries = [{"code": o.shown, "coordinator": o.coordinator_name, "fingerprint": fingerprint(o.coordinator_key),
                "expires": o.expires} for o in offers]
    write_private_file(path, json.dumps({"open": entries}, indent=2, ensure_ascii=False) + "\n", replace=True)


def read_open_codes(path: Path, *, now: float | None = None) -> list[dict[str, Any]]:
    """The codes a running agent recorded that have not expired (empty when none or unreadable)."""
    now = time.time() if now is None else now
    try:
        check_private_file(path)
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data["open"]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError, SttdeskError) as exc:
        log.warning("cannot read the open pairing codes in %s: %s", path, exc)
        return []
    return [e for e in entries if isinstance(e, dict) and float(e.get("expires", 0)) > now]
