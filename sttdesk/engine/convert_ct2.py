"""Convert a CTranslate2 (faster-whisper) Whisper model folder to whisper.cpp's ggml format.

A CTranslate2 folder holds ``model.bin``, ``config.json`` and the vocabulary
(``vocabulary.json``, ``vocabulary.txt`` or ``tokenizer.json``). ``model.bin`` is, in
little-endian order::

    u32 binary version (1–6)
    [version ≥ 2] string spec name ("WhisperSpec"), u32 spec revision
    u32 variable count, then per variable:
        string name, u8 rank, rank × u32 dims,
        [version ≥ 4] u8 dtype id, u32 byte count
        [version < 4] u8 item size, u32 element count
        the data
    [version ≥ 3] u32 alias count, then per alias: string alias, string target

where a string is a u16 length (counting a final NUL) and the bytes. CTranslate2 fuses
the self-attention query/key/value projections into one matrix and the cross-attention
key/value into another; whisper.cpp wants them apart, and without the key bias (Whisper
has none: CTranslate2 stores zeros, and a key bias would not change attention anyway,
since it adds the same amount to every score of a query).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .convert_common import Progress, tokens_from_tokenizer_json, vocabulary_bytes, write_whisper_ggml
from .errors import ConversionError
from .ggml_format import GgmlHeader

log = logging.getLogger(__name__)

MODEL_FILE = "model.bin"
#: The newest model.bin layout this reader knows (CTranslate2 4.x writes 6).
MAX_BINARY_VERSION = 6
_SPEC_NAME = "WhisperSpec"

# CTranslate2's DataType enum (include/ctranslate2/types.h) as numpy dtypes.
_DTYPES = {0: "<f4", 1: "i1", 2: "<i2", 3: "<i4", 4: "<f2", 5: "<u2"}
_BFLOAT16 = 5
# Binary versions before 4 stored the item size instead of a dtype id.
_DTYPE_BY_ITEM_SIZE = {4: 0, 2: 2, 1: 1}


@dataclass(frozen=True, slots=True)
class Ct2Variable:
    """One variable of a ``model.bin``: where its data sits and how to read it."""

    name: str
    shape: tuple[int, ...]
    dtype_id: int
    offset: int
    nbytes: int


class Ct2Model:
    """An open CTranslate2 ``model.bin``: variable index read at once, data memory-mapped on demand."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self._map = np.memmap(self.path, dtype=np.uint8, mode="r")
        except (OSError, ValueError) as exc:
            raise ConversionError(f"cannot read {self.path}: {exc}") from exc
        self._pos = 0
        self.variables: dict[str, Ct2Variable] = {}
        self.aliases: dict[str, str] = {}
        try:
            self._read_index()
        except (IndexError, UnicodeDecodeError, ValueError) as exc:
            raise ConversionError(f"{self.path} is not a valid CTranslate2 model: {exc}") from exc

    def _take(self, size: int) -> np.ndarray:
        if size < 0 or self._pos + size > len(self._map):
            raise ConversionError(f"{self.path} is truncated (needed {size} bytes at offset {self._pos})")
        data = self._map[self._pos : self._pos + size]
        self._pos += size
        return data

    def _uint(self, size: int) -> int:
        return int.from_bytes(self._take(size).tobytes(), "little")

    def _string(self) -> str:
        length = self._uint(2)
        return self._take(length).tobytes().rstrip(b"\0").decode("utf-8")

    def _read_index(self) -> None:
        self.binary_version = self._uint(4)
        if not 1 <= self.binary_version <= MAX_BINARY_VERSION:
            raise ConversionError(
                f"{self.path}: unsupported CTranslate2 model version {self.binary_version} "
                f"(this converter reads 1 to {MAX_BINARY_VERSION})"
            )
        self.spec_name, self.spec_revision = "", 1
        if self.binary_version >= 2:
            self.spec_name = self._string()
            self.spec_revision = self._uint(4)
            if self.spec_name != _SPEC_NAME:
                raise ConversionError(f"{self.path} holds a CTranslate2 '{self.spec_name}', not a Whisper model")
        for _ in range(self._uint(4)):
            name = self._string()
            rank = self._uint(1)
            shape = tuple(self._uint(4) for _ in range(rank))
            if self.binary_version >= 4:
                dtype_id = self._uint(1)
                nbytes = self._uint(4)
            else:
                item_size = self._uint(1)
                dtype_id = _DTYPE_BY_ITEM_SIZE.get(item_size, -1)
                nbytes = self._uint(4) * item_size
            if dtype_id not in _DTYPES:
                raise ConversionError(f"{self.path}: variable {name} has an unknown data type")
            if nbytes != int(np.prod(shape, dtype=np.int64)) * np.dtype(_DTYPES[dtype_id]).itemsize:
                raise ConversionError(f"{self.path}: variable {name} has {nbytes} bytes for shape {list(shape)}")
            self.variables[name] = Ct2Variable(name, shape, dtype_id, self._pos, nbytes)
            self._take(nbytes)
        if self.binary_version >= 3:
            for _ in range(self._uint(4)):
                alias = self._string()
                self.aliases[alias] = self._string()

    def raw(self, name: str) -> np.ndarray:
        """A variable's data as stored (memory-mapped)."""
        var = self.variable(name)
        data = self._map[var.offset : var.offset + var.nbytes].view(_DTYPES[var.dtype_id])
        return data.reshape(var.shape)

    def variable(self, name: str) -> Ct2Variable:
        """The index entry of ``name`` (aliases followed)."""
        name = self.aliases.get(name, name)
        try:
            return self.variables[name]
        except KeyError:
            raise ConversionError(f"{self.path} has no variable {name}; is it a Whisper model?") from None

    def has(self, name: str) -> bool:
        return self.aliases.get(name, name) in self.variables

    def scalar(self, name: str) -> int:
        return int(self.raw(name).reshape(-1)[0])

    def floats(self, name: str) -> np.ndarray:
        """A weight as floating point: float16/float32 as stored, bfloat16 widened, int8/int16 dequantized."""
        var = self.variable(name)
        data = self.raw(name)
        if var.dtype_id in (0, 4):
            return data
        if var.dtype_id == _BFLOAT16:
            return (data.astype(np.uint32) << 16).view(np.float32)
        if var.dtype_id in (1, 2):
            # Integer weights are stored as round(w * scale), with one scale per output row (int8)
            # or one for the whole matrix (int16).
            scale_name = name + "_scale"
            if not self.has(scale_name):
                raise ConversionError(f"{self.path}: quantized variable {name} has no {scale_name}")
            scale = np.asarray(self.raw(scale_name), dtype=np.float32).reshape(-1)
            rows = data.reshape(scale.size, -1) if scale.size > 1 else data.reshape(1, -1)
            return (rows.astype(np.float32) / scale[:, None]).reshape(data.shape)
        raise ConversionError(f"{self.path}: variable {name} is not a floating point weight")

    def close(self) -> None:
        self._map = None  # type: ignore[assignment]

    def __enter__(self) -> Ct2Model:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _layer_count(model: Ct2Model, stack: str) -> int:
    pattern = re.compile(rf"^{stack}/layer_(\d+)/")
    indices = {int(m.group(1)) for name in model.variables if (m := pattern.match(name))}
    if not indices or indices != set(range(len(indices))):
        raise ConversionError(f"{model.path}: the {stack} layers are missing or not numbered 0..n-1")
    return len(indices)


