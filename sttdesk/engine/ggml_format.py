"""whisper.cpp's ggml model files (the legacy, pre-GGUF layout): read, validate and write.

A file is, in little-endian order::

    u32   magic 0x67676d6c ("ggml")
    11 × i32 hparams: n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer,
          n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, ftype
    i32 n_mel, i32 n_fft, then n_mel × n_fft f32: the mel filter bank
    i32 n_tokens, then per token: u32 length and that many raw bytes
    tensors up to the end of the file, each:
          i32 n_dims, i32 name length, i32 ggml type, n_dims × i32 ne (fastest-varying
          dimension first), the name, then the data with no padding between tensors

``ftype`` says how the large matrices are stored (0 f32, 1 f16, 7 q8_0, ...); quantized
files add ``1000 × quantization version`` (2 today). whisper.cpp builds its tensors from
the hparams and copies each tensor's bytes into them, so a file loads only when every
tensor is present once, with the shape and storage type the loader expects: this module
knows that table (:func:`expected_tensors`) and checks it, so a damaged or inconsistent
file is reported here instead of crashing or silently misbehaving inside whisper.cpp.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import struct
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from enum import IntEnum
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .errors import ConversionError, CorruptModelError, DiskFullError

log = logging.getLogger(__name__)

#: The four bytes every whisper.cpp model file starts with ("ggml" as a little-endian u32).
GGML_MAGIC = 0x67676D6C
#: Quantized files store ``ftype + QUANT_VERSION * QUANT_VERSION_FACTOR``.
QUANT_VERSION = 2
QUANT_VERSION_FACTOR = 1000
#: Frequency bins of whisper's 400-point FFT, the width of the stored mel filter bank.
N_FFT_BINS = 201

# Bounds that no real Whisper model comes near; beyond them the file is damaged, and
# checking first keeps a corrupt header from making us read gigabytes of garbage.
_MAX_VOCAB = 1_000_000
_MAX_CTX = 100_000
_MAX_STATE = 65_536
_MAX_LAYERS = 512
_MAX_MELS = 1024
_MAX_TOKEN_BYTES = 1024
_MAX_NAME_BYTES = 256
_MAX_DIMS = 4

_HPARAMS = struct.Struct("<I11i")
_TENSOR_HEAD = struct.Struct("<3i")


class GgmlType(IntEnum):
    """ggml tensor element types found in whisper.cpp model files (values as in ggml.h)."""

    F32 = 0
    F16 = 1
    Q4_0 = 2
    Q4_1 = 3
    Q5_0 = 6
    Q5_1 = 7
    Q8_0 = 8
    Q2_K = 10
    Q3_K = 11
    Q4_K = 12
    Q5_K = 13
    Q6_K = 14

    @property
    def block_size(self) -> int:
        """Elements per block (1 for plain floats)."""
        return _TYPE_SIZES[self][0]

    @property
    def block_bytes(self) -> int:
        """Bytes per block."""
        return _TYPE_SIZES[self][1]

    @property
    def is_quantized(self) -> bool:
        return self not in (GgmlType.F32, GgmlType.F16)

    def nbytes(self, ne: Sequence[int]) -> int:
        """Bytes of a tensor of this type with dimensions ``ne`` (fastest first)."""
        count = 1
        for dim in ne:
            count *= dim
        return count // self.block_size * self.block_bytes


_TYPE_SIZES: dict[GgmlType, tuple[int, int]] = {
    GgmlType.F32: (1, 4),
    GgmlType.F16: (1, 2),
    GgmlType.Q4_0: (32, 18),
    GgmlType.Q4_1: (32, 20),
    GgmlType.Q5_0: (32, 22),
    GgmlType.Q5_1: (32, 24),
    GgmlType.Q8_0: (32, 34),
    GgmlType.Q2_K: (256, 84),
    GgmlType.Q3_K: (256, 110),
    GgmlType.Q4_K: (256, 144),
    GgmlType.Q5_K: (256, 176),
    GgmlType.Q6_K: (256, 210),
}


@dataclass(frozen=True, slots=True)
class FileType:
    """One value of the header's ``ftype``: how the large weight matrices are stored."""

    #: ggml's ``ggml_ftype`` number (without the quantization version).
    ftype: int
    #: Short name used in model names and on the command line ("f16", "q8_0", ...).
    name: str
    #: Element type of the large 2-D weight matrices.
    weight_type: GgmlType


