"""The benchmark harness: ``python -m benchmarks --quick`` runs every section and writes a complete report.

Structure only: the quick set's inputs are tiny and the machine is shared, so no
figure is checked against a speed (speed is what the harness reports, not what
tests assert).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.proctree import (
    ROLE_AGENT,
    ROLE_COORDINATOR,
    ROLE_ENGINE,
    ROLE_FFMPEG,
    role_of,
)
from benchmarks.resultfile import FORMAT_VERSION, merge_results, result_path
from benchmarks.sections import load_sections

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The quick set takes under 3 minutes on an idle 2-core PC; this bounds a busy one.
QUICK_RUN_TIMEOUT_SECONDS = 1800
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_every_registered_section_is_complete() -> None:
    sections = load_sections()
    assert {"accuracy", "language", "longform", "hallucination", "pipeline", "scaling", "engine", "chunking",
            "control_plane"} <= set(sections)
    for name, section in sections.items():
        assert section.name == name
        assert section.title and callable(section.run) and callable(section.render)


def test_every_section_of_the_published_results_renders() -> None:
    # the records as the harness saved them (its machine and versions merged in) make their tables
    newest = max((REPO_ROOT / "benchmarks" / "results").glob("20*.json"))
    results = json.loads(newest.read_text(encoding="utf-8"))
    sections = load_sections()
    for name, record in results["sections"].items():
        if "error" in record:
            continue
        text = sections[name].render(record)
        assert text.strip() and "|---" in text, name


def test_result_file_is_named_by_date_and_host() -> None:
    from datetime import datetime

    path = result_path(Path("/r"), datetime(2026, 11, 25, 3, 4), "my host/../x")
    assert path.parent == Path("/r")
    assert re.fullmatch(r"2026-11-25-[A-Za-z0-9._-]+\.json", path.name)
    assert "/" not in path.name.removesuffix(".json")


def test_a_subset_run_keeps_the_other_sections_of_the_day() -> None:
    previous = {"format": FORMAT_VERSION, "quick": False, "started": "t0",
                "sections": {"accuracy": {"rows": [1]}, "pipeline": {"runs": [1]}}}
    run = {"format": FORMAT_VERSION, "quick": False, "started": "t1", "sections": {"pipeline": {"runs": [2]}}}
    merged = merge_results(previous, run)
    assert merged["sections"]["pipeline"] == {"runs": [2]}
    assert merged["sections"]["accuracy"]["rows"] == [1]
    assert merged["sections"]["accuracy"]["carried_over_from"] == "t0"
    # A quick run never mixes with published figures.
    assert merge_results(previous, {**run, "quick": True})["sections"].keys() == {"pipeline"}


def test_processes_are_told_apart_by_their_command_lines() -> None:
    python = sys.executable
    assert role_of(f"{python} -m sttdesk.cli.main transcribe x.wav", is_root=True) == ROLE_COORDINATOR
    assert role_of(f"{python} -m sttdesk.agent.main --host 127.0.0.1", is_root=False) == ROLE_AGENT
    assert role_of("/usr/local/bin/sttdesk-agent --port 0", is_root=False) == ROLE_AGENT
    assert role_of(f"{python} -m sttdesk.engine.process {{}}", is_root=False) == ROLE_ENGINE
    assert role_of("/usr/bin/ffmpeg -i x.mp3", is_root=False) == ROLE_FFMPEG


@pytest.mark.slow
@pytest.mark.model
def test_quick_run_writes_complete_results_and_report(tmp_path: Path, real_models_dir: Path,
                                                      shared_audio: Path) -> None:
    results_dir, docs = tmp_path / "results", tmp_path / "docs" / "benchmarks.md"
    env = dict(os.environ, STTDESK_MODELS_DIR=str(real_models_dir),
               PYTHONPATH=os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p))
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--work-dir", str(tmp_path / "work"),
         "--models-dir", str(real_models_dir), "--results-dir", str(results_dir), "--docs", str(docs)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=QUICK_RUN_TIMEOUT_SECONDS, check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]

    files = list(results_dir.glob("*.json"))
    assert len(files) == 1 and re.fullmatch(r"\d{4}-\d{2}-\d{2}-.+\.json", files[0].name)
    results = json.loads(files[0].read_text(encoding="utf-8"))
    assert results["quick"] is True
    machine, versions = results["machine"], results["versions"]
    assert machine["cpu"] and machine["cores"] >= 1 and machine["memory_gib"] > 0
    assert len(machine["load_average"]) == 3
    for name in ("sttdesk", "pywhispercpp", "whisper.cpp", "faster-whisper", "ctranslate2"):
        assert versions[name], name
    sections = load_sections()
    assert set(results["sections"]) == {name for name, section in sections.items() if section.default}
    for name, record in results["sections"].items():
        assert "error" not in record, f"{name}: {record.get('error')}\n{record.get('traceback')}"
        assert record["wall_s"] >= 0 and len(record["load_average_before"]) == 3
        for model in record["setup"]["models"]:
            assert re.fullmatch(r"[0-9a-f]{64}", model["sha256"]) and model["size"] > 0, (name, model)
    # The figures each table is built from.
    by_language = {row["language"] for row in results["sections"]["accuracy"]["rows"]}
    assert by_language == {"en", "vi"}
    assert all(0 <= row["wer"] <= 2 for row in results["sections"]["accuracy"]["rows"])
    assert any(row["mode"] == "auto (en/vi)" and row["detected"] for row in results["sections"]["language"]["rows"])
    # the language section takes its forced transcripts from the accuracy section of the same run
    forced = [row for row in results["sections"]["accuracy"]["rows"] if "texts" in row]
    assert {row["language"] for row in forced} == {"en", "vi"}
    assert all(row["model"] == "q8_0" and row["decoding"] == "greedy" for row in forced)
    assert all(row["forced_texts_from_accuracy"] for row in results["sections"]["language"]["rows"])
    longform = results["sections"]["longform"]["rows"]
    assert any("word-count merge" in row["method"] for row in longform)
    assert any(row["chunks"] == 1 for row in longform)
    hallucination = results["sections"]["hallucination"]["rows"]
    assert {row["engine"] for row in hallucination} == {"sttdesk", "whisper.cpp", "faster-whisper"}
    assert all(row["phantom_words"] >= 0 for row in hallucination)
    sttdesk_runs = [row for row in results["sections"]["scaling"]["rows"] if row["engine"] == "sttdesk"]
    assert sttdesk_runs and all(row["memory"]["by_role"]["coordinator"]["max_peak_mib"] > 0 for row in sttdesk_runs)
    assert all(row["memory"]["by_role"]["agent"]["processes"] == 2 for row in sttdesk_runs)

    text = docs.read_text(encoding="utf-8")
    assert "Do not edit by hand" in text
    default = {name: section for name, section in sections.items() if section.default}
    for name, section in default.items():
        assert f"## {section.title}" in text, name
    assert "failed in this run" not in text
    for label in ("English WER", "Vietnamese WER", "Speed"):
        assert f"**{label}**" in text
    images = re.findall(r"!\[[^\]]+\]\(([^)]+\.png)\)", text)
    assert len(images) >= len(default)
    for image in images:
        assert (docs.parent / image).read_bytes()[:8] == PNG_MAGIC, image

    # The report is a pure function of the results file.
    again = tmp_path / "again" / "benchmarks.md"
    rebuilt = subprocess.run([sys.executable, "-m", "benchmarks", "--report-only", str(files[0]), "--docs", str(again)],
                             cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    assert again.read_text(encoding="utf-8") == text
