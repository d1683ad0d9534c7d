"""Helpers of the REST API tests: real cores, uploads, polling."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sttdesk.app import Core, build_core
from sttdesk.paths import AppPaths
from sttdesk.settings import Settings

DEFAULT_MODEL = "base-q8_0"
#: Deadline for a fake-engine job to finish (decode + one chunk per ~30 s of audio).
JOB_TIMEOUT = 60.0
#: Base URL for in-process clients: a loopback host, as the access guard expects from local callers.
LOCAL_BASE_URL = "http://127.0.0.1"


def make_paths(root: Path, models_dir: Path) -> AppPaths:
    return AppPaths(data_dir=root / "data", models_dir=models_dir, config_dir=root / "config",
                    cache_dir=root / "cache").ensure()


def make_core(root: Path, models_dir: Path, *, agents: int, settings: Settings | None = None,
              engine: str = "fake", agent_args: tuple[str, ...] = ()) -> Core:
    return build_core(paths=make_paths(root, models_dir), settings=settings or Settings(), pool_agents=agents,
                      pool_threads=1, engine=engine, agent_args=agent_args)


def wait_for_agents(core: Core, count: int = 1, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while sum(1 for a in core.coordinator.agents() if a.ready) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"no ready agent after {timeout} s: {core.coordinator.agents()}")
        time.sleep(0.05)


def upload(client: Any, path: Path, *, name: str | None = None, token: str | None = None,
           **fields: str) -> Any:
    """POST ``path`` to /api/v1/jobs as the ``file`` field, with text fields; returns the response."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with open(path, "rb") as handle:
        return client.post("/api/v1/jobs", files={"file": (name or path.name, handle)}, data=fields,
                           headers=headers)


def wait_for_status(client: Any, job_id: str, statuses: tuple[str, ...] = ("COMPLETED", "FAILED"),
                    *, timeout: float = JOB_TIMEOUT, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """Poll the job until its status is one of ``statuses``; returns its last document."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/api/v1/jobs/{job_id}", headers=headers or {})
        assert response.status_code == 200, response.text
        job = response.json()
        if job["status"] in statuses:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job['status']} after {timeout} s: {job}")
        time.sleep(0.1)


def error_of(response: Any) -> dict[str, Any]:
    """The error document of an error answer, checked to have both languages."""
    body = response.json()
    error = body["error"]
    assert error["code"] and error["message_en"] and error["message_vi"], body
    return error


def multipart_body(parts: list[tuple[str, str | None, bytes]], *, boundary: str = "sttdesk-test-boundary"
                   ) -> tuple[bytes, str]:
    """A multipart/form-data body with parts (field name, file name or None, content), in this order."""
    chunks: list[bytes] = []
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        chunks.append(f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode())
        chunks.append(content + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def upload_folders(core: Core) -> list[Path]:
    """The upload folders in the core's data folder."""
    root = core.paths.data_dir / "uploads"
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
