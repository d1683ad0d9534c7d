"""The development recordings the accuracy figures are measured on: ``../shared/audio/dev/{en,vi}``.

English: LibriSpeech, LibriVox and jfk.wav (CC BY 4.0 / public domain), 36
utterances, 7.6 min. Vietnamese: VIVOS speaker VIVOSSPK01 (CC BY-NC-SA 4.0:
internal evaluation only, never copied into the repository), 42 utterances,
2.7 min. Each folder has ``transcripts.tsv`` (file, reference) and SOURCES.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sttdesk.audio.decode import SAMPLE_RATE, load_audio

REPO_ROOT = Path(__file__).resolve().parent.parent
DEV_DIR = REPO_ROOT.parent / "shared" / "audio" / "dev"
LANGUAGES = ("en", "vi")


@dataclass(frozen=True)
class Utterance:
    """One recording with what is said in it."""

    name: str
    #: float32 16 kHz mono.
    samples: np.ndarray
    reference: str

    @property
    def seconds(self) -> float:
        return self.samples.size / SAMPLE_RATE


def dev_folder(language: str) -> Path:
    folder = DEV_DIR / language
    if not (folder / "transcripts.tsv").is_file():
        raise SystemExit(f"no dev recordings for {language!r} in {folder} (transcripts.tsv missing)")
    return folder


def load_devset(language: str, *, limit: int | None = None) -> list[Utterance]:
    """The dev utterances of ``language`` in file-name order; the first ``limit`` of them if given."""
    folder = dev_folder(language)
    references: dict[str, str] = {}
    for line in (folder / "transcripts.tsv").read_text(encoding="utf-8").splitlines():
        if "\t" in line:
            name, text = line.split("\t", 1)
            references[name] = text.strip()
    names = sorted(name for name in references if (folder / name).is_file())
    if limit is not None:
        names = names[:limit]
    return [Utterance(name, load_audio(folder / name), references[name]) for name in names]
