"""Errors of the exporters: unknown formats, bad options, files that cannot be written."""

from __future__ import annotations

from ..errors import PermanentError, TransientError


class UnknownExportFormatError(PermanentError):
    """The requested export format does not exist."""

    code = "unknown_export_format"
    message_en = "Unknown export format '{format}'. Choose one of: {available}."
    message_vi = "Không có định dạng xuất '{format}'. Hãy chọn một trong: {available}."


class InvalidExportOptionError(PermanentError):
    """An export option is unknown to the format or has a value it cannot use."""

    code = "invalid_export_option"
    message_en = "Invalid option for {format} export: {detail}"
    message_vi = "Tuỳ chọn không hợp lệ khi xuất {format}: {detail}"


class ExportWriteError(PermanentError):
    """The exported transcript could not be written to its file."""

    code = "export_write_failed"
    message_en = "Could not write '{path}': {detail}"
    message_vi = "Không ghi được tệp '{path}': {detail}"


class ExportDiskFullError(TransientError):
    """The disk filled up while writing an export; freeing space and retrying helps."""

    code = "disk_full"
    message_en = "Not enough disk space to write '{path}'. Free some space and try again."
    message_vi = "Không đủ dung lượng đĩa để ghi '{path}'. Hãy giải phóng bớt rồi thử lại."
