"""Writing an export to disk atomically: readers see the old file or the new one, never half."""

from __future__ import annotations

import errno
import logging
import os
import tempfile
from pathlib import Path

from .errors import ExportDiskFullError, ExportWriteError

log = logging.getLogger(__name__)

#: UTF-8 byte order mark; some Windows subtitle tools need it to read UTF-8 SRT files.
UTF8_BOM = "\ufeff"


def write_text_atomic(path: str | os.PathLike[str], text: str, *, bom: bool = False) -> Path:
    """Write ``text`` as UTF-8 (with a byte order mark if ``bom``) to ``path`` and return it.

    The text goes to a temporary file beside the target, is flushed to disk,
    then renamed over the target, so a crash never leaves a truncated export.
    Missing parent folders are created.
    """
    target = Path(path)
    data = ((UTF8_BOM if bom else "") + text).encode("utf-8")
    temp_name: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "wb", dir=target.parent, prefix=f".{target.name}.", suffix=".part", delete=False
        ) as handle:
            temp_name = handle.name
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, target)
        temp_name = None
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise ExportDiskFullError(str(exc), path=str(target)) from exc
        raise ExportWriteError(exc.strerror or str(exc), path=str(target)) from exc
    finally:
        if temp_name is not None:
            try:
                os.unlink(temp_name)
            except OSError:
                log.warning("could not remove the temporary file %s", temp_name)
    log.debug("wrote %d bytes to %s", len(data), target)
    return target
