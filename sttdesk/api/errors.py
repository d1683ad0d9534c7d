"""Errors of the REST API and the one table that turns every sttdesk error into an HTTP status.

Every error answer has the same JSON shape::

    {"error": {"code": "unsupported_language", "message_en": "...", "message_vi": "...", ...}}

Handlers never pick status codes themselves: they raise a typed error and
:func:`status_for` looks it up in :data:`STATUS_BY_ERROR`, first match wins,
so a new error class gets a sensible status from its base class.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..audio.errors import AudioTooLongError, FfmpegMissingError, FileTooLargeError, InvalidAudioError
from ..domain.errors import PermanentError, SttdeskError, TransientError, UnsupportedLanguageError
from ..domain.exporters.errors import InvalidExportOptionError, UnknownExportFormatError
from ..domain.jobs import IllegalTransitionError
from ..engine.errors import InvalidModelNameError, ModelError, ModelNotInstalledError, UnknownModelError
from ..service.job_service import JobNotFoundError, JobStateError
from ..store.errors import DatabaseLockedError, InvalidStoreValueError, JobStateConflictError, StoreError
from ..store.errors import JobNotFoundError as StoreJobNotFoundError


class ApiError(PermanentError):
    """Base of the errors the REST API raises itself."""

    code = "api_error"
    message_en = "The request failed: {detail}"
    message_vi = "Yêu cầu thất bại: {detail}"


class TokenRequiredError(ApiError):
    """The server needs a bearer token and the request has none."""

    code = "token_required"
    message_en = (
        "This server needs an access token: send the header 'Authorization: Bearer <token>'. "
        "On the server, 'sttdesk serve --show-token' shows it."
    )
    message_vi = (
        "Máy chủ này cần mã truy cập: hãy gửi tiêu đề 'Authorization: Bearer <mã>'. "
        "Trên máy chủ, lệnh 'sttdesk serve --show-token' hiển thị mã này."
    )


class InvalidTokenError(ApiError):
    """The bearer token sent does not match the server's."""

    code = "token_invalid"
    message_en = "The access token is not valid. Check it with 'sttdesk serve --show-token' on the server."
    message_vi = "Mã truy cập không hợp lệ. Hãy kiểm tra bằng lệnh 'sttdesk serve --show-token' trên máy chủ."


class ForeignOriginError(ApiError):
    """A request from a web page of another site, or for another host name, on a server without a token."""

    code = "foreign_origin"
    message_en = (
        "Requests from other web sites or host names ({origin}) are refused. "
        "Call the API from this computer, or send the access token."
    )
    message_vi = (
        "Các yêu cầu từ trang web hoặc tên máy khác ({origin}) bị từ chối. "
        "Hãy gọi API từ chính máy này, hoặc gửi kèm mã truy cập."
    )


class RouteNotFoundError(ApiError):
    """No endpoint answers at this path."""

    code = "not_found"
    message_en = "There is nothing at {path}. The API lives under /api/v1; see /docs."
    message_vi = "Không có gì tại {path}. API nằm dưới /api/v1; xem /docs."


class MethodNotAllowedError(ApiError):
    """The endpoint exists but not with this HTTP method."""

    code = "method_not_allowed"
    message_en = "{method} is not allowed on {path}."
    message_vi = "Không cho phép {method} trên {path}."


class InvalidJobIdError(ApiError):
    """A job id in the path that cannot be a job id (ids are lowercase hexadecimal)."""

    code = "invalid_job_id"
    message_en = "'{job_id}' is not a job id: job ids are hexadecimal (0-9, a-f)."
    message_vi = "'{job_id}' không phải mã công việc: mã công việc là số thập lục phân (0-9, a-f)."


class InvalidRequestError(ApiError):
    """A query parameter or form field has a value the API cannot use."""

    code = "invalid_request"
    message_en = "Invalid request: {detail}"
    message_vi = "Yêu cầu không hợp lệ: {detail}"


class InvalidStatusFilterError(InvalidRequestError):
    """A job status filter names no job status."""

    code = "invalid_status"
    message_en = "Unknown job status '{status}'. Use one of: {allowed}."
    message_vi = "Không có trạng thái công việc '{status}'. Hãy dùng một trong: {allowed}."


class InvalidCallbackUrlError(InvalidRequestError):
    """The webhook address is not an http(s) URL the server can call."""

    code = "invalid_callback_url"
    message_en = "The callback URL '{url}' cannot be used: {detail}. Give a full http:// or https:// address."
    message_vi = (
        "Không dùng được địa chỉ gọi lại '{url}': {detail}. Hãy nhập địa chỉ đầy đủ bắt đầu bằng http:// hoặc https://."
    )


class NotMultipartError(ApiError):
    """The upload was not sent as multipart/form-data."""

    code = "not_multipart"
    message_en = (
        "Send the recording as multipart/form-data with a 'file' field (got '{content_type}'), "
        "e.g. curl -F file=@talk.mp3 -F language=en ..."
    )
    message_vi = (
        "Hãy gửi bản ghi dạng multipart/form-data với trường 'file' (nhận được '{content_type}'), "
        "ví dụ curl -F file=@talk.mp3 -F language=en ..."
    )


class MissingFileError(ApiError):
    """The form holds no 'file' field."""

    code = "missing_file"
    message_en = "The form has no 'file' field: attach the recording as 'file'."
    message_vi = "Biểu mẫu không có trường 'file': hãy đính kèm bản ghi vào trường 'file'."


