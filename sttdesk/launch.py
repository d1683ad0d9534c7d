"""How sttdesk starts its own programs as child processes, from a Python install or a bundle.

From a Python install a child is this interpreter running a module
(``python -m sttdesk.agent.main``). In a PyInstaller bundle ``sys.executable``
is the bundle's own program, which takes no ``-m`` or ``-c``: each child is
then a sibling program of the bundle (``sttdesk-agent``, ``sttdesk-engine``;
see sttdesk.spec).
"""

from __future__ import annotations

import sys
from pathlib import Path

#: The bundle's programs that sttdesk starts itself (without ".exe").
AGENT_PROGRAM = "sttdesk-agent"
ENGINE_PROGRAM = "sttdesk-engine"
#: What a Python install runs instead.
AGENT_MODULE = "sttdesk.agent.main"
ENGINE_CHILD_CODE = (
    "import sys; from sttdesk.engine.process import child_main; sys.exit(child_main(sys.argv[1]))"
)


def is_frozen() -> bool:
    """True inside a PyInstaller bundle."""
    return bool(getattr(sys, "frozen", False))


def bundled_program(name: str) -> Path:
    """The bundle's program ``name``, in the folder of the running one."""
    suffix = ".exe" if sys.platform == "win32" else ""
    return Path(sys.executable).with_name(name + suffix)


def agent_command() -> list[str]:
    """The command that runs ``sttdesk-agent``; its options follow."""
    if is_frozen():
        return [str(bundled_program(AGENT_PROGRAM))]
    return [sys.executable, "-m", AGENT_MODULE]


def engine_child_command() -> list[str]:
    """The command that runs an engine child; its one argument, the JSON settings, follows."""
    if is_frozen():
        return [str(bundled_program(ENGINE_PROGRAM))]
    return [sys.executable, "-c", ENGINE_CHILD_CODE]