def ct2_header(model: Ct2Model) -> GgmlHeader:
    """whisper.cpp hyperparameters read off the shapes of a CTranslate2 Whisper model."""
    embeddings = model.variable("decoder/embeddings/weight").shape
    audio_positions = model.variable("encoder/position_encodings/encodings").shape
    text_positions = model.variable("decoder/position_encodings/encodings").shape
    conv1 = model.variable("encoder/conv1/weight").shape
    return GgmlHeader(
        n_vocab=embeddings[0],
        n_audio_ctx=audio_positions[0],
        n_audio_state=audio_positions[1],
        n_audio_head=model.scalar("encoder/num_heads"),
        n_audio_layer=_layer_count(model, "encoder"),
        n_text_ctx=text_positions[0],
        n_text_state=embeddings[1],
        n_text_head=model.scalar("decoder/num_heads"),
        n_text_layer=_layer_count(model, "decoder"),
        n_mels=conv1[1],
        ftype=1,
    )


def _split(model: Ct2Model, source: str, target: str, parts: tuple[str, ...]) -> Iterator[tuple[str, np.ndarray]]:
    """Split a fused projection into whisper.cpp's separate ones (the key has no bias)."""
    weight = model.floats(f"{source}/weight")
    bias = model.floats(f"{source}/bias") if model.has(f"{source}/bias") else None
    width = weight.shape[0] // len(parts)
    for index, part in enumerate(parts):
        rows = slice(index * width, (index + 1) * width)
        yield f"{target}.{part}.weight", weight[rows]
        if part != "key":
            if bias is None:
                raise ConversionError(f"{model.path}: {source} has no bias")
            yield f"{target}.{part}.bias", bias[rows]


def _linear(model: Ct2Model, source: str, target: str) -> Iterator[tuple[str, np.ndarray]]:
    yield f"{target}.weight", model.floats(f"{source}/weight")
    yield f"{target}.bias", model.floats(f"{source}/bias")


def _norm(model: Ct2Model, source: str, target: str) -> Iterator[tuple[str, np.ndarray]]:
    yield f"{target}.weight", model.floats(f"{source}/gamma")
    yield f"{target}.bias", model.floats(f"{source}/beta")


