"""Issue #5's office: a coordinator and three agent PCs in network namespaces on one bridge.

The coordinator finds the agents through zeroconf, pairs with pc1 and pc2 the
way a user does (the code each agent shows is read with ``sttdesk-agent
pairing`` on that PC and typed in: pc1 in the app, pc2 with ``sttdesk agents
pair pc2`` beside it), works only with those it trusts (pc3 is
not paired: it is listed but gets no audio), gives pc2 the
model it lacks, and transcribes a real recording with real whisper.cpp on
both trusted agents. Then pc2's cable is pulled while it holds a chunk: the
job completes on pc1 with every chunk done, and pc2 rejoins when its cable is
back. Last, pc1 restarts on a new address and the coordinator follows it, and
the coordinator itself restarts and the agents serve it again.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from sttdesk.domain.textnorm import normalize_words

from .lanlib import CoordinatorDriver, child_env, start_agent
from .netns import OfficeLan

pytestmark = pytest.mark.usefixtures("needs_netns")

MODEL = "base-q8_0"
#: LibriSpeech clips joined with pauses into one recording of about 2 minutes.
CLIPS = ["103-1240-0000.flac", "1081-125237-0000.flac", "2817-142371-0000.flac", "4051-10927-0000.flac",
         "163-121908-0000.flac", "2159-179154-0000.flac", "2182-150130-0000.flac", "248-130644-0000.flac",
         "2289-152253-0000.flac", "307-127535-0000.flac"]
PAUSE_SECONDS = 1.6
SAMPLE_RATE = 16000
DISCOVERY_TIMEOUT = 45.0
#: Generous: whisper on one thread, on a machine other tests share.
JOB_TIMEOUT = 600.0
#: Missed heartbeats (3 x 1 s) plus the coordinator's loop.
LOSS_TIMEOUT = 30.0
REJOIN_TIMEOUT = 60.0
#: Bound on an app following a trust list changed by another process (it re-reads it every second).
REVOKE_TIMEOUT = 15.0
#: Bound on the CLI finding an agent and the agent opening a pairing code.
CODE_TIMEOUT = 60.0
#: Word overlap the whole transcript must reach against the joined references.
MIN_RECALL = 0.8


def decode(path: Path) -> np.ndarray:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1", "-ar",
                          str(SAMPLE_RATE), "-"], capture_output=True, check=True, timeout=60).stdout
    return np.frombuffer(raw, dtype="<i2")


def build_recording(folder: Path, target: Path) -> str:
    """Join the clips with pauses into ``target`` (wav); returns the joined reference text."""
    refs = dict(line.split("\t", 1) for line in (folder / "transcripts.tsv").read_text().splitlines()
                if "\t" in line)
    pause = np.zeros(int(PAUSE_SECONDS * SAMPLE_RATE), dtype="<i2")
    parts: list[np.ndarray] = []
    for name in CLIPS:
        parts += [decode(folder / name), pause]
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(np.concatenate(parts).tobytes())
    return " ".join(refs[name] for name in CLIPS)


def office_cli(lan: OfficeLan, tmp: Path, *args: str) -> str:
    """``sttdesk ARGS`` run on the office PC (its namespace, its sttdesk folders); returns stdout."""
    environment = [f"{name}={value}" for name, value in child_env(tmp / "office").items()
                   if name.startswith("STTDESK_") or name == "PYTHONPATH"]
    return lan.run("office", ["env", *environment, "STTDESK_NETWORK__DISCOVERY=true",
                              sys.executable, "-m", "sttdesk.cli.main", *args], timeout=60)


def cli_pair(lan: OfficeLan, tmp: Path, agent_host: str) -> str:
    """``sttdesk agents pair AGENT_HOST`` on the office PC, typing the code the agent shows
    (read with ``sttdesk-agent pairing`` on the agent's PC); returns what the CLI printed."""
    environment = child_env(tmp / "office", STTDESK_NETWORK__DISCOVERY="true")
    cli = lan.start("office", [sys.executable, "-m", "sttdesk.cli.main", "agents", "pair", agent_host,
                               "--browse-seconds", "15"],
                    env=environment, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                    text=True)
    deadline = time.monotonic() + CODE_TIMEOUT
    codes: list[str] = []
    while not codes and time.monotonic() < deadline and cli.process.poll() is None:
        shown = lan.run(agent_host, [sys.executable, "-m", "sttdesk.agent.main", "pairing",
                                     "--data-dir", str(tmp / agent_host / "data")])
        codes = re.findall(r"^code (\S+)", shown, re.MULTILINE)
        time.sleep(0.5)
    try:
        said, _ = cli.process.communicate(f"{codes[0]}\n" if codes else "\n", timeout=CODE_TIMEOUT)
    except subprocess.TimeoutExpired:
        cli.process.kill()
        said, _ = cli.process.communicate()
    assert codes and cli.process.returncode == 0, said
    return said


def recall(reference: str, hypothesis: str) -> float:
    """Share of the reference's words found in the hypothesis (as a multiset)."""
    want = normalize_words(reference)
    have: dict[str, int] = {}
    for word in normalize_words(hypothesis):
        have[word] = have.get(word, 0) + 1
    hits = 0
    for word in want:
        if have.get(word, 0) > 0:
            have[word] -= 1
            hits += 1
    return hits / len(want)


def test_office_lan_discovers_provisions_survives_a_cut_link_and_follows_agents(
        tmp_path: Path, real_models_dir: Path) -> None:
    if not (real_models_dir / "manifest.json").is_file() or MODEL not in (real_models_dir / "manifest.json"
                                                                          ).read_text():
        pytest.skip(f"the {MODEL} model is not installed in {real_models_dir}")
    recording = tmp_path / "meeting.wav"
    reference = build_recording(Path(__file__).resolve().parents[1] / "data" / "en", recording)
    whisper = ("--slots", "1", "--threads", "1")
    manifest = (real_models_dir / "manifest.json").read_text()
    sha256 = json.loads(manifest)["models"][MODEL]["sha256"]

    with OfficeLan(["office", "pc1", "pc2", "pc3"]) as lan:
        # pc1 has the model; pc2 has none (the coordinator provisions it); pc3 is not paired.
        pc1 = start_agent(lan, "pc1", tmp_path, *whisper, "--models-dir", str(real_models_dir), agent_id="pc1")
        pc2 = start_agent(lan, "pc2", tmp_path, *whisper, "--models-dir", str(tmp_path / "pc2" / "models"),
                          agent_id="pc2")
        start_agent(lan, "pc3", tmp_path, "--engine", "fake", "--fake-model", f"{MODEL}:{sha256}",
                    agent_id="pc3")
        office = CoordinatorDriver(lan, "office", tmp_path / "office", tmp_path, models_dir=real_models_dir)
        try:
            found = {i: office.event("agent_found", lambda d, i=i: d["agent_id"] == i, timeout=DISCOVERY_TIMEOUT)
                     for i in ("pc1", "pc2", "pc3")}
            # Nobody is paired yet: every agent is listed, none is connected.
            assert {i: d["trusted"] for i, d in found.items()} == {"pc1": False, "pc2": False, "pc3": False}
            assert found["pc2"]["endpoint"] == f"tcp://{lan.host('pc2').address}:7878"
            assert found["pc2"]["models"] == [] and MODEL in found["pc1"]["models"]
            assert all(found[i]["public_key"] for i in found)  # the announcement carries the CURVE key
            # Pair pc1 in the app (core.agents.pair, by its id) with the code it shows.
            paired = office.pair(lan, "pc1", "pc1")
            assert (paired["agent_id"], paired["already_paired"]) == ("pc1", False)
            assert paired["fingerprint"] == found["pc1"]["fingerprint"]
            # Pair pc2 with the CLI beside the running app, by its name: the CLI finds it on the
            # LAN, takes its key from the announcement, and the app follows the trust list.
            said = cli_pair(lan, tmp_path, "pc2")
            assert "are now paired" in said and found["pc2"]["fingerprint"] in said, said
            for agent_id in ("pc1", "pc2"):
                office.event("agent_seen", lambda d, i=agent_id: d["agent_id"] == i, timeout=DISCOVERY_TIMEOUT)
            listed = {f["details"]["agent_id"]: f["trusted"] for f in office.call("found")}
            assert listed == {"pc1": True, "pc2": True, "pc3": False}
            # The CLI on the same PC browses the LAN itself and shows the same picture, with fingerprints.
            listing = office_cli(lan, tmp_path, "agents", "list", "--browse-seconds", "5")
            rows = {line.split()[0]: line for line in listing.splitlines() if line.startswith("  pc")}
            assert "trusted" in rows["pc1"] and "trusted" in rows["pc2"] and "NOT PAIRED" in rows["pc3"], listing
            assert found["pc3"]["fingerprint"] in rows["pc3"], listing

            job_id = office.call("add_job", path=str(recording), language="en", model=MODEL)
            # Both agents work on it (pc2 after fetching the model); cut pc2 while it holds a chunk.
            chunks = office.wait_until(
                "chunks", lambda cs: len(cs) >= 4 and {c["done_agent_id"] for c in cs} >= {"pc1", "pc2"}
                and any(c["state"] == "LEASED" and c["lease_agent_id"] == "pc2" for c in cs),
                timeout=JOB_TIMEOUT, what="both agents done with a chunk and pc2 busy", job_id=job_id)
            held = [c["id"] for c in chunks if c["state"] == "LEASED" and c["lease_agent_id"] == "pc2"]
            mark = office.mark()
            lan.cut("pc2")
            office.event("agent_lost", lambda d: d["agent_id"] == "pc2", timeout=LOSS_TIMEOUT, after=mark)

            finished = office.event("job_finished", timeout=JOB_TIMEOUT)
            assert finished["state"] == "COMPLETED", finished
            final = office.call("chunks", job_id=job_id)
            assert all(c["state"] == "DONE" for c in final), final
            by_id = {c["id"]: c for c in final}
            assert all(by_id[i]["done_agent_id"] == "pc1" for i in held)
            assert not any("pc3" in (c["done_agent_id"], c["lease_agent_id"]) for c in final)
            text = office.call("transcript", job_id=job_id)
            assert recall(reference, text) >= MIN_RECALL, text
            assert "fetched" in pc2.log() or (tmp_path / "pc2" / "models" / "manifest.json").is_file()

            # The cable is back: pc2 serves this coordinator again.
            mark = office.mark()
            lan.restore("pc2")
            back = office.event("agent_seen", lambda d: d["agent_id"] == "pc2", timeout=REJOIN_TIMEOUT, after=mark)
            assert back["endpoint"] == f"tcp://{lan.host('pc2').address}:7878"

            # pc1 restarts on a new address: the coordinator follows it there.
            mark = office.mark()
            assert pc1.stop(grace=30) == 0
            new_address = lan.readdress("pc1")
            start_agent(lan, "pc1", tmp_path, *whisper, "--models-dir", str(real_models_dir), agent_id="pc1",
                        log_name="pc1-restarted")
            office.event("agent_seen", lambda d: d["endpoint"] == f"tcp://{new_address}:7878",
                         timeout=DISCOVERY_TIMEOUT, after=mark)
        finally:
            office.stop()

        # The coordinator restarts: the agents, still running, serve the new one.
        # Both sides kept each other's keys: no pairing again.
        again = CoordinatorDriver(lan, "office", tmp_path / "office", tmp_path, log_name="coordinator-2",
                                  models_dir=real_models_dir)
        try:
            for agent_id in ("pc1", "pc2"):
                again.event("agent_seen", lambda d, i=agent_id: d["agent_id"] == i, timeout=DISCOVERY_TIMEOUT)
            # Revoked with the CLI beside the running app: the app drops pc2 at once, keeps pc1.
            mark = again.mark()
            assert "Revoked agent" in office_cli(lan, tmp_path, "agents", "revoke", "pc2")
            again.event("agent_lost", lambda d: d["agent_id"] == "pc2" and d.get("revoked") is True,
                        timeout=REVOKE_TIMEOUT, after=mark)
            again.wait_until("agents", lambda links: {a["agent_id"] for a in links if a["ready"]} == {"pc1"},
                             timeout=REVOKE_TIMEOUT, what="pc2 dropped after its revocation")
            assert {f["details"]["agent_id"]: f["trusted"] for f in again.call("found")}["pc2"] is False
        finally:
            again.stop()
        assert pc2.process.poll() is None
        # The unpaired agent never heard from any coordinator.
        deadline = time.monotonic() + 10
        status = {}
        while time.monotonic() < deadline:
            status = json.loads((tmp_path / "pc3" / "data" / "agent-status.json").read_text())
            if status.get("runtime"):
                break
            time.sleep(0.2)
        assert status["runtime"]["coordinators"] == [] and status["runtime"]["results_sent"] == 0
