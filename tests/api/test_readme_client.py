"""The README's example clients (curl and Python) work as written, against a real ``sttdesk serve``.

The snippets are read from the README itself; only the port and the job id
are filled in (the server listens on a free port, not 8765).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .serve_process import ServeProcess, serve_env

README = Path(__file__).resolve().parents[2] / "README.md"
README_PORT = "8765"
CLIP = "103-1240-0000.flac"


def readme_block(language: str, containing: str) -> str:
    """The README's first ``language`` code block that contains ``containing``."""
    for block in re.findall(rf"```{language}\n(.*?)```", README.read_text(encoding="utf-8"), re.S):
        if containing in block:
            return block
    raise AssertionError(f"README has no {language} block with {containing!r}")


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_readme_curl_and_python_clients_work_as_written(tmp_path: Path, models_dir: Path, en_audio: Path) -> None:
    shutil.copy(en_audio / CLIP, tmp_path / "interview.mp3")  # the README's file name (ffprobe reads the content)
    curl_lines = [line.split("#")[0].strip() for line in readme_block("sh", "curl -F").splitlines()
                  if line.startswith("curl")]
    python_code = readme_block("python", "httpx.Client")
    assert len(curl_lines) == 3 and README_PORT in python_code

    env = serve_env(tmp_path / "home", models_dir)
    with ServeProcess(env, "--engine", "fake", "--agents", "1") as server:
        port = server.url.rsplit(":", 1)[1]

        def curl(line: str, job_id: str = "") -> str:
            args = shlex.split(line.replace(README_PORT, port).replace("JOB_ID", job_id))
            done = subprocess.run([*args, "--silent", "--show-error", "--fail-with-body"], cwd=tmp_path,
                                  capture_output=True, text=True, timeout=120, check=False)
            assert done.returncode == 0, (line, done.stdout, done.stderr)
            return done.stdout

        accepted = json.loads(curl(curl_lines[0]))
        job_id = accepted["job_id"]
        assert accepted["status"] == "PENDING"
        assert json.loads(curl(curl_lines[1], job_id))["job_id"] == job_id

        # the Python client uploads its own job, waits for it and prints the text
        ran = subprocess.run([sys.executable, "-c", python_code.replace(README_PORT, port)], cwd=tmp_path,
                             capture_output=True, text=True, timeout=300, check=False)
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.strip() and not ran.stdout.startswith("failed:")

        curl(curl_lines[2], job_id)  # by now the first job is long done
        assert server.stop() == 0
    subtitles = tmp_path / "interview.srt"  # -OJ keeps the server's file name
    assert subtitles.is_file() and "-->" in subtitles.read_text(encoding="utf-8")
