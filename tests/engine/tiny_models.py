"""Tiny random-weight Whisper models written by the tests themselves, in several layouts.

The weights follow OpenAI's PyTorch names and layouts; helpers lay them out the way
CTranslate2 (``model.bin``, fused projections) and Hugging Face transformers
(``model.safetensors``) store them. The vocabulary has Whisper's real size and special
tokens, because whisper.cpp addresses those tokens by fixed ids.
"""

from __future__ import annotations

import contextlib
import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class TinyDims:
    """Shape of a tiny Whisper: real vocabulary and context sizes, very few small layers."""

    n_state: int = 64
    n_head: int = 2
    n_audio_layer: int = 2
    n_text_layer: int = 2
    n_mels: int = 80
    n_vocab: int = 51865
    n_audio_ctx: int = 1500
    n_text_ctx: int = 448


TINY = TinyDims()

_LANGUAGES = (  # noqa: SIM905 - Whisper's 99 language codes, in token order
    "en zh de es ru ko fr ja pt tr pl ca nl ar sv it id hi fi vi he uk el ms cs ro da hu ta no th ur hr bg lt la "
    "mi ml cy sk te fa lv bn sr az sl kn et mk br eu is hy ne mn bs kk sq sw gl mr pa si km sn yo so af oc ka be "
    "tg sd gu am yi lo uz fo ht ps tk nn mt sa lb my bo tl mg as tt haw ln ha ba jw su"
).split()

#: (token, raw bytes) pairs placed in the tiny vocabulary, to check the byte decoding.
KNOWN_TOKENS = {
    300: ("Ġthe", b" the"),
    301: ("Ġcountry", b" country"),
    302: ("Ã©", "é".encode()),
    303: ("ĊĊ", b"\n\n"),
    304: ("ĠViá»ĩt", " Việt".encode()),
}


def _gpt2_byte_chars() -> list[str]:
    keep = [*range(33, 127), *range(161, 173), *range(174, 256)]
    chars = {b: chr(b) for b in keep}
    extra = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def whisper_vocabulary(n_vocab: int = TINY.n_vocab) -> list[str]:
    """A full-size multilingual Whisper vocabulary (made-up text tokens, real special tokens)."""
    text = _gpt2_byte_chars() + [f"w{i}" for i in range(256, 50257)]
    for index, (token, _) in KNOWN_TOKENS.items():
        text[index] = token
    text[50256] = ""  # the multilingual vocabulary really has an empty token here
    special = ["<|endoftext|>", "<|startoftranscript|>", *(f"<|{code}|>" for code in _LANGUAGES)]
    special += ["<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nocaptions|>"]
    special += ["<|notimestamps|>", *(f"<|{i * 0.02:.2f}|>" for i in range(1501))]
    tokens = text + special
    assert len(tokens) == n_vocab, len(tokens)
    return tokens


def openai_weights(dims: TinyDims = TINY, seed: int = 0) -> dict[str, np.ndarray]:
    """Random float32 weights under OpenAI Whisper's names and layouts (no key biases)."""
    rng = np.random.default_rng(seed)
    s = dims.n_state

    def w(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.05).astype(np.float32)

    def ones_ish(n: int) -> np.ndarray:
        return (1.0 + rng.standard_normal(n) * 0.05).astype(np.float32)

    out: dict[str, np.ndarray] = {
        "encoder.conv1.weight": w(s, dims.n_mels, 3),
        "encoder.conv1.bias": w(s),
        "encoder.conv2.weight": w(s, s, 3),
        "encoder.conv2.bias": w(s),
        "encoder.positional_embedding": w(dims.n_audio_ctx, s),
        "encoder.ln_post.weight": ones_ish(s),
        "encoder.ln_post.bias": w(s),
        "decoder.token_embedding.weight": w(dims.n_vocab, s),
        "decoder.positional_embedding": w(dims.n_text_ctx, s),
        "decoder.ln.weight": ones_ish(s),
        "decoder.ln.bias": w(s),
    }

    def attention(prefix: str) -> None:
        for part in ("query", "key", "value", "out"):
            out[f"{prefix}.{part}.weight"] = w(s, s)
            if part != "key":
                out[f"{prefix}.{part}.bias"] = w(s)

    def block(prefix: str, cross: bool) -> None:
        attention(f"{prefix}.attn")
        out[f"{prefix}.attn_ln.weight"], out[f"{prefix}.attn_ln.bias"] = ones_ish(s), w(s)
        if cross:
            attention(f"{prefix}.cross_attn")
            out[f"{prefix}.cross_attn_ln.weight"], out[f"{prefix}.cross_attn_ln.bias"] = ones_ish(s), w(s)
        out[f"{prefix}.mlp.0.weight"], out[f"{prefix}.mlp.0.bias"] = w(4 * s, s), w(4 * s)
        out[f"{prefix}.mlp.2.weight"], out[f"{prefix}.mlp.2.bias"] = w(s, 4 * s), w(s)
        out[f"{prefix}.mlp_ln.weight"], out[f"{prefix}.mlp_ln.bias"] = ones_ish(s), w(s)

    for i in range(dims.n_audio_layer):
        block(f"encoder.blocks.{i}", cross=False)
    for i in range(dims.n_text_layer):
        block(f"decoder.blocks.{i}", cross=True)
    return out


