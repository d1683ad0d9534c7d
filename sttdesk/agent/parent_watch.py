"""Local agents end with the app that started them, however the app ends.

The app stops its local pool cleanly when it can; this covers the times it
cannot: SIGKILL, a crash, a session logout that SIGTERMs the app alone. The
agent, started with ``--exit-with-parent PID``, watches that process and exits
as soon as it is gone (its chunks belong to a coordinator that no longer
exists, so there is nothing to hand back). Watching from inside the agent works
in a PyInstaller bundle too and does not depend on which thread of the app
started the agent (Linux's PR_SET_PDEATHSIG fires when the starting *thread*
ends, which a pool restarted from a worker thread would trip over).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

#: How often a POSIX agent checks that its parent is still there (seconds).
POLL_SECONDS = 0.5
#: Exit code of an agent whose parent went away.
EXIT_PARENT_GONE = 3


def watch_parent(pid: int, *, on_gone: Callable[[], None] | None = None,
                 poll_seconds: float = POLL_SECONDS) -> threading.Thread | None:
    """Call ``on_gone`` (default: exit the process at once) when process ``pid`` ends.

    Returns the daemon thread watching, or None when ``pid`` is already gone
    (``on_gone`` has then been called) or cannot be watched on this platform.
    """
    action = on_gone or _exit_now
    if sys.platform == "win32":
        return _watch_windows(pid, action)
    if os.getppid() != pid:  # gone before we looked (we were re-parented), or not our parent
        log.warning("the process that started this agent (pid %d) is gone", pid)
        action()
        return None

    def poll() -> None:
        while True:
            time.sleep(poll_seconds)
            if os.getppid() != pid:
                log.warning("the app that started this agent (pid %d) is gone: stopping", pid)
                action()
                return

    thread = threading.Thread(target=poll, name="parent-watch", daemon=True)
    thread.start()
    return thread


def _exit_now() -> None:
    logging.shutdown()
    os._exit(EXIT_PARENT_GONE)


def _watch_windows(pid: int, action: Callable[[], None]) -> threading.Thread | None:
    import ctypes

    synchronize, infinite = 0x00100000, 0xFFFFFFFF
    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(synchronize, False, pid)
    if not handle:
        log.warning("the process that started this agent (pid %d) is gone", pid)
        action()
        return None

    def wait() -> None:
        kernel32.WaitForSingleObject(handle, infinite)
        log.warning("the app that started this agent (pid %d) is gone: stopping", pid)
        action()

    thread = threading.Thread(target=wait, name="parent-watch", daemon=True)
    thread.start()
    return thread