#: The file types whisper.cpp can load, by short name.
FILE_TYPES: dict[str, FileType] = {
    ft.name: ft
    for ft in (
        FileType(0, "f32", GgmlType.F32),
        FileType(1, "f16", GgmlType.F16),
        FileType(2, "q4_0", GgmlType.Q4_0),
        FileType(3, "q4_1", GgmlType.Q4_1),
        FileType(7, "q8_0", GgmlType.Q8_0),
        FileType(8, "q5_0", GgmlType.Q5_0),
        FileType(9, "q5_1", GgmlType.Q5_1),
        FileType(10, "q2_k", GgmlType.Q2_K),
        FileType(11, "q3_k", GgmlType.Q3_K),
        FileType(12, "q4_k", GgmlType.Q4_K),
        FileType(13, "q5_k", GgmlType.Q5_K),
        FileType(14, "q6_k", GgmlType.Q6_K),
    )
}
_FILE_TYPES_BY_NUMBER = {ft.ftype: ft for ft in FILE_TYPES.values()}


def file_type(name: str) -> FileType:
    """The :class:`FileType` called ``name`` ("f16", "q8_0", ...); ``KeyError`` if unknown."""
    return FILE_TYPES[name.lower()]


def stored_ftype(ft: FileType) -> int:
    """The ``ftype`` value written to a header: quantized types carry the quantization version."""
    if ft.weight_type.is_quantized:
        return ft.ftype + QUANT_VERSION * QUANT_VERSION_FACTOR
    return ft.ftype


# (encoder layers, width) of the official Whisper sizes.
_SIZES = {(4, 384): "tiny", (6, 512): "base", (12, 768): "small", (24, 1024): "medium", (32, 1280): "large"}
_VOCAB_ENGLISH = 51864
_VOCAB_V3 = 51866


@dataclass(frozen=True, slots=True)
class GgmlHeader:
    """The hyperparameters of a whisper.cpp model file, plus what validating it counted."""

    n_vocab: int
    n_audio_ctx: int
    n_audio_state: int
    n_audio_head: int
    n_audio_layer: int
    n_text_ctx: int
    n_text_state: int
    n_text_head: int
    n_text_layer: int
    n_mels: int
    #: ``ftype`` exactly as stored: e.g. 1 for f16, 2007 for q8_0 (see :attr:`file_type`).
    ftype: int
    #: Vocabulary entries stored in the file (whisper.cpp names the special tokens beyond them).
    n_tokens: int = 0
    #: Tensors in the file (0 for a header that was not read from a file).
    n_tensors: int = 0
    #: Size of the file in bytes (0 for a header that was not read from a file).
    file_size: int = 0

    @property
    def quant_version(self) -> int:
        """ggml quantization format version (0 for float files, 2 for today's quantized ones)."""
        return self.ftype // QUANT_VERSION_FACTOR

    @property
    def file_type(self) -> FileType:
        """How the weights are stored; ``KeyError`` for an ftype whisper.cpp cannot load."""
        return _FILE_TYPES_BY_NUMBER[self.ftype % QUANT_VERSION_FACTOR]

    @property
    def quantization(self) -> str:
        """Short name of the weight storage: "f32", "f16", "q8_0", "q5_0", ..."""
        return self.file_type.name

    @property
    def is_multilingual(self) -> bool:
        """True for the multilingual vocabularies (all but the English-only ``.en`` models)."""
        return self.n_vocab >= _VOCAB_ENGLISH + 1

    @property
    def model_size(self) -> str:
        """The Whisper size this file has the shape of: "base", "small.en", "large-v3", ...

        Fine-tuned models (PhoWhisper, ...) report the size they were trained from;
        shapes that match no official model report "custom".
        """
        family = _SIZES.get((self.n_audio_layer, self.n_audio_state))
        if family is None:
            return "custom"
        if family == "large" and self.n_vocab == _VOCAB_V3:
            if self.n_text_layer == 4:
                return "large-v3-turbo"
            if self.n_text_layer == 32:
                return "large-v3"
            return "custom"
        if self.n_text_layer != self.n_audio_layer:
            return "custom"
        if self.n_vocab == _VOCAB_ENGLISH and family != "large":
            return family + ".en"
        return family

    def with_file_type(self, ft: FileType) -> GgmlHeader:
        """The same hyperparameters with weights stored as ``ft`` (counts reset)."""
        return GgmlHeader(*self.hparams()[:-1], stored_ftype(ft))

    def hparams(self) -> tuple[int, ...]:
        """The eleven header integers in file order."""
        return tuple(getattr(self, f.name) for f in fields(self)[:11])


