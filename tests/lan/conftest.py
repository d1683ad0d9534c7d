"""The LAN tests need root and ``ip netns``: without them they skip and say why."""

from __future__ import annotations

import pytest

from .netns import unavailable_reason

_reason: str | None = None
_checked = False


def lan_unavailable() -> str | None:
    """Why namespaces cannot be used here (checked once per session), or None."""
    global _reason, _checked
    if not _checked:
        _reason = unavailable_reason()
        _checked = True
    return _reason


@pytest.fixture
def needs_netns() -> None:
    """Skip the test, printing the reason, where network namespaces are unavailable."""
    reason = lan_unavailable()
    if reason:
        print(f"skipping LAN test: {reason}")
        pytest.skip(reason)