# --- CTranslate2 ----------------------------------------------------------------------

_CT2_DTYPE_IDS = {"float32": 0, "int8": 1, "int16": 2, "int32": 3, "float16": 4}


def _ct2_string(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return struct.pack("<H", len(raw)) + raw


def ct2_variables(weights: dict[str, np.ndarray], dims: TinyDims = TINY) -> dict[str, np.ndarray]:
    """The weights under CTranslate2's WhisperSpec names, attention projections fused."""
    v: dict[str, np.ndarray] = {}
    zeros = np.zeros(dims.n_state, dtype=np.float32)

    def linear(dst: str, src: str) -> None:
        v[f"{dst}/weight"] = weights[f"{src}.weight"]
        v[f"{dst}/bias"] = weights[f"{src}.bias"]

    def norm(dst: str, src: str) -> None:
        v[f"{dst}/gamma"], v[f"{dst}/beta"] = weights[f"{src}.weight"], weights[f"{src}.bias"]

    def fused(dst: str, src: str, parts: tuple[str, ...]) -> None:
        v[f"{dst}/weight"] = np.concatenate([weights[f"{src}.{p}.weight"] for p in parts])
        v[f"{dst}/bias"] = np.concatenate([zeros if p == "key" else weights[f"{src}.{p}.bias"] for p in parts])

    def mlp(dst: str, src: str) -> None:
        norm(f"{dst}/ffn/layer_norm", f"{src}.mlp_ln")
        linear(f"{dst}/ffn/linear_0", f"{src}.mlp.0")
        linear(f"{dst}/ffn/linear_1", f"{src}.mlp.2")

    linear("encoder/conv1", "encoder.conv1")
    linear("encoder/conv2", "encoder.conv2")
    v["encoder/position_encodings/encodings"] = weights["encoder.positional_embedding"]
    norm("encoder/layer_norm", "encoder.ln_post")
    v["encoder/num_heads"] = np.array(dims.n_head, dtype=np.int16)
    for i in range(dims.n_audio_layer):
        dst, src = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        norm(f"{dst}/self_attention/layer_norm", f"{src}.attn_ln")
        fused(f"{dst}/self_attention/linear_0", f"{src}.attn", ("query", "key", "value"))
        linear(f"{dst}/self_attention/linear_1", f"{src}.attn.out")
        mlp(dst, src)
    v["decoder/embeddings/weight"] = weights["decoder.token_embedding.weight"]
    v["decoder/position_encodings/encodings"] = weights["decoder.positional_embedding"]
    norm("decoder/layer_norm", "decoder.ln")
    v["decoder/num_heads"] = np.array(dims.n_head, dtype=np.int16)
    v["decoder/pre_norm"] = np.array(1, dtype=np.int8)
    for i in range(dims.n_text_layer):
        dst, src = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        norm(f"{dst}/self_attention/layer_norm", f"{src}.attn_ln")
        fused(f"{dst}/self_attention/linear_0", f"{src}.attn", ("query", "key", "value"))
        linear(f"{dst}/self_attention/linear_1", f"{src}.attn.out")
        norm(f"{dst}/attention/layer_norm", f"{src}.cross_attn_ln")
        linear(f"{dst}/attention/linear_0", f"{src}.cross_attn.query")
        fused(f"{dst}/attention/linear_1", f"{src}.cross_attn", ("key", "value"))
        linear(f"{dst}/attention/linear_2", f"{src}.cross_attn.out")
        mlp(dst, src)
    return v


def write_ct2_model(
    folder: Path,
    weights: dict[str, np.ndarray],
    dims: TinyDims = TINY,
    *,
    dtype: str = "float16",
    vocabulary: str = "vocabulary.txt",
    binary_version: int = 6,
) -> Path:
    """Write a CTranslate2 Whisper model folder (model.bin v6 or v3, config.json, vocabulary).

    ``dtype`` "float16"/"float32" stores the weights as such; "int8" quantizes the 2-D
    weights per row as CTranslate2 does (round(w * 127 / max|row|)) with a ``_scale``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    variables = ct2_variables(weights, dims)
    stored: dict[str, np.ndarray] = {}
    for name, value in sorted(variables.items()):
        if value.ndim == 0:
            stored[name] = value
        elif dtype == "int8" and value.ndim == 2 and name.endswith("/weight"):
            scale = (127.0 / np.abs(value).max(axis=1)).astype(np.float32)
            stored[name] = np.rint(value * scale[:, None]).astype(np.int8)
            stored[name + "_scale"] = scale
        elif dtype == "float32":
            stored[name] = value.astype(np.float32)
        else:
            stored[name] = value.astype(np.float16)
    with open(folder / "model.bin", "wb") as out:
        out.write(struct.pack("<I", binary_version))
        out.write(_ct2_string("WhisperSpec") + struct.pack("<I", 3))
        out.write(struct.pack("<I", len(stored)))
        for name, value in stored.items():
            out.write(_ct2_string(name) + struct.pack("<B", value.ndim))
            out.write(struct.pack(f"<{value.ndim}I", *value.shape))
            if binary_version >= 4:
                out.write(struct.pack("<BI", _CT2_DTYPE_IDS[value.dtype.name], value.nbytes))
            else:
                out.write(struct.pack("<BI", value.dtype.itemsize, value.size))
            out.write(np.ascontiguousarray(value).tobytes())
        out.write(struct.pack("<I", 1))
        out.write(_ct2_string("decoder/projection/weight") + _ct2_string("decoder/embeddings/weight"))
    (folder / "config.json").write_text(json.dumps({"suppress_ids": [], "suppress_ids_begin": [220, 50257]}))
    tokens = whisper_vocabulary(dims.n_vocab)
    if vocabulary == "vocabulary.txt":
        (folder / "vocabulary.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    elif vocabulary == "vocabulary.json":
        (folder / "vocabulary.json").write_text(json.dumps(tokens), encoding="utf-8")
    elif vocabulary == "tokenizer.json":
        write_tokenizer_json(folder / "tokenizer.json", tokens)
    return folder


def write_tokenizer_json(path: Path, tokens: list[str]) -> None:
    """A minimal Hugging Face tokenizer.json: BPE vocabulary up to <|endoftext|>, the rest added tokens."""
    eot = tokens.index("<|endoftext|>")
    data = {
        "version": "1.0",
        "added_tokens": [{"id": i, "content": t, "special": True} for i, t in enumerate(tokens) if i >= eot],
        "model": {"type": "BPE", "vocab": {t: i for i, t in enumerate(tokens[: eot + 1])}, "merges": []},
    }
    path.write_text(json.dumps(data), encoding="utf-8")


# --- Hugging Face transformers ----------------------------------------------------------------


_HF_BLOCK_PARTS = {
    "attn_ln": "self_attn_layer_norm",
    "cross_attn_ln": "encoder_attn_layer_norm",
    "mlp_ln": "final_layer_norm",
    "mlp.0": "fc1",
    "mlp.2": "fc2",
    **{f"attn.{p}": f"self_attn.{q}_proj" for p, q in (("query", "q"), ("key", "k"), ("value", "v"), ("out", "out"))},
    **{
        f"cross_attn.{p}": f"encoder_attn.{q}_proj"
        for p, q in (("query", "q"), ("key", "k"), ("value", "v"), ("out", "out"))
    },
}
_HF_TOP = {
    "encoder.positional_embedding": "encoder.embed_positions.weight",
    "encoder.ln_post.weight": "encoder.layer_norm.weight",
    "encoder.ln_post.bias": "encoder.layer_norm.bias",
    "decoder.positional_embedding": "decoder.embed_positions.weight",
    "decoder.token_embedding.weight": "decoder.embed_tokens.weight",
    "decoder.ln.weight": "decoder.layer_norm.weight",
    "decoder.ln.bias": "decoder.layer_norm.bias",
}


def hf_name(name: str) -> str:
    """transformers' name for an OpenAI Whisper tensor name."""
    parts = name.split(".")
    if parts[1] != "blocks":
        return "model." + _HF_TOP.get(name, name)
    side, index, module, leaf = parts[0], parts[2], ".".join(parts[3:-1]), parts[-1]
    return f"model.{side}.layers.{index}.{_HF_BLOCK_PARTS[module]}.{leaf}"


def hf_state_dict(weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The weights under transformers' WhisperForConditionalGeneration names."""
    return {hf_name(name): value for name, value in weights.items()}


def hf_config(dims: TinyDims = TINY) -> dict[str, object]:
    return {
        "architectures": ["WhisperForConditionalGeneration"],
        "model_type": "whisper",
        "vocab_size": dims.n_vocab,
        "num_mel_bins": dims.n_mels,
        "d_model": dims.n_state,
        "encoder_layers": dims.n_audio_layer,
        "encoder_attention_heads": dims.n_head,
        "decoder_layers": dims.n_text_layer,
        "decoder_attention_heads": dims.n_head,
        "max_source_positions": dims.n_audio_ctx,
        "max_target_positions": dims.n_text_ctx,
        "eos_token_id": 50257,
    }


def _bf16_bytes(value: np.ndarray) -> bytes:
    bits = value.astype(np.float32).view(np.uint32)
    # round to nearest even, as torch does
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype("<u2").tobytes()


def write_safetensors(path: Path, tensors: dict[str, np.ndarray], dtype: str) -> None:
    """A safetensors file written by hand (F32, F16 or BF16) following the published layout."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    blobs = []
    offset = 0
    for name, value in tensors.items():
        if dtype == "bfloat16":
            blob, code = _bf16_bytes(value), "BF16"
        elif dtype == "float16":
            blob, code = value.astype("<f2").tobytes(), "F16"
        else:
            blob, code = value.astype("<f4").tobytes(), "F32"
        header[name] = {"dtype": code, "shape": list(value.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(raw)) + raw)
        for blob in blobs:
            out.write(blob)


def write_hf_checkpoint(
    folder: Path,
    weights: dict[str, np.ndarray],
    dims: TinyDims = TINY,
    *,
    dtype: str = "float32",
    shards: int = 1,
    tokenizer: str = "vocab.json",
    with_proj_out: bool = False,
) -> Path:
    """Write a transformers Whisper checkpoint folder: config.json, safetensors (maybe sharded), vocabulary."""
    folder.mkdir(parents=True, exist_ok=True)
    state = hf_state_dict(weights)
    if with_proj_out:
        state["proj_out.weight"] = state["model.decoder.embed_tokens.weight"]
    (folder / "config.json").write_text(json.dumps(hf_config(dims)))
    names = sorted(state)
    if shards == 1:
        write_safetensors(folder / "model.safetensors", state, dtype)
    else:
        weight_map = {}
        for shard in range(shards):
            file_name = f"model-{shard + 1:05d}-of-{shards:05d}.safetensors"
            part = {n: state[n] for n in names[shard::shards]}
            write_safetensors(folder / file_name, part, dtype)
            weight_map.update({n: file_name for n in part})
        index = {"metadata": {"total_size": 0}, "weight_map": weight_map}
        (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    tokens = whisper_vocabulary(dims.n_vocab)
    eot = tokens.index("<|endoftext|>")
    if tokenizer == "vocab.json":
        (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens[: eot + 1])}))
        (folder / "added_tokens.json").write_text(json.dumps({t: i for i, t in enumerate(tokens) if i > eot}))
    else:
        write_tokenizer_json(folder / "tokenizer.json", tokens)
    return folder


# --- running whisper.cpp --------------------------------------------------------------

_TRANSCRIBE_SCRIPT = r"""
import json, sys
import numpy as np
from pywhispercpp.model import Model

model_path, audio, max_tokens = sys.argv[1], sys.argv[2], int(sys.argv[3])
model = Model(model_path, n_threads=1, print_progress=False, redirect_whispercpp_logs_to=None)
if audio == "-":
    samples = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
else:
    samples = audio
options = dict(language="en", temperature_inc=0.0)
if max_tokens:
    options.update(max_tokens=max_tokens, single_segment=True)
segments = model.transcribe(samples, **options)
print(json.dumps([s.text for s in segments]))
"""


def whisper_cpp_transcribe(model: Path, audio: Path | None = None, *, max_tokens: int = 0) -> str:
    """Load ``model`` in whisper.cpp (pywhispercpp) in a child process and transcribe.

    ``audio`` None means one second of noise. A child process keeps a crash inside
    whisper.cpp from taking the test run down with it; it fails the test instead.
    """
    import subprocess
    import sys

    # pywhispercpp takes a path that does not exist for a model name and downloads it.
    assert Path(model).is_file(), model
    run = subprocess.run(
        [sys.executable, "-c", _TRANSCRIBE_SCRIPT, str(model), str(audio) if audio else "-", str(max_tokens)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, f"whisper.cpp failed on {model} (exit {run.returncode}):\n{run.stderr[-3000:]}"
    return " ".join(t.strip() for t in json.loads(run.stdout.strip().splitlines()[-1]))


# --- a full disk ------------------------------------------------------------------------------


@contextlib.contextmanager
def small_filesystem(folder: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``folder``: a real disk that fills up. Needs root (else skips)."""
    import os
    import subprocess

    import pytest

    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill up needs root")
    folder.mkdir(parents=True, exist_ok=True)
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mount.stderr.decode(errors='replace').strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