# --- the tensors whisper.cpp expects -----------------------------------------------

#: How a tensor is stored: the file's weight type, the convolution type, or always f32.
KIND_WEIGHT = "weight"
KIND_CONV = "conv"
KIND_F32 = "f32"

#: Tensors whisper.cpp's quantize tool leaves alone even though they are 2-D.
QUANTIZE_SKIP = (
    "encoder.conv1.bias",
    "encoder.conv2.bias",
    "encoder.positional_embedding",
    "decoder.positional_embedding",
)


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """A tensor whisper.cpp creates for a model: its dimensions (fastest first) and storage kind."""

    name: str
    ne: tuple[int, ...]
    kind: str

    def storage_type(self, weight_type: GgmlType) -> GgmlType:
        """The element type this tensor must have in a file whose weights are ``weight_type``."""
        if self.kind == KIND_WEIGHT:
            return weight_type
        if self.kind == KIND_CONV:
            return GgmlType.F32 if weight_type == GgmlType.F32 else GgmlType.F16
        return GgmlType.F32


def _attention(prefix: str, state: int) -> list[TensorSpec]:
    # The key projection has no bias in Whisper: whisper.cpp has no tensor for it.
    return [
        TensorSpec(f"{prefix}.query.weight", (state, state), KIND_WEIGHT),
        TensorSpec(f"{prefix}.query.bias", (state,), KIND_F32),
        TensorSpec(f"{prefix}.key.weight", (state, state), KIND_WEIGHT),
        TensorSpec(f"{prefix}.value.weight", (state, state), KIND_WEIGHT),
        TensorSpec(f"{prefix}.value.bias", (state,), KIND_F32),
        TensorSpec(f"{prefix}.out.weight", (state, state), KIND_WEIGHT),
        TensorSpec(f"{prefix}.out.bias", (state,), KIND_F32),
    ]


def _norm(prefix: str, state: int) -> list[TensorSpec]:
    return [TensorSpec(f"{prefix}.weight", (state,), KIND_F32), TensorSpec(f"{prefix}.bias", (state,), KIND_F32)]


def _mlp(prefix: str, state: int) -> list[TensorSpec]:
    return [
        *_norm(f"{prefix}.mlp_ln", state),
        TensorSpec(f"{prefix}.mlp.0.weight", (state, 4 * state), KIND_WEIGHT),
        TensorSpec(f"{prefix}.mlp.0.bias", (4 * state,), KIND_F32),
        TensorSpec(f"{prefix}.mlp.2.weight", (4 * state, state), KIND_WEIGHT),
        TensorSpec(f"{prefix}.mlp.2.bias", (state,), KIND_F32),
    ]


def expected_tensors(header: GgmlHeader) -> dict[str, TensorSpec]:
    """Every tensor whisper.cpp's loader creates for these hyperparameters, by name."""
    a, t = header.n_audio_state, header.n_text_state
    specs = [
        TensorSpec("encoder.positional_embedding", (a, header.n_audio_ctx), KIND_F32),
        TensorSpec("encoder.conv1.weight", (3, header.n_mels, a), KIND_CONV),
        TensorSpec("encoder.conv1.bias", (1, a), KIND_F32),
        TensorSpec("encoder.conv2.weight", (3, a, a), KIND_CONV),
        TensorSpec("encoder.conv2.bias", (1, a), KIND_F32),
        *_norm("encoder.ln_post", a),
    ]
    for i in range(header.n_audio_layer):
        block = f"encoder.blocks.{i}"
        specs += [*_mlp(block, a), *_norm(f"{block}.attn_ln", a), *_attention(f"{block}.attn", a)]
    specs += [
        TensorSpec("decoder.positional_embedding", (t, header.n_text_ctx), KIND_F32),
        TensorSpec("decoder.token_embedding.weight", (t, header.n_vocab), KIND_WEIGHT),
        *_norm("decoder.ln", t),
    ]
    for i in range(header.n_text_layer):
        block = f"decoder.blocks.{i}"
        specs += [
            *_mlp(block, t),
            *_norm(f"{block}.attn_ln", t),
            *_attention(f"{block}.attn", t),
            *_norm(f"{block}.cross_attn_ln", t),
            *_attention(f"{block}.cross_attn", t),
        ]
    return {spec.name: spec for spec in specs}


