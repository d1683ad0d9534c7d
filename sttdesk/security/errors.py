"""Errors of key files, trust stores and pairing; every one has an English and a Vietnamese message."""

from __future__ import annotations

from ..domain.errors import PermanentError, SttdeskError, TransientError


class SecurityError(SttdeskError):
    """Base of every error raised by :mod:`sttdesk.security`."""

    code = "security_error"


class KeyFileCorruptError(SecurityError, PermanentError):
    """A key or trust file exists but does not hold what it should."""

    code = "key_file_corrupt"
    message_en = (
        "The key file {path} is damaged ({detail}). Move it away and start again to make a new key; "
        "computers that trusted the old key must then be paired again."
    )
    message_vi = (
        "Tệp khóa {path} bị hỏng ({detail}). Hãy chuyển tệp đó đi nơi khác rồi khởi động lại để tạo khóa mới; "
        "các máy đã tin cậy khóa cũ sẽ phải ghép nối lại."
    )


class KeyFileInsecureError(SecurityError, PermanentError):
    """A secret key or trust file may be read or changed by other users of the computer."""

    code = "key_file_insecure"
    message_en = (
        "The file {path} can be read or changed by other users (permissions {mode}, {detail}). "
        "Restrict it, e.g. 'chmod 600 {path}' (and 'chmod 700' on its folder), then start again."
    )
    message_vi = (
        "Người dùng khác có thể đọc hoặc sửa tệp {path} (quyền {mode}, {detail}). "
        "Hãy giới hạn quyền, ví dụ 'chmod 600 {path}' (và 'chmod 700' cho thư mục chứa nó), rồi khởi động lại."
    )


class KeyStoreUnavailableError(SecurityError, PermanentError):
    """The folder for keys or trust lists cannot be created, read or written."""

    code = "key_store_unavailable"
    message_en = "Cannot keep security keys in {path}: {detail}."
    message_vi = "Không thể lưu khóa bảo mật trong {path}: {detail}."


class InvalidPublicKeyError(SecurityError, PermanentError):
    """Text given as a public key is not a 40-character Z85 CURVE key (nor a file holding one)."""

    code = "invalid_public_key"
    message_en = (
        "'{value}' is not a public key: expected 40 Z85 characters, as in the .pub file "
        "sttdesk and sttdesk-agent print with their key ({detail})."
    )
    message_vi = (
        "'{value}' không phải là khóa công khai: cần 40 ký tự Z85, giống trong tệp .pub "
        "mà sttdesk và sttdesk-agent in ra cùng khóa của chúng ({detail})."
    )


class NotPairedError(SecurityError, PermanentError):
    """A peer whose key is not trusted asked for something only paired peers get."""

    code = "not_paired"
    message_en = (
        "This computer is not paired with agent {agent} (key fingerprint {fingerprint}). "
        "Pair it first: 'sttdesk agents pair HOST:PORT', or trust its key with 'sttdesk agents trust'."
    )
    message_vi = (
        "Máy này chưa được ghép nối với máy trạm {agent} (dấu vân tay khóa {fingerprint}). "
        "Hãy ghép nối trước: 'sttdesk agents pair HOST:PORT', hoặc tin cậy khóa bằng 'sttdesk agents trust'."
    )


class PairingCodeWrongError(SecurityError, PermanentError):
    """The pairing code typed by the user does not match the one the agent shows."""

    code = "pairing_code_wrong"
    message_en = (
        "The pairing code does not match the one agent {agent} shows ({remaining} attempt(s) left for this code). "
        "Check the code in the agent's log or 'sttdesk-agent status' and try again."
    )
    message_vi = (
        "Mã ghép nối không khớp với mã máy trạm {agent} hiển thị (còn {remaining} lần thử cho mã này). "
        "Hãy kiểm tra mã trong nhật ký của máy trạm hoặc 'sttdesk-agent status' rồi thử lại."
    )


class PairingExpiredError(SecurityError, PermanentError):
    """The pairing code was used up, expired or never issued; a new one must be requested."""

    code = "pairing_expired"
    message_en = (
        "The pairing code of agent {agent} is no longer valid ({detail}). "
        "Start pairing again to get a new code."
    )
    message_vi = (
        "Mã ghép nối của máy trạm {agent} không còn hiệu lực ({detail}). "
        "Hãy bắt đầu ghép nối lại để nhận mã mới."
    )


class PairingRateLimitedError(SecurityError, TransientError):
    """Too many pairing attempts reached the agent recently; it refuses more for a while."""

    code = "pairing_rate_limited"
    message_en = "Agent {agent} refuses pairing attempts for {seconds} more second(s): too many recent tries."
    message_vi = "Máy trạm {agent} từ chối ghép nối thêm {seconds} giây nữa: đã có quá nhiều lần thử gần đây."


class PairingFailedError(SecurityError, TransientError):
    """Pairing could not be completed: the agent did not answer or refused for another reason."""

    code = "pairing_failed"
    message_en = "Pairing with {agent} failed: {detail}."
    message_vi = "Ghép nối với {agent} không thành công: {detail}."
