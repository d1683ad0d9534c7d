"""JSON export in the versioned ``sttdesk.transcript/1`` schema, and reading it back.

The document::

    {
      "schema": "sttdesk.transcript/1",
      "created": "2025-01-31T09:15:00Z",      # when the export was made, UTC
      "file": "meeting.m4a", "duration": 3600.0, "language": "vi", "model": "base-q8_0",
      "complete": true,                        # false: some chunks failed (see gaps)
      "text": "…",                             # all segments' text, for quick use
      "segments": [{"id": 0, "start": 0.0, "end": 4.2, "text": "…", "no_speech_prob": 0.01,
                    "words": [{"start": 0.0, "end": 0.4, "text": "Xin", "probability": 0.93}, …]}, …],
      "gaps": [{"start": 30.0, "end": 54.0, "chunk_index": 1, "error_code": "engine_crashed",
                "message_en": "…", "message_vi": "…"}],
      "dropped": {"phantom_phrase": 2, "repetition": 0, "silence": 1, "no_speech": 0}
    }

Times are seconds on the source file's timeline, rounded to milliseconds.
A later incompatible change gets a new schema number; readers refuse numbers they do not know.
"""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime
from typing import Any

from ..transcript import InvalidTranscriptDataError, Transcript
from .errors import InvalidExportOptionError

SCHEMA = "sttdesk.transcript/1"


def to_json(transcript: Transcript, *, created: datetime | None = None, indent: int | None = 2) -> str:
    """The transcript as a ``sttdesk.transcript/1`` JSON document (UTF-8 text, not escaped)."""
    if created is None:
        created = datetime.now(UTC)
    elif not isinstance(created, datetime):
        raise InvalidExportOptionError("created must be a datetime", format="JSON")
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)  # naive times are taken as UTC
    if indent is not None and (not isinstance(indent, int) or indent < 0):
        raise InvalidExportOptionError("indent must be a whole number >= 0, or None", format="JSON")
    body = transcript.to_dict()
    segments = body.pop("segments")
    document: dict[str, Any] = {
        "schema": SCHEMA,
        "created": created.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        **body,
        "text": transcript.text,
        "segments": [{"id": number, **segment} for number, segment in enumerate(segments)],
    }
    document["gaps"] = document.pop("gaps")
    document["dropped"] = document.pop("dropped")
    text = json.dumps(document, ensure_ascii=False, indent=indent, allow_nan=False)
    return unicodedata.normalize("NFC", text) + "\n"


def from_json(text: str) -> Transcript:
    """Read a ``sttdesk.transcript/1`` document; anything else raises InvalidTranscriptDataError."""
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, TypeError) as exc:
        raise InvalidTranscriptDataError(f"not JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise InvalidTranscriptDataError("the document is not a JSON object")
    schema = document.get("schema")
    if schema != SCHEMA:
        raise InvalidTranscriptDataError(f"unsupported schema {schema!r}; this version reads {SCHEMA!r}")
    return Transcript.from_dict(document)