def is_quantizable(name: str, n_dims: int) -> bool:
    """Whether whisper.cpp's quantize tool converts this tensor: 2-D and not a named exception."""
    return n_dims == 2 and name not in QUANTIZE_SKIP


# --- reading -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """Where one tensor sits in a model file."""

    name: str
    #: Dimensions, fastest-varying first, as stored.
    ne: tuple[int, ...]
    ggml_type: GgmlType
    #: Offset of the tensor's data from the start of the file.
    offset: int
    nbytes: int

    @property
    def shape(self) -> tuple[int, ...]:
        """Dimensions in numpy (row-major) order."""
        return tuple(reversed(self.ne))


@dataclass(frozen=True, slots=True)
class GgmlTensor:
    """A tensor read from a model file; ``data`` is memory-mapped, so slicing it reads lazily.

    Float tensors come as float32/float16 arrays of :attr:`TensorInfo.shape`; quantized
    ones as uint8 arrays whose last dimension is the bytes of one row (gguf's layout).
    """

    info: TensorInfo
    data: np.ndarray

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def shape(self) -> tuple[int, ...]:
        return self.info.shape

    @property
    def ggml_type(self) -> GgmlType:
        return self.info.ggml_type


def _corrupt(path: Path, detail: str) -> CorruptModelError:
    return CorruptModelError(detail, path=str(path))


class _Cursor:
    """Sequential reads from a file that turn a short read into a "truncated" error."""

    def __init__(self, stream: BinaryIO, path: Path) -> None:
        self.stream = stream
        self.path = path

    def read(self, size: int, what: str) -> bytes:
        data = self.stream.read(size)
        if len(data) != size:
            raise _corrupt(self.path, f"file is truncated in the {what}")
        return data

    def i32(self, what: str) -> int:
        return int.from_bytes(self.read(4, what), "little", signed=True)


def _check_hparams(header: GgmlHeader, path: Path) -> None:
    limits = {
        "n_vocab": _MAX_VOCAB,
        "n_audio_ctx": _MAX_CTX,
        "n_text_ctx": _MAX_CTX,
        "n_audio_state": _MAX_STATE,
        "n_text_state": _MAX_STATE,
        "n_audio_head": _MAX_STATE,
        "n_text_head": _MAX_STATE,
        "n_audio_layer": _MAX_LAYERS,
        "n_text_layer": _MAX_LAYERS,
        "n_mels": _MAX_MELS,
    }
    for name, limit in limits.items():
        value = getattr(header, name)
        if not 0 < value <= limit:
            raise _corrupt(path, f"header value {name}={value} is out of range")
    if header.n_audio_state % header.n_audio_head or header.n_text_state % header.n_text_head:
        raise _corrupt(path, "model width is not a multiple of the number of attention heads")
    if header.n_audio_state != header.n_text_state:
        # whisper.cpp assumes one width for encoder and decoder (cross-attention needs it).
        raise _corrupt(path, "encoder and decoder widths differ")
    try:
        ft = header.file_type
    except KeyError:
        raise _corrupt(path, f"unknown weight type ftype={header.ftype}") from None
    expected_version = QUANT_VERSION if ft.weight_type.is_quantized else 0
    if header.quant_version != expected_version:
        raise _corrupt(
            path,
            f"quantization format version {header.quant_version} is not the one whisper.cpp reads "
            f"({expected_version}); the file was made by an old whisper.cpp",
        )


