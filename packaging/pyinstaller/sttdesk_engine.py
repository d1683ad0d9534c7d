"""Frozen entry point of ``sttdesk-engine``: the whisper.cpp child process of an agent.

From a Python install an agent starts its engine child as
``python -c "...child_main(sys.argv[1])" CONFIG``; a frozen bundle has no
interpreter that takes ``-c``, so the agent starts this sibling program with
the same single argument instead (see sttdesk.spec).
"""

import sys

from sttdesk.engine.process import child_main

#: Exit code for a wrong command line, as argparse uses.
EXIT_USAGE = 2

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.stderr.write(
            "sttdesk-engine runs whisper.cpp for sttdesk-agent, which starts it with its settings;\n"
            "it is not meant to be started by hand.\n"
        )
        sys.exit(EXIT_USAGE)
    sys.exit(child_main(sys.argv[1]))
