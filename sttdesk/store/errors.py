"""Errors of the job store, and the translation of SQLite failures into them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..domain.errors import PermanentError, SttdeskError, TransientError

# SQLite primary result codes (https://sqlite.org/rescode.html); extended codes
# carry the primary one in their low byte.
_SQLITE_CORRUPT = 11
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_READONLY = 8
_SQLITE_IOERR = 10
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14
_SQLITE_NOTADB = 26


class StoreError(SttdeskError):
    """Base of every error raised by :mod:`sttdesk.store`."""

    code = "store_error"
    message_en = "The job database failed: {detail}"
    message_vi = "Cơ sở dữ liệu công việc gặp lỗi: {detail}"


class JobNotFoundError(StoreError, PermanentError):
    """No job has the given id."""

    code = "job_not_found"
    message_en = "There is no job with id '{job_id}'. Run 'sttdesk jobs list' to see the jobs."
    message_vi = "Không có công việc nào mã '{job_id}'. Chạy 'sttdesk jobs list' để xem các công việc."


class AgentNotFoundError(StoreError, PermanentError):
    """No agent has the given id."""

    code = "agent_not_found"
    message_en = "There is no agent with id '{agent_id}'."
    message_vi = "Không có máy xử lý nào mã '{agent_id}'."


class JobStateConflictError(StoreError, PermanentError):
    """The job is in a state that does not allow the requested action."""

    code = "job_state_conflict"
    message_en = "Job '{job_id}' is {state}, so it cannot be {action}."
    message_vi = "Công việc '{job_id}' đang ở trạng thái {state} nên không thể {action_vi}."


class JobAlreadyPlannedError(StoreError, PermanentError):
    """The job was already cut into other chunks than the ones given."""

    code = "job_already_planned"
    message_en = "Job '{job_id}' was already cut into {planned} chunks; it cannot be cut again differently."
    message_vi = "Công việc '{job_id}' đã được chia thành {planned} đoạn; không thể chia lại theo cách khác."


class InvalidStoreValueError(StoreError, PermanentError):
    """A value handed to the store is malformed or out of range."""

    code = "invalid_store_value"
    message_en = "Invalid {field}: {detail}"
    message_vi = "Giá trị {field} không hợp lệ: {detail}"


class DatabaseLockedError(StoreError, TransientError):
    """Another program held the database longer than the busy timeout."""

    code = "database_locked"
    transient = True
    message_en = (
        "The job database '{path}' is busy (another sttdesk program is writing to it) "
        "and did not answer within {seconds:.0f} s. Try again in a moment."
    )
    message_vi = (
        "Cơ sở dữ liệu công việc '{path}' đang bận (một chương trình sttdesk khác đang ghi) "
        "và không phản hồi trong {seconds:.0f} giây. Hãy thử lại sau giây lát."
    )


class DatabaseFullError(StoreError, TransientError):
    """The disk holding the database is full."""

    code = "database_disk_full"
    transient = True
    message_en = "The disk holding the job database '{path}' is full. Free some space and try again."
    message_vi = "Ổ đĩa chứa cơ sở dữ liệu công việc '{path}' đã đầy. Hãy giải phóng bớt dung lượng rồi thử lại."


class DatabaseUnavailableError(StoreError, PermanentError):
    """The database file cannot be opened, read or written (permissions, damage, I/O errors)."""

    code = "database_unavailable"
    message_en = "Cannot use the job database '{path}': {detail}"
    message_vi = "Không dùng được cơ sở dữ liệu công việc '{path}': {detail}"


class NotAStoreFileError(DatabaseUnavailableError):
    """The file exists but is not an sttdesk job database."""

    code = "not_a_job_database"
    message_en = "'{path}' is not an sttdesk job database ({detail}); it was left untouched."
    message_vi = "'{path}' không phải cơ sở dữ liệu công việc của sttdesk ({detail}); tệp được giữ nguyên."


class SchemaTooNewError(StoreError, PermanentError):
    """The database was written by a newer sttdesk than this one."""

    code = "schema_too_new"
    message_en = (
        "The job database '{path}' was written by a newer version of sttdesk (schema {found}; "
        "this version knows up to {supported}). Update sttdesk; the file was left untouched."
    )
    message_vi = (
        "Cơ sở dữ liệu công việc '{path}' được tạo bởi phiên bản sttdesk mới hơn (lược đồ {found}; "
        "phiên bản này chỉ hỗ trợ đến {supported}). Hãy cập nhật sttdesk; tệp được giữ nguyên."
    )


def translate_sqlite_error(error: BaseException, *, path: Path | str, busy_timeout: float) -> StoreError:
    """The StoreError a user should see for a failure of SQLite (raw or wrapped by SQLAlchemy)."""
    raw = getattr(error, "orig", None) or error
    detail = str(raw).strip() or type(raw).__name__
    code = getattr(raw, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    lowered = detail.lower()
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED) or "database is locked" in lowered:
        return DatabaseLockedError(detail, path=str(path), seconds=busy_timeout)
    if primary == _SQLITE_FULL or "disk is full" in lowered:
        return DatabaseFullError(detail, path=str(path))
    if primary in (_SQLITE_CANTOPEN, _SQLITE_NOTADB, _SQLITE_CORRUPT, _SQLITE_READONLY, _SQLITE_IOERR):
        return DatabaseUnavailableError(detail, path=str(path))
    if isinstance(raw, sqlite3.DatabaseError) and "not a database" in lowered:
        return DatabaseUnavailableError(detail, path=str(path))
    return StoreError(detail)
