"""Read-only views of jobs that front ends show (no store internals leak out)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class JobView:
    """A job as the GUI, CLI and REST API present it."""

    id: str
    name: str
    path: str
    state: str
    language: str
    detected_language: str | None
    model: str
    duration: float | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    chunks_total: int
    chunks_done: int
    chunks_failed: int
    chunks_running: int
    retries: int
    error_code: str | None
    error_en: str | None
    error_vi: str | None
    #: Seconds left, estimated from the pace so far; None before the first chunk.
    eta_seconds: float | None
    #: Seconds since the first chunk was handed out (or the whole run once finished).
    elapsed_seconds: float | None
    #: Names of the agents holding this job's chunks right now.
    agents: tuple[str, ...] = ()

    @property
    def progress(self) -> float:
        """0..1: share of the audio transcribed."""
        return self.chunks_done / self.chunks_total if self.chunks_total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "language": self.language,
            "detected_language": self.detected_language,
            "model": self.model,
            "duration": self.duration,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "progress": {
                "chunks_done": self.chunks_done,
                "chunks_total": self.chunks_total,
                "chunks_failed": self.chunks_failed,
                "chunks_running": self.chunks_running,
                "fraction": round(self.progress, 4),
            },
            "retries": self.retries,
            "error": None if not self.error_code else {
                "code": self.error_code, "message_en": self.error_en, "message_vi": self.error_vi,
            },
            "eta_seconds": self.eta_seconds,
            "elapsed_seconds": self.elapsed_seconds,
            "agents": list(self.agents),
        }
