"""Errors of the audio package: files that cannot be read, decoded or accepted.

Every rejection of a user's file is a permanent error (retrying cannot fix the
file) with a message in English and Vietnamese that names the file. Messages
use ``{name}`` (the file's name, not its whole path) so they read well in a
dialog; ``detail`` carries ffmpeg's own words for the log and the curious.
"""

from __future__ import annotations

from ..domain.errors import PermanentError, SttdeskError, TransientError


class AudioError(SttdeskError):
    """Base of every error raised by :mod:`sttdesk.audio`."""

    code = "audio_error"
    message_en = "Audio problem: {detail}"
    message_vi = "Lỗi âm thanh: {detail}"


class InvalidAudioError(AudioError, PermanentError):
    """Base of the rejections of an input file; retrying never helps."""

    code = "invalid_audio"
    message_en = "The file '{name}' cannot be used: {detail}"
    message_vi = "Không dùng được tệp '{name}': {detail}"


class AudioFileNotFoundError(InvalidAudioError):
    """The input path does not exist."""

    code = "file_not_found"
    message_en = "The file '{name}' was not found. It may have been moved or deleted."
    message_vi = "Không tìm thấy tệp '{name}'. Có thể tệp đã bị di chuyển hoặc xoá."


class AudioFileNotReadableError(InvalidAudioError):
    """The input path exists but is not a regular file we are allowed to read."""

    code = "file_not_readable"
    message_en = "The file '{name}' cannot be opened ({detail}). Check that it is a file and that you may read it."
    message_vi = "Không mở được tệp '{name}' ({detail}). Hãy kiểm tra đó là một tệp và bạn có quyền đọc."


class EmptyAudioError(InvalidAudioError):
    """The file is empty, or its audio stream holds no sound at all."""

    code = "empty_file"
    message_en = "The file '{name}' is empty: it contains no audio."
    message_vi = "Tệp '{name}' trống: không có âm thanh nào."


class FileTooLargeError(InvalidAudioError):
    """The file is bigger than the configured size limit."""

    code = "file_too_large"
    message_en = "The file '{name}' is too large ({size_mb:.0f} MB; the limit is {limit_mb:.0f} MB)."
    message_vi = "Tệp '{name}' quá lớn ({size_mb:.0f} MB; giới hạn là {limit_mb:.0f} MB)."


class AudioTooLongError(InvalidAudioError):
    """The recording lasts longer than the configured duration limit."""

    code = "audio_too_long"
    message_en = "The recording '{name}' is too long ({hours:.1f} h; the limit is {limit_hours:.1f} h)."
    message_vi = "Bản ghi '{name}' quá dài ({hours:.1f} giờ; giới hạn là {limit_hours:.1f} giờ)."


class NoAudioStreamError(InvalidAudioError):
    """The file has no audio stream (a silent video, an image, a document)."""

    code = "no_audio_stream"
    message_en = "The file '{name}' has no sound track, so there is nothing to transcribe."
    message_vi = "Tệp '{name}' không có kênh âm thanh nên không có gì để chuyển thành văn bản."


class UndecodableAudioError(InvalidAudioError):
    """ffmpeg cannot read the file as audio: not a media file, or damaged."""

    code = "undecodable_audio"
    message_en = "The file '{name}' is not a readable audio or video file, or it is damaged."
    message_vi = "Tệp '{name}' không phải tệp âm thanh/video đọc được, hoặc đã bị hỏng."


class UnsupportedFileTypeError(InvalidAudioError):
    """The file's name or declared type is not one of a recording (a document, an image...)."""

    code = "unsupported_file_type"
    message_en = (
        "The file '{name}' is not an audio or video file sttdesk reads ({detail}). "
        "Send a recording such as .mp3, .m4a, .wav, .flac, .ogg or .mp4."
    )
    message_vi = (
        "Tệp '{name}' không phải tệp âm thanh hoặc video mà sttdesk đọc được ({detail}). "
        "Hãy gửi một bản ghi như .mp3, .m4a, .wav, .flac, .ogg hoặc .mp4."
    )


class TruncatedAudioError(UndecodableAudioError):
    """The file ends before the end its header announces (an interrupted copy or recording)."""

    code = "truncated_audio"
    message_en = (
        "The file '{name}' is incomplete: it ends early or its end is damaged ({detail}). "
        "Copy or export it again."
    )
    message_vi = (
        "Tệp '{name}' không đầy đủ: bị cắt cụt hoặc phần cuối bị hỏng ({detail}). "
        "Hãy sao chép hoặc xuất lại tệp."
    )


class FfmpegMissingError(AudioError, PermanentError):
    """ffmpeg or ffprobe is not installed (or not where the settings point)."""

    code = "ffmpeg_missing"
    message_en = (
        "'{tool}' was not found, and sttdesk needs it to read audio and video. Install FFmpeg "
        "(Debian/Ubuntu: 'sudo apt install ffmpeg'; Windows: 'winget install ffmpeg'; macOS: "
        "'brew install ffmpeg'), or set STTDESK_FFMPEG_DIR to the folder that holds it."
    )
    message_vi = (
        "Không tìm thấy '{tool}', mà sttdesk cần nó để đọc âm thanh và video. Hãy cài FFmpeg "
        "(Debian/Ubuntu: 'sudo apt install ffmpeg'; Windows: 'winget install ffmpeg'; macOS: "
        "'brew install ffmpeg'), hoặc đặt STTDESK_FFMPEG_DIR là thư mục chứa nó."
    )


class DecodeCancelledError(AudioError):
    """Decoding was stopped because the job was cancelled; not a failure of the file."""

    code = "decode_cancelled"
    message_en = "Reading '{name}' was cancelled."
    message_vi = "Đã huỷ việc đọc tệp '{name}'."


class DecodeOutputError(AudioError, TransientError):
    """The decoded audio could not be written (disk full, folder gone); may work later."""

    code = "decode_output_failed"
    message_en = "Could not write the decoded audio to '{path}' ({detail}). Free some disk space and try again."
    message_vi = "Không ghi được âm thanh đã giải mã vào '{path}' ({detail}). Hãy giải phóng dung lượng đĩa rồi thử lại."
