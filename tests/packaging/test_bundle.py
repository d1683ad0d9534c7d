"""The PyInstaller bundle, built from this checkout and checked the way a user runs it.

Builds ``sttdesk.spec`` into a temporary folder, then runs ``scripts/check_bundle`` on
the result: the bundled CLI and agent from a folder outside the repository with a
clean environment, ``--version``, and a real transcription of ``jfk.wav`` by the
bundled app talking to its bundled agents (see that script's docstring for every check).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.model, pytest.mark.timeout(2400)]


def test_bundle_builds_and_transcribes_from_outside_the_repository(tmp_path: Path, real_models_dir: Path) -> None:
    pytest.importorskip("PyInstaller", reason="PyInstaller is not installed (pip install -e '.[package]')")
    if not (real_models_dir / "ggml-base-q8_0.bin").exists():
        pytest.skip(f"the default model is not installed in {real_models_dir} (sttdesk models install-default)")
    build = subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
         "--distpath", str(tmp_path / "dist"), "--workpath", str(tmp_path / "build"), "sttdesk.spec"],
        cwd=REPO, capture_output=True, text=True, timeout=1500, check=False,
    )
    assert build.returncode == 0, build.stderr[-4000:]
    bundle = tmp_path / "dist" / "sttdesk"
    assert (bundle / "sttdesk").is_file() and (bundle / "sttdesk-agent").is_file()

    check = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "check_bundle"), str(bundle), "--models-dir", str(real_models_dir)],
        cwd=tmp_path, capture_output=True, text=True, timeout=900, check=False,
    )
    report = check.stdout + check.stderr
    assert check.returncode == 0, report[-6000:]
    assert "checks passed" in report and "FAIL" not in report, report[-3000:]
    # The bundled CLI really transcribed through its bundled agents (not a skipped check).
    assert "the job ran on the CLI's local pool of bundled agents" in report, report[-3000:]