class UnexpectedFieldError(ApiError):
    """The form holds a field the endpoint does not take, or a field twice."""

    code = "unexpected_field"
    message_en = "Unexpected form field '{field}'. The fields are: {allowed} (each once)."
    message_vi = "Trường biểu mẫu '{field}' không hợp lệ. Các trường là: {allowed} (mỗi trường một lần)."


class MalformedUploadError(ApiError):
    """The multipart body is broken or ended early."""

    code = "malformed_upload"
    message_en = "The upload could not be read: {detail}. Send it again."
    message_vi = "Không đọc được dữ liệu tải lên: {detail}. Hãy gửi lại."


class UploadTooLargeError(ApiError):
    """The uploaded file is bigger than the size limit (found while it streams in)."""

    code = "file_too_large"
    message_en = "The file '{name}' is larger than the limit of {limit}."
    message_vi = "Tệp '{name}' lớn hơn giới hạn {limit}."


class UploadStorageError(TransientError):
    """The upload could not be written to the data folder (disk full, permissions)."""

    code = "upload_storage_failed"
    message_en = "The server could not store the upload ({detail}). Try again later."
    message_vi = "Máy chủ không lưu được tệp tải lên ({detail}). Hãy thử lại sau."


class ResultNotReadyError(ApiError):
    """The transcript was asked for before the job completed."""

    code = "result_not_ready"
    message_en = (
        "Job {job_id} is {status}: its transcript can be downloaded once it is COMPLETED "
        "(add ?partial=true for what is done so far)."
    )
    message_vi = (
        "Công việc {job_id} đang ở trạng thái {status}: chỉ tải được bản chép lời khi đã COMPLETED "
        "(thêm ?partial=true để lấy phần đã xong)."
    )


class InternalServerError(ApiError):
    """An unexpected failure inside the server (details go to the server log only)."""

    code = "internal_error"
    message_en = "An internal error occurred; the server log has the details."
    message_vi = "Đã xảy ra lỗi nội bộ; nhật ký máy chủ có thông tin chi tiết."


class ApiBindError(ApiError):
    """The API server could not listen on the address asked for."""

    code = "api_bind_failed"
    message_en = "The REST API cannot listen on {host}:{port} ({detail}). Choose another port with --port."
    message_vi = "API REST không lắng nghe được trên {host}:{port} ({detail}). Hãy chọn cổng khác bằng --port."


class ApiStartError(ApiError):
    """The API server did not come up."""

    code = "api_start_failed"
    message_en = "The REST API did not start: {detail}"
    message_vi = "API REST không khởi động được: {detail}"


#: Error class -> HTTP status; the first class the error is an instance of wins.
STATUS_BY_ERROR: tuple[tuple[type[SttdeskError], int], ...] = (
    (TokenRequiredError, 401),
    (InvalidTokenError, 401),
    (ForeignOriginError, 403),
    (JobNotFoundError, 404),
    (StoreJobNotFoundError, 404),
    (RouteNotFoundError, 404),
    (MethodNotAllowedError, 405),
    (JobStateError, 409),
    (JobStateConflictError, 409),
    (IllegalTransitionError, 409),
    (ResultNotReadyError, 409),
    (UploadTooLargeError, 413),
    (FileTooLargeError, 413),
    (AudioTooLongError, 413),
    (NotMultipartError, 415),
    (InvalidAudioError, 415),
    (UnsupportedLanguageError, 422),
    (UnknownModelError, 422),
    (ModelNotInstalledError, 422),
    (InvalidModelNameError, 422),
    (UnknownExportFormatError, 422),
    (InvalidExportOptionError, 422),
    (InvalidJobIdError, 422),
    (InvalidRequestError, 422),
    (MissingFileError, 422),
    (UnexpectedFieldError, 422),
    (InvalidStoreValueError, 422),
    (MalformedUploadError, 400),
    (UploadStorageError, 507),
    (FfmpegMissingError, 503),
    # The models the request names exist (checked above): anything else is the server's installation.
    (ModelError, 503),
    (DatabaseLockedError, 503),
    (StoreError, 503),
    (InternalServerError, 500),
    (ApiBindError, 500),
    (ApiStartError, 500),
    (TransientError, 503),
    (PermanentError, 400),
    (SttdeskError, 500),
)

#: Statuses after which a client may simply try again; they get a Retry-After header.
RETRY_AFTER_SECONDS = {503: 5, 507: 60}


def status_for(error: SttdeskError) -> int:
    """The HTTP status that answers ``error``."""
    for cls, status in STATUS_BY_ERROR:
        if isinstance(error, cls):
            return status
    return 500


class PathScrubber:
    """Replaces the server's private folders in messages, so answers never reveal its file layout."""

    def __init__(self, roots: Iterable[tuple[Path, str]]) -> None:
        # Longest first, so a folder inside another is replaced by its own label.
        pairs = [(str(Path(root)), label) for root, label in roots]
        pairs += [(str(Path(root).resolve()), label) for root, label in roots]
        self._pairs = sorted(set(pairs), key=lambda pair: len(pair[0]), reverse=True)

    def __call__(self, text: str) -> str:
        for root, label in self._pairs:
            if root and root in text:
                text = text.replace(root, label)
        return text


def error_payload(error: SttdeskError, *, scrub: PathScrubber | None = None, **extra: Any) -> dict[str, Any]:
    """The JSON body answering ``error``: ``{"error": {code, message_en, message_vi, ...}}``."""
    clean = scrub or (lambda text: text)
    body: dict[str, Any] = {
        "code": error.code,
        "message_en": clean(error.user_message("en")),
        "message_vi": clean(error.user_message("vi")),
        "transient": bool(error.transient),
    }
    body.update(extra)
    return {"error": body}
