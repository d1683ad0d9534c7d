"""The pairing exchange without sockets: codes, attempts, expiry, rate limits, swapped keys."""

from __future__ import annotations

import pytest

from sttdesk.security.errors import PairingCodeWrongError, PairingExpiredError, PairingRateLimitedError
from sttdesk.security.keys import generate_keypair
from sttdesk.security.pairing import PairingAttempt, PairingDesk


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


AGENT = generate_keypair()
COORDINATOR = generate_keypair()


def run(desk: PairingDesk, code: str, *, coordinator: bytes = COORDINATOR.public,
        agent_seen: bytes = AGENT.public) -> None:
    """One full try: raises what the coordinator or the agent raises."""
    attempt = PairingAttempt(coordinator_key=coordinator, agent_key=agent_seen, code=code)
    answer, confirm, left = desk.exchange(coordinator, attempt.message)
    try:
        mine = attempt.finish(answer, confirm, attempts_left=left)
    except PairingCodeWrongError:
        desk.confirm(coordinator, "")
        raise
    desk.confirm(coordinator, mine)


def test_the_right_code_pairs_once_and_is_then_used_up() -> None:
    desk = PairingDesk(AGENT.public, clock=Clock())
    offer = desk.request(COORDINATOR.public, "desk")
    assert len(offer.code) == 6 and offer.shown == f"{offer.code[:3]}-{offer.code[3:]}"
    assert desk.request(COORDINATOR.public, "desk") == offer  # asking again shows the same code
    run(desk, offer.shown)
    assert desk.offers() == []
    with pytest.raises(PairingExpiredError):
        run(desk, offer.code)


def test_a_wrong_code_is_refused_and_three_wrong_codes_burn_it() -> None:
    desk = PairingDesk(AGENT.public, clock=Clock())
    offer = desk.request(COORDINATOR.public, "desk")
    wrong = f"{(int(offer.code) + 1) % 10**6:06d}"
    for left in (2, 1):
        with pytest.raises(PairingCodeWrongError) as caught:
            run(desk, wrong)
        assert caught.value.fields["remaining"] == left
    with pytest.raises(PairingCodeWrongError):
        run(desk, wrong)
    # even the right code is worthless now
    with pytest.raises(PairingExpiredError):
        run(desk, offer.code)


def test_a_code_expires() -> None:
    clock = Clock()
    desk = PairingDesk(AGENT.public, clock=clock, code_lifetime=300)
    offer = desk.request(COORDINATOR.public, "desk")
    clock.now += 301
    with pytest.raises(PairingExpiredError):
        run(desk, offer.code)


def test_a_code_is_only_good_for_the_key_it_was_shown_for() -> None:
    desk = PairingDesk(AGENT.public, clock=Clock())
    offer = desk.request(COORDINATOR.public, "desk")
    with pytest.raises(PairingExpiredError):
        run(desk, offer.code, coordinator=generate_keypair().public)


def test_a_man_in_the_middle_with_other_keys_fails_even_knowing_the_code() -> None:
    # The coordinator was given a false agent key: the confirmations bind the keys each side sees.
    desk = PairingDesk(AGENT.public, clock=Clock())
    offer = desk.request(COORDINATOR.public, "desk")
    with pytest.raises(PairingCodeWrongError):
        run(desk, offer.code, agent_seen=generate_keypair().public)


def test_attempts_and_new_codes_are_rate_limited() -> None:
    clock = Clock()
    desk = PairingDesk(AGENT.public, clock=clock, attempts_per_minute=2, codes_per_minute=2)
    desk.request(COORDINATOR.public, "one")
    desk.request(generate_keypair().public, "two")
    with pytest.raises(PairingRateLimitedError) as caught:
        desk.request(generate_keypair().public, "three")
    assert 0 < caught.value.fields["seconds"] <= 61
    for _ in range(2):
        with pytest.raises(PairingCodeWrongError):
            run(desk, "000000" if desk.offers()[0].code != "000000" else "111111")
    with pytest.raises(PairingRateLimitedError):
        run(desk, desk.offers()[0].code)
    clock.now += 61
    run(desk, desk.request(COORDINATOR.public, "one").code)


def test_garbage_instead_of_a_spake2_message_counts_as_a_wrong_code() -> None:
    desk = PairingDesk(AGENT.public, clock=Clock())
    desk.request(COORDINATOR.public, "desk")
    with pytest.raises(PairingCodeWrongError):
        desk.exchange(COORDINATOR.public, b"\x00" * 33)
    with pytest.raises(PairingCodeWrongError):
        desk.exchange(COORDINATOR.public, b"")


def test_the_handshake_watch_reports_garbage_and_failed_handshakes_but_not_good_connections() -> None:
    import zmq

    from sttdesk.agent.transport import HandshakeWatch

    watch = HandshakeWatch()
    # A good connection: accepted, handshake done, later gone: nothing to say.
    assert watch.feed(zmq.EVENT_ACCEPTED, 901) is None
    assert watch.feed(zmq.EVENT_HANDSHAKE_SUCCEEDED, 0) is None
    assert watch.feed(zmq.EVENT_DISCONNECTED, 901) is None
    # Garbage: accepted, then gone without any handshake result.
    assert watch.feed(zmq.EVENT_ACCEPTED, 902) is None
    assert "never completed" in (watch.feed(zmq.EVENT_DISCONNECTED, 902) or "")
    # A wrong key: the failure is reported once, not again when it disconnects.
    assert watch.feed(zmq.EVENT_ACCEPTED, 903) is None
    assert "broke the protocol" in (watch.feed(zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, 0x10000000) or "")
    assert watch.feed(zmq.EVENT_DISCONNECTED, 903) is None
    # Only a bounded number of open handshakes is remembered.
    small = HandshakeWatch(limit=2)
    for fd in (1, 2, 3):
        small.feed(zmq.EVENT_ACCEPTED, fd)
    assert small.feed(zmq.EVENT_DISCONNECTED, 1) is None
    assert small.feed(zmq.EVENT_DISCONNECTED, 3) is not None
