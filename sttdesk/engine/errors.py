"""Errors of the engine package: models (catalog, store, download, conversion) and the engine child."""

from __future__ import annotations

from ..domain.errors import PermanentError, SttdeskError, TransientError


class EngineError(SttdeskError):
    """Base of every error raised by :mod:`sttdesk.engine`."""

    code = "engine_error"


# --- models -----------------------------------------------------------------


class ModelError(EngineError, PermanentError):
    """Base of model problems; permanent unless a subclass says otherwise."""

    code = "model_error"
    message_en = "Model problem: {detail}"
    message_vi = "Lỗi mô hình: {detail}"


class UnknownModelError(ModelError):
    """The model name is neither installed nor in the catalog."""

    code = "unknown_model"
    message_en = "Unknown model '{name}'. Run 'sttdesk models list' to see the models you can use."
    message_vi = "Không có mô hình '{name}'. Chạy 'sttdesk models list' để xem các mô hình có thể dùng."


class ModelNotInstalledError(ModelError):
    """The model is known but its file is not on this machine."""

    code = "model_unavailable"
    message_en = "Model '{name}' is not installed. Install it with 'sttdesk models install {name}'."
    message_vi = "Mô hình '{name}' chưa được cài. Cài bằng lệnh 'sttdesk models install {name}'."


class InvalidModelNameError(ModelError):
    """A model name that cannot name a model file (empty, path separators, odd characters)."""

    code = "invalid_model_name"
    message_en = (
        "'{name}' is not a valid model name: use letters, digits, '.', '-' and '_' "
        "(at most 100 characters, starting with a letter or digit)."
    )
    message_vi = (
        "'{name}' không phải tên mô hình hợp lệ: chỉ dùng chữ, số, '.', '-' và '_' "
        "(tối đa 100 ký tự, bắt đầu bằng chữ hoặc số)."
    )


class ModelExistsError(ModelError):
    """A different model is already installed under the name being imported."""

    code = "model_exists"
    message_en = (
        "A different model named '{name}' is already installed. Remove it first or choose another name."
    )
    message_vi = "Đã có một mô hình khác tên '{name}'. Hãy xoá nó trước hoặc chọn tên khác."


class CorruptModelError(ModelError):
    """A model file is damaged: wrong header, truncated, or its checksum does not match."""

    code = "corrupt_model"
    message_en = "The model file '{path}' is damaged ({detail}). Remove it and install it again."
    message_vi = "Tệp mô hình '{path}' bị hỏng ({detail}). Hãy xoá và cài lại."


class ChecksumMismatchError(CorruptModelError):
    """A downloaded or joined file does not have the expected sha256."""

    code = "checksum_mismatch"
    message_en = "Checksum mismatch for '{path}': expected {expected}, got {actual}."
    message_vi = "Mã kiểm tra của '{path}' không khớp: cần {expected}, nhận được {actual}."


class ConversionError(ModelError):
    """A checkpoint could not be converted or quantized to ggml."""

    code = "conversion_failed"
    message_en = "Could not convert the model: {detail}"
    message_vi = "Không chuyển đổi được mô hình: {detail}"


class DownloadError(ModelError):
    """A model download failed for good (404, refused, ...)."""

    code = "download_failed"
    message_en = "Download failed: {detail}"
    message_vi = "Tải xuống thất bại: {detail}"


class NetworkError(DownloadError, TransientError):
    """The network could not be reached; trying again later may work."""

    code = "network_unreachable"
    transient = True
    message_en = "Cannot reach {url}: {detail}. Check the network connection and try again."
    message_vi = "Không kết nối được tới {url}: {detail}. Kiểm tra mạng rồi thử lại."


class DownloadCancelledError(DownloadError):
    """The user cancelled a download; what was fetched is kept so it can resume."""

    code = "download_cancelled"
    message_en = "Download of {url} was cancelled; running it again resumes where it stopped."
    message_vi = "Đã huỷ tải {url}; chạy lại sẽ tải tiếp từ chỗ đã dừng."


class DiskFullError(ModelError, TransientError):
    """There is not enough free disk space to write a file."""

    code = "disk_full"
    transient = True
    message_en = "Not enough disk space in '{path}' ({detail}). Free some space and try again."
    message_vi = "Không đủ dung lượng đĩa tại '{path}' ({detail}). Hãy giải phóng bớt rồi thử lại."


# --- the engine child process -----------------------------------------------


class EngineCrashedError(EngineError, TransientError):
    """The whisper.cpp child process died while working."""

    code = "engine_crashed"
    message_en = "The transcription engine stopped unexpectedly ({detail}); it will be restarted."
    message_vi = "Bộ máy nhận dạng dừng đột ngột ({detail}); nó sẽ được khởi động lại."


class EngineTimeoutError(EngineError, TransientError):
    """The engine took longer than its deadline and was stopped."""

    code = "engine_timeout"
    message_en = "Transcription took longer than {seconds:.0f} s and was stopped; it will be retried."
    message_vi = "Việc nhận dạng quá {seconds:.0f} giây nên đã bị dừng; sẽ thử lại."


class EngineOutOfMemoryError(EngineError, TransientError):
    """The engine ran out of memory; a shorter piece of audio may fit."""

    code = "engine_oom"
    message_en = "The transcription engine ran out of memory; the piece will be split and retried."
    message_vi = "Bộ máy nhận dạng hết bộ nhớ; đoạn âm thanh sẽ được chia nhỏ và thử lại."