class GgmlReader:
    """An open whisper.cpp model file: header, mel filters and vocabulary read, tensors on demand.

    Use as a context manager. :meth:`scan` walks the tensor headers (no data) and
    :meth:`tensors` yields memory-mapped tensors one at a time, so a large model never
    needs to fit in memory.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self._stream: BinaryIO = open(self.path, "rb")  # noqa: SIM115 - closed by close()
        except FileNotFoundError:
            raise _corrupt(self.path, "the file does not exist") from None
        except IsADirectoryError:
            raise _corrupt(self.path, "it is a folder, not a file") from None
        self._map: np.memmap | None = None
        try:
            self.file_size = os.fstat(self._stream.fileno()).st_size
            self._read_preamble()
        except BaseException:
            self._stream.close()
            raise

    def _read_preamble(self) -> None:
        cursor = _Cursor(self._stream, self.path)
        raw = self._stream.read(_HPARAMS.size)
        if len(raw) < 4 or int.from_bytes(raw[:4], "little") != GGML_MAGIC:
            raise _corrupt(self.path, "not a whisper.cpp ggml model (wrong magic number)")
        if len(raw) < _HPARAMS.size:
            raise _corrupt(self.path, "file is truncated in the header")
        _, *hparams = _HPARAMS.unpack(raw)
        header = GgmlHeader(*hparams)
        _check_hparams(header, self.path)

        n_mel = cursor.i32("mel filters")
        n_fft = cursor.i32("mel filters")
        if n_mel != header.n_mels or n_fft != N_FFT_BINS:
            raise _corrupt(self.path, f"mel filter bank is {n_mel}×{n_fft}, expected {header.n_mels}×{N_FFT_BINS}")
        filters = np.frombuffer(cursor.read(n_mel * n_fft * 4, "mel filters"), dtype="<f4")
        self.mel_filters: np.ndarray = filters.reshape(n_mel, n_fft)

        n_tokens = cursor.i32("vocabulary")
        if not 0 <= n_tokens <= header.n_vocab:
            raise _corrupt(self.path, f"vocabulary has {n_tokens} entries for n_vocab={header.n_vocab}")
        tokens: list[bytes] = []
        for _ in range(n_tokens):
            length = int.from_bytes(cursor.read(4, "vocabulary"), "little")
            if length > _MAX_TOKEN_BYTES:
                raise _corrupt(self.path, f"vocabulary entry {len(tokens)} is {length} bytes long")
            tokens.append(cursor.read(length, "vocabulary"))
        self.tokens: list[bytes] = tokens
        self.tensors_offset = self._stream.tell()
        self.header = GgmlHeader(*header.hparams(), n_tokens=n_tokens, file_size=self.file_size)

    def scan(self) -> list[TensorInfo]:
        """Every tensor's name, dimensions, type and place, read from the tensor headers."""
        stream = self._stream
        stream.seek(self.tensors_offset)
        cursor = _Cursor(stream, self.path)
        infos: list[TensorInfo] = []
        while True:
            raw = stream.read(_TENSOR_HEAD.size)
            if not raw:
                return infos
            if len(raw) < _TENSOR_HEAD.size:
                raise _corrupt(self.path, f"file is truncated after {len(infos)} tensors")
            n_dims, name_length, type_id = _TENSOR_HEAD.unpack(raw)
            where = f"tensor #{len(infos)}"
            if not 0 < n_dims <= _MAX_DIMS or not 0 < name_length <= _MAX_NAME_BYTES:
                raise _corrupt(self.path, f"{where} has a malformed header")
            try:
                ggml_type = GgmlType(type_id)
            except ValueError:
                raise _corrupt(self.path, f"{where} has unknown element type {type_id}") from None
            ne = tuple(cursor.i32(f"header of {where}") for _ in range(n_dims))
            try:
                name = cursor.read(name_length, f"header of {where}").decode("utf-8")
            except UnicodeDecodeError:
                raise _corrupt(self.path, f"{where} has an unreadable name") from None
            if any(dim <= 0 for dim in ne) or ne[0] % ggml_type.block_size:
                raise _corrupt(self.path, f"tensor '{name}' has invalid dimensions {list(ne)}")
            nbytes = ggml_type.nbytes(ne)
            offset = stream.tell()
            if offset + nbytes > self.file_size:
                raise _corrupt(self.path, f"file is truncated in the data of tensor '{name}'")
            infos.append(TensorInfo(name, ne, ggml_type, offset, nbytes))
            stream.seek(nbytes, os.SEEK_CUR)

    def validate(self) -> GgmlHeader:
        """Check every tensor against what whisper.cpp expects; the header with counts filled in."""
        infos = self.scan()
        check_tensors(self.header, infos, self.path)
        self.header = GgmlHeader(
            *self.header.hparams(),
            n_tokens=self.header.n_tokens,
            n_tensors=len(infos),
            file_size=self.file_size,
        )
        return self.header

    def tensors(self, infos: Iterable[TensorInfo] | None = None) -> Iterator[GgmlTensor]:
        """Each tensor (all of them, or those of ``infos``) with memory-mapped data."""
        for info in self.scan() if infos is None else infos:
            yield GgmlTensor(info, self.tensor_data(info))

    def tensor_data(self, info: TensorInfo) -> np.ndarray:
        """The data of one tensor as a read-only memory-mapped array (see :class:`GgmlTensor`)."""
        if self._map is None:
            self._map = np.memmap(self.path, dtype=np.uint8, mode="r")
        raw = self._map[info.offset : info.offset + info.nbytes]
        if info.ggml_type == GgmlType.F32:
            return raw.view("<f4").reshape(info.shape)
        if info.ggml_type == GgmlType.F16:
            return raw.view("<f2").reshape(info.shape)
        row_bytes = info.ne[0] // info.ggml_type.block_size * info.ggml_type.block_bytes
        return raw.reshape(*info.shape[:-1], row_bytes)

    def close(self) -> None:
        self._map = None
        self._stream.close()

    def __enter__(self) -> GgmlReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_tensors(header: GgmlHeader, infos: Sequence[TensorInfo], path: Path) -> None:
    """Raise :class:`CorruptModelError` unless ``infos`` are exactly the tensors whisper.cpp loads."""
    expected = expected_tensors(header)
    weight_type = header.file_type.weight_type
    seen: set[str] = set()
    for info in infos:
        spec = expected.get(info.name)
        if spec is None:
            raise _corrupt(path, f"unexpected tensor '{info.name}'")
        if info.name in seen:
            raise _corrupt(path, f"tensor '{info.name}' appears twice")
        seen.add(info.name)
        if _padded(info.ne) != _padded(spec.ne):
            raise _corrupt(path, f"tensor '{info.name}' has dimensions {list(info.ne)}, expected {list(spec.ne)}")
        wanted = spec.storage_type(weight_type)
        if info.ggml_type != wanted:
            raise _corrupt(path, f"tensor '{info.name}' is stored as {info.ggml_type.name}, expected {wanted.name}")
    missing = [name for name in expected if name not in seen]
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise _corrupt(path, f"missing tensors: {shown}")