def _mlp(model: Ct2Model, source: str, target: str) -> Iterator[tuple[str, np.ndarray]]:
    yield from _norm(model, f"{source}/ffn/layer_norm", f"{target}.mlp_ln")
    yield from _linear(model, f"{source}/ffn/linear_0", f"{target}.mlp.0")
    yield from _linear(model, f"{source}/ffn/linear_1", f"{target}.mlp.2")


def ct2_tensors(model: Ct2Model, header: GgmlHeader) -> Iterator[tuple[str, np.ndarray]]:
    """The model's weights under whisper.cpp's names, fused projections split."""
    yield "encoder.positional_embedding", model.floats("encoder/position_encodings/encodings")
    for conv in ("conv1", "conv2"):
        yield from _linear(model, f"encoder/{conv}", f"encoder.{conv}")
    yield from _norm(model, "encoder/layer_norm", "encoder.ln_post")
    for i in range(header.n_audio_layer):
        src, dst = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        yield from _mlp(model, src, dst)
        yield from _norm(model, f"{src}/self_attention/layer_norm", f"{dst}.attn_ln")
        yield from _split(model, f"{src}/self_attention/linear_0", f"{dst}.attn", ("query", "key", "value"))
        yield from _linear(model, f"{src}/self_attention/linear_1", f"{dst}.attn.out")

    yield "decoder.positional_embedding", model.floats("decoder/position_encodings/encodings")
    yield "decoder.token_embedding.weight", model.floats("decoder/embeddings/weight")
    yield from _norm(model, "decoder/layer_norm", "decoder.ln")
    for i in range(header.n_text_layer):
        src, dst = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        yield from _mlp(model, src, dst)
        yield from _norm(model, f"{src}/self_attention/layer_norm", f"{dst}.attn_ln")
        yield from _split(model, f"{src}/self_attention/linear_0", f"{dst}.attn", ("query", "key", "value"))
        yield from _linear(model, f"{src}/self_attention/linear_1", f"{dst}.attn.out")
        yield from _norm(model, f"{src}/attention/layer_norm", f"{dst}.cross_attn_ln")
        yield from _linear(model, f"{src}/attention/linear_0", f"{dst}.cross_attn.query")
        yield from _split(model, f"{src}/attention/linear_1", f"{dst}.cross_attn", ("key", "value"))
        yield from _linear(model, f"{src}/attention/linear_2", f"{dst}.cross_attn.out")


def read_ct2_vocabulary(folder: Path) -> list[str]:
    """The vocabulary of a CTranslate2 model folder, in id order."""
    json_file, text_file, tokenizer = folder / "vocabulary.json", folder / "vocabulary.txt", folder / "tokenizer.json"
    try:
        if json_file.is_file():
            tokens = json.loads(json_file.read_text(encoding="utf-8"))
            if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
                raise ConversionError(f"{json_file} is not a list of tokens")
            return tokens
        if text_file.is_file():
            # One token per line; the multilingual vocabulary has an empty token, so keep blank lines.
            lines = text_file.read_text(encoding="utf-8").split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            return lines
    except (OSError, ValueError) as exc:
        raise ConversionError(f"cannot read the vocabulary in {folder}: {exc}") from exc
    if tokenizer.is_file():
        return tokens_from_tokenizer_json(tokenizer)
    raise ConversionError(f"{folder} has no vocabulary.json, vocabulary.txt or tokenizer.json")


def convert_ct2(
    source: Path,
    output: Path,
    *,
    file_type: str = "f16",
    progress: Progress | None = None,
) -> GgmlHeader:
    """Convert the CTranslate2 Whisper model in folder ``source`` to a ggml file at ``output``.

    ``file_type`` is "f16" (whisper.cpp's usual) or "f32". The file is written atomically
    and checked to load the way whisper.cpp loads it; returns its header. ``progress``
    receives (elements written, total elements). Raises :class:`ConversionError`.
    """
    source = Path(source)
    model_file = source / MODEL_FILE if source.is_dir() else source
    folder = model_file.parent
    if not model_file.is_file():
        raise ConversionError(f"{folder} has no {MODEL_FILE}; is it a CTranslate2 model folder?")
    tokens = vocabulary_bytes(read_ct2_vocabulary(folder))
    with Ct2Model(model_file) as model:
        header = ct2_header(model)
        if len(tokens) >= header.n_vocab:
            raise ConversionError(f"the vocabulary ({len(tokens)} text tokens) does not fit n_vocab={header.n_vocab}")
        total = sum(int(np.prod(v.shape, dtype=np.int64)) for v in model.variables.values())
        log.info(
            "converting %s (CTranslate2 v%d, %d variables) to %s",
            model_file,
            model.binary_version,
            len(model.variables),
            output,
        )
        return write_whisper_ggml(
            Path(output),
            header,
            tokens,
            ct2_tensors(model, header),
            file_type=file_type,
            progress=progress,
            total_elements=total,
        )
