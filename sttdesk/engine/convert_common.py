"""What the CTranslate2 and Hugging Face converters share: vocabulary bytes and the ggml writing."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from .errors import ConversionError
from .ggml_format import FILE_TYPES, GgmlHeader, GgmlWriter, expected_tensors, stored_ftype
from .mel import mel_filters

log = logging.getLogger(__name__)

#: ``progress(done, total)``, called as work advances; each function documents its unit
#: (tensor elements for conversion and quantization, bytes for joining files).
Progress = Callable[[int, int], None]

#: The token that ends a transcript; it is the first special token of every Whisper vocabulary.
END_OF_TEXT = "<|endoftext|>"
#: Storage a converter can write (quantize afterwards for the integer types).
CONVERT_TYPES = ("f16", "f32")


def _byte_to_char() -> dict[int, str]:
    # GPT-2's byte-level BPE spells each byte with a printable character: printable
    # Latin-1 bytes stand for themselves, the others (controls, space, ...) are moved
    # to U+0100 upwards in byte order.
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in printable}
    shift = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + shift)
            shift += 1
    return table


_CHAR_TO_BYTE = {char: byte for byte, char in _byte_to_char().items()}


def token_bytes(token: str) -> bytes:
    """The raw bytes a byte-level BPE token spells ("Ġthe" → b" the")."""
    try:
        return bytes(_CHAR_TO_BYTE[char] for char in token)
    except KeyError as exc:
        raise ConversionError(f"token {token!r} is not a byte-level BPE token") from exc


def vocabulary_bytes(tokens: Sequence[str]) -> list[bytes]:
    """The entries whisper.cpp stores: the text tokens before ``<|endoftext|>``, as raw bytes.

    ``tokens`` is the whole vocabulary in id order. whisper.cpp names the special tokens
    (end of text, languages, timestamps...) itself, so only the text tokens are written,
    as OpenAI's own conversion does.
    """
    try:
        end = list(tokens).index(END_OF_TEXT)
    except ValueError:
        raise ConversionError(f"the vocabulary has no {END_OF_TEXT} token; is this a Whisper model?") from None
    return [token_bytes(token) for token in tokens[:end]]


def tokens_from_tokenizer_json(path: Path) -> list[str]:
    """The vocabulary in id order from a Hugging Face ``tokenizer.json``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        ids: dict[str, int] = dict(data["model"]["vocab"])
        for added in data.get("added_tokens", []):
            ids[added["content"]] = int(added["id"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConversionError(f"cannot read the tokenizer {path}: {exc}") from exc
    return tokens_in_id_order(ids, path)


def tokens_in_id_order(ids: Mapping[str, int], source: Path) -> list[str]:
    """A {token: id} mapping as a list indexed by id; ids must run from 0 without gaps."""
    tokens: list[str | None] = [None] * len(ids)
    for token, index in ids.items():
        if not 0 <= index < len(tokens) or tokens[index] is not None:
            raise ConversionError(f"the vocabulary in {source} has a gap or a repeated id at {index}")
        tokens[index] = token
    return tokens  # type: ignore[return-value]


def check_file_type(name: str) -> str:
    """``name`` if a converter can write it, else a :class:`ConversionError`."""
    if name not in CONVERT_TYPES:
        raise ConversionError(
            f"a checkpoint converts to {' or '.join(CONVERT_TYPES)}, not '{name}'; quantize afterwards"
        )
    return name


def write_whisper_ggml(
    output: Path,
    header: GgmlHeader,
    tokens: Sequence[bytes],
    tensors: Iterable[tuple[str, np.ndarray]],
    *,
    file_type: str = "f16",
    progress: Progress | None = None,
    total_elements: int = 0,
) -> GgmlHeader:
    """Write a whisper.cpp model from tensors already named and laid out as OpenAI's PyTorch ones.

    ``tensors`` yields ``(name, array)`` in any order (arrays may be memory-mapped; each is
    read once). Every tensor whisper.cpp expects must come exactly once; each is stored in
    the type whisper.cpp expects for ``file_type``. ``progress`` gets the tensor elements
    written so far against ``total_elements``.
    """
    ft = FILE_TYPES[check_file_type(file_type)]
    header = GgmlHeader(*header.hparams()[:-1], stored_ftype(ft))
    expected = expected_tensors(header)
    done = 0
    writer = GgmlWriter(output, header, mel_filters(header.n_mels), tokens)
    try:
        for name, array in tensors:
            spec = expected.get(name)
            if spec is None:
                raise ConversionError(f"the checkpoint has a tensor whisper.cpp does not use: {name}")
            shape = tuple(reversed(spec.ne))
            if array.size != int(np.prod(shape)):
                raise ConversionError(f"tensor {name} has shape {list(array.shape)}, expected {list(shape)}")
            # Conv biases are stored as (n, 1) matrices; everything else keeps its layout.
            writer.add_tensor(name, shape, spec.storage_type(ft.weight_type), np.asarray(array).reshape(shape))
            done += array.size
            if progress is not None:
                progress(min(done, total_elements), total_elements)
        written = writer.commit()
    except BaseException:
        writer.abort()
        raise
    if progress is not None:
        progress(total_elements, total_elements)
    return written