def _padded(ne: Sequence[int]) -> tuple[int, ...]:
    return tuple(ne) + (1,) * (_MAX_DIMS - len(ne))


def read_header(path: Path) -> GgmlHeader:
    """Read and fully validate a whisper.cpp model file's structure (no tensor data is read).

    Raises :class:`CorruptModelError` for a file that is not a ggml Whisper model, is
    truncated, or whose tensors do not match its hyperparameters.
    """
    with GgmlReader(Path(path)) as reader:
        return reader.validate()


# --- writing -----------------------------------------------------------------------

_NAME_RE = re.compile(r"^[\w.]+$")
_FILE_MODE = 0o644


class GgmlWriter:
    """Writes a whisper.cpp model file atomically, one tensor at a time.

    The header, mel filters and vocabulary are written at once to a temporary file next
    to ``path``; :meth:`add_tensor` appends tensors; :meth:`commit` checks the result the
    way :func:`read_header` does and renames it into place, so a reader never sees half
    a file. Used as a context manager it commits on success and removes the temporary
    file on error.
    """

    def __init__(
        self,
        path: Path,
        header: GgmlHeader,
        mel_filters: np.ndarray,
        tokens: Sequence[bytes],
    ) -> None:
        self.path = Path(path)
        self.header = GgmlHeader(*header.hparams())
        filters = np.ascontiguousarray(mel_filters, dtype="<f4")
        if filters.shape != (header.n_mels, N_FFT_BINS):
            raise ConversionError(f"mel filter bank is {filters.shape}, expected ({header.n_mels}, {N_FFT_BINS})")
        if len(tokens) > header.n_vocab:
            raise ConversionError(f"{len(tokens)} vocabulary entries for a model with n_vocab={header.n_vocab}")
        if any(len(token) > _MAX_TOKEN_BYTES for token in tokens):
            raise ConversionError(f"a vocabulary entry is longer than {_MAX_TOKEN_BYTES} bytes")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".part", dir=self.path.parent)
        self._temp = Path(temp_name)
        self._stream: BinaryIO = os.fdopen(fd, "wb")
        self._closed = False
        self._names: set[str] = set()
        try:
            self._write(_HPARAMS.pack(GGML_MAGIC, *self.header.hparams()))
            self._write(struct.pack("<2i", *filters.shape))
            self._write(filters.tobytes())
            self._write(struct.pack("<i", len(tokens)))
            for token in tokens:
                self._write(struct.pack("<I", len(token)))
                self._write(bytes(token))
        except BaseException:
            self.abort()
            raise

    def _write(self, data: bytes | memoryview) -> None:
        try:
            self._stream.write(data)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise DiskFullError(str(exc), path=str(self.path.parent)) from exc
            raise

    def add_tensor(
        self,
        name: str,
        shape: Sequence[int],
        ggml_type: GgmlType,
        data: np.ndarray | Iterable[np.ndarray],
    ) -> None:
        """Append one tensor.

        ``shape`` is in numpy order. ``data`` is the whole tensor or an iterable of row
        chunks in order; float types are converted to f32/f16 as needed, quantized types
        must come as uint8 blocks (what :func:`gguf.quants.quantize` returns).
        """
        if not _NAME_RE.match(name) or name in self._names:
            raise ConversionError(f"invalid or repeated tensor name '{name}'")
        ne = tuple(int(d) for d in reversed(tuple(shape)))
        if not ne or len(ne) > _MAX_DIMS or ne[0] % ggml_type.block_size:
            raise ConversionError(f"tensor '{name}' cannot be stored as {ggml_type.name} with shape {list(shape)}")
        self._names.add(name)
        encoded = name.encode("utf-8")
        self._write(_TENSOR_HEAD.pack(len(ne), len(encoded), int(ggml_type)))
        self._write(struct.pack(f"<{len(ne)}i", *ne))
        self._write(encoded)
        expected = ggml_type.nbytes(ne)
        written = 0
        for chunk in [data] if isinstance(data, np.ndarray) else data:
            if ggml_type == GgmlType.F32:
                chunk = np.ascontiguousarray(chunk, dtype="<f4")
            elif ggml_type == GgmlType.F16:
                chunk = np.ascontiguousarray(chunk, dtype="<f2")
            elif chunk.dtype != np.uint8:
                raise ConversionError(f"tensor '{name}': quantized data must be bytes, got {chunk.dtype}")
            else:
                chunk = np.ascontiguousarray(chunk)
            written += chunk.nbytes
            if written > expected:
                break
            self._write(memoryview(chunk).cast("B"))
        if written != expected:
            raise ConversionError(f"tensor '{name}' has {written} bytes of data, expected {expected}")

    def commit(self) -> GgmlHeader:
        """Finish the file, validate it and move it into place; returns its header."""
        try:
            self._stream.flush()
            os.fsync(self._stream.fileno())
        except OSError as exc:
            self.abort()
            if exc.errno == errno.ENOSPC:
                raise DiskFullError(str(exc), path=str(self.path.parent)) from exc
            raise
        self._stream.close()
        self._closed = True
        try:
            header = read_header(self._temp)
        except CorruptModelError as exc:
            self.abort()
            raise ConversionError(f"the written model would not load in whisper.cpp: {exc.detail}") from exc
        # mkstemp creates the file private to us; a model is an ordinary shared file.
        os.chmod(self._temp, _FILE_MODE)
        os.replace(self._temp, self.path)
        _fsync_dir(self.path.parent)
        log.info(
            "wrote %s (%s, %d tensors, %d bytes)", self.path, header.quantization, header.n_tensors, header.file_size
        )
        return header

    def abort(self) -> None:
        """Drop the unfinished file."""
        if not self._closed:
            self._stream.close()
            self._closed = True
        self._temp.unlink(missing_ok=True)

    def __enter__(self) -> GgmlWriter:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if self._closed:
            return
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not possible (nor needed) on every platform.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
