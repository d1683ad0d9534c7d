"""PyInstaller runtime hook: give programs we start the library path the user had.

On Linux the bundle's bootloader puts the bundle's ``_internal`` folder first in
``LD_LIBRARY_PATH`` (keeping the old value in ``LD_LIBRARY_PATH_ORIG``) so that
the frozen Python finds its libraries. Every child inherits that, and ffmpeg,
ffprobe or xdg-open started from the bundle would then load the bundle's copies
of libstdc++, libssl, liblzma... instead of their own: on a newer distribution
they fail with "version `GLIBCXX_3.4.32' not found". The dynamic loader read the
variable once when this process started, so restoring it here changes nothing
for this process; the bundle's own programs (sttdesk-agent, sttdesk-engine) set
it again for themselves through their bootloader.
"""

import os
import sys


def _restore_library_path() -> None:
    if not sys.platform.startswith("linux"):
        return
    original = os.environ.pop("LD_LIBRARY_PATH_ORIG", None)
    if original is not None:
        os.environ["LD_LIBRARY_PATH"] = original
    else:
        os.environ.pop("LD_LIBRARY_PATH", None)


_restore_library_path()
