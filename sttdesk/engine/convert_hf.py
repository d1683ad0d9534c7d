"""Convert a Hugging Face transformers Whisper checkpoint (safetensors) to whisper.cpp's ggml format.

Fine-tuned Whisper models such as the Vietnamese PhoWhisper are published as
transformers checkpoints: ``config.json``, ``model.safetensors`` (or shards listed in
``model.safetensors.index.json``) and the tokenizer (``vocab.json`` + ``added_tokens.json``
or ``tokenizer.json``). transformers keeps Whisper's query, key and value projections
apart already, so conversion is renaming to OpenAI's names (which whisper.cpp uses)
and storing each tensor the way whisper.cpp expects.

safetensors files are read here directly (an 8-byte header length, a JSON header giving
each tensor's dtype, shape and byte range, then the data), memory-mapped, so bfloat16
checkpoints work without torch and a tensor is read only when it is written out.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .convert_common import (
    Progress,
    tokens_from_tokenizer_json,
    tokens_in_id_order,
    vocabulary_bytes,
    write_whisper_ggml,
)
from .errors import ConversionError
from .ggml_format import GgmlHeader

log = logging.getLogger(__name__)

SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
#: A safetensors header larger than this is not a model header but damage.
_MAX_HEADER_BYTES = 100 * 1024 * 1024
_DTYPES = {"F32": "<f4", "F16": "<f2", "BF16": "<u2", "F64": "<f8"}

# transformers' module names inside an encoder/decoder layer → OpenAI's.
_LAYER_MODULES = {
    "self_attn.q_proj": "attn.query",
    "self_attn.k_proj": "attn.key",
    "self_attn.v_proj": "attn.value",
    "self_attn.out_proj": "attn.out",
    "self_attn_layer_norm": "attn_ln",
    "encoder_attn.q_proj": "cross_attn.query",
    "encoder_attn.k_proj": "cross_attn.key",
    "encoder_attn.v_proj": "cross_attn.value",
    "encoder_attn.out_proj": "cross_attn.out",
    "encoder_attn_layer_norm": "cross_attn_ln",
    "fc1": "mlp.0",
    "fc2": "mlp.2",
    "final_layer_norm": "mlp_ln",
}
_TOP_LEVEL = {
    "encoder.conv1.weight": "encoder.conv1.weight",
    "encoder.conv1.bias": "encoder.conv1.bias",
    "encoder.conv2.weight": "encoder.conv2.weight",
    "encoder.conv2.bias": "encoder.conv2.bias",
    "encoder.embed_positions.weight": "encoder.positional_embedding",
    "encoder.layer_norm.weight": "encoder.ln_post.weight",
    "encoder.layer_norm.bias": "encoder.ln_post.bias",
    "decoder.embed_tokens.weight": "decoder.token_embedding.weight",
    "decoder.embed_positions.weight": "decoder.positional_embedding",
    "decoder.layer_norm.weight": "decoder.ln.weight",
    "decoder.layer_norm.bias": "decoder.ln.bias",
}
_LAYER_NAME = re.compile(r"^(encoder|decoder)\.layers\.(\d+)\.(.+)\.(weight|bias)$")
_OUTPUT_PROJECTION = "proj_out.weight"


@dataclass(frozen=True, slots=True)
class SafeTensor:
    """One tensor of a safetensors file: where its bytes are."""

    name: str
    file: Path
    dtype: str
    shape: tuple[int, ...]
    start: int
    end: int


def read_safetensors_index(path: Path) -> list[SafeTensor]:
    """The tensors of one safetensors file, in file order (no data is read)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            raw_length = handle.read(8)
            if len(raw_length) < 8:
                raise ConversionError(f"{path} is not a safetensors file (too short)")
            length = int.from_bytes(raw_length, "little")
            if not 2 <= length <= min(_MAX_HEADER_BYTES, size - 8):
                raise ConversionError(f"{path} is not a safetensors file (bad header length)")
            header = json.loads(handle.read(length))
    except OSError as exc:
        raise ConversionError(f"cannot read {path}: {exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConversionError(f"{path} is not a safetensors file ({exc})") from exc
    if not isinstance(header, dict):
        raise ConversionError(f"{path} is not a safetensors file")
    data_start = 8 + length
    tensors = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape = str(info["dtype"]), tuple(int(d) for d in info["shape"])
            begin, end = (int(x) for x in info["data_offsets"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ConversionError(f"{path}: malformed entry for {name}") from exc
        if dtype not in _DTYPES:
            raise ConversionError(f"{path}: tensor {name} has type {dtype}; only floating point weights convert")
        count = int(np.prod(shape, dtype=np.int64))
        if end - begin != count * np.dtype(_DTYPES[dtype]).itemsize or begin < 0:
            raise ConversionError(f"{path}: tensor {name} has {end - begin} bytes for shape {list(shape)}")
        if data_start + end > size:
            raise ConversionError(f"{path} is truncated (tensor {name} ends past the end of the file)")
        tensors.append(SafeTensor(name, path, dtype, shape, data_start + begin, data_start + end))
    return sorted(tensors, key=lambda t: t.start)


class SafeTensorsCheckpoint:
    """All tensors of a checkpoint folder (one file or shards), memory-mapped on demand."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        index_file, single = folder / INDEX_FILE, folder / SINGLE_FILE
        if index_file.is_file():
            try:
                weight_map = json.loads(index_file.read_text(encoding="utf-8"))["weight_map"]
                files = sorted(set(weight_map.values()))
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                raise ConversionError(f"cannot read {index_file}: {exc}") from exc
        elif single.is_file():
            files = [SINGLE_FILE]
        else:
            raise ConversionError(
                f"{folder} has no {SINGLE_FILE} or {INDEX_FILE}; only safetensors checkpoints convert"
            )
        self.tensors: dict[str, SafeTensor] = {}
        for file_name in files:
            path = folder / file_name
            if not path.is_file():
                raise ConversionError(f"the shard {file_name} listed in {INDEX_FILE} is missing")
            for tensor in read_safetensors_index(path):
                if tensor.name in self.tensors:
                    raise ConversionError(f"tensor {tensor.name} appears in two shards")
                self.tensors[tensor.name] = tensor
        self._maps: dict[Path, np.memmap] = {}

    def floats(self, name: str) -> np.ndarray:
        """A tensor as float32/float16 (bfloat16 is widened to float32)."""
        tensor = self.tensors[name]
        data = self._maps.get(tensor.file)
        if data is None:
            data = self._maps[tensor.file] = np.memmap(tensor.file, dtype=np.uint8, mode="r")
        values = data[tensor.start : tensor.end].view(_DTYPES[tensor.dtype]).reshape(tensor.shape)
        if tensor.dtype == "BF16":
            return (values.astype(np.uint32) << 16).view(np.float32)
        return values

    def close(self) -> None:
        self._maps.clear()


def whisper_name(hf_name: str) -> str | None:
    """OpenAI's name for a transformers Whisper tensor; None for tensors whisper.cpp does without."""
    name = hf_name.removeprefix("model.")
    if name in _TOP_LEVEL:
        return _TOP_LEVEL[name]
    match = _LAYER_NAME.match(name)
    if match:
        side, index, module, leaf = match.groups()
        if module.endswith("k_proj") and leaf == "bias":
            return None  # a key bias shifts every attention score of a query equally: no effect
        mapped = _LAYER_MODULES.get(module)
        if mapped is not None and (side == "decoder" or not mapped.startswith("cross_attn")):
            return f"{side}.blocks.{index}.{mapped}.{leaf}"
    raise ConversionError(f"the checkpoint has a tensor a Whisper model does not: {hf_name}")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConversionError(f"{path.parent} has no {path.name}; is it a transformers Whisper checkpoint?") from None
    except (OSError, ValueError) as exc:
        raise ConversionError(f"cannot read {path}: {exc}") from exc


def read_hf_vocabulary(folder: Path) -> list[str]:
    """The vocabulary in id order: vocab.json plus added_tokens.json, or tokenizer.json."""
    vocab_file, tokenizer = folder / "vocab.json", folder / "tokenizer.json"
    if vocab_file.is_file():
        ids = _read_json(vocab_file)
        added_file = folder / "added_tokens.json"
        if added_file.is_file():
            ids = {**ids, **_read_json(added_file)}
        if not isinstance(ids, dict):
            raise ConversionError(f"{vocab_file} is not a token → id mapping")
        return tokens_in_id_order(ids, vocab_file)
    if tokenizer.is_file():
        return tokens_from_tokenizer_json(tokenizer)
    raise ConversionError(f"{folder} has no vocab.json or tokenizer.json")


def _layer_count(names: list[str], side: str) -> int:
    pattern = re.compile(rf"^{side}\.blocks\.(\d+)\.")
    indices = {int(m.group(1)) for n in names if (m := pattern.match(n))}
    if not indices or indices != set(range(len(indices))):
        raise ConversionError(f"the checkpoint's {side} layers are missing or not numbered 0..n-1")
    return len(indices)


def hf_header(config: dict[str, Any], checkpoint: SafeTensorsCheckpoint, names: dict[str, str]) -> GgmlHeader:
    """whisper.cpp hyperparameters from config.json, checked against the tensor shapes."""
    if config.get("model_type", "whisper") != "whisper":
        raise ConversionError(f"the checkpoint is a '{config.get('model_type')}' model, not Whisper")
    by_target = {target: source for source, target in names.items()}
    try:
        embeddings = checkpoint.tensors[by_target["decoder.token_embedding.weight"]].shape
        audio_positions = checkpoint.tensors[by_target["encoder.positional_embedding"]].shape
        text_positions = checkpoint.tensors[by_target["decoder.positional_embedding"]].shape
        conv1 = checkpoint.tensors[by_target["encoder.conv1.weight"]].shape
        heads = int(config["encoder_attention_heads"]), int(config["decoder_attention_heads"])
    except KeyError as exc:
        raise ConversionError(f"the checkpoint lacks {exc.args[0]}") from None
    except (TypeError, ValueError) as exc:
        raise ConversionError(f"config.json has an invalid number of attention heads: {exc}") from None
    header = GgmlHeader(
        n_vocab=embeddings[0],
        n_audio_ctx=audio_positions[0],
        n_audio_state=audio_positions[1],
        n_audio_head=heads[0],
        n_audio_layer=_layer_count(list(by_target), "encoder"),
        n_text_ctx=text_positions[0],
        n_text_state=embeddings[1],
        n_text_head=heads[1],
        n_text_layer=_layer_count(list(by_target), "decoder"),
        n_mels=conv1[1],
        ftype=1,
    )
    declared = {
        "vocab_size": header.n_vocab,
        "d_model": header.n_audio_state,
        "num_mel_bins": header.n_mels,
        "encoder_layers": header.n_audio_layer,
        "decoder_layers": header.n_text_layer,
        "max_source_positions": header.n_audio_ctx,
        "max_target_positions": header.n_text_ctx,
    }
    for key, actual in declared.items():
        if key in config and config[key] != actual:
            raise ConversionError(f"config.json says {key}={config[key]} but the weights have {actual}")
    return header


def _check_output_projection(checkpoint: SafeTensorsCheckpoint, embeddings: str) -> None:
    # whisper.cpp computes the logits with the token embedding; a separate output
    # projection (never seen in Whisper, but possible after fine-tuning) would be lost.
    if _OUTPUT_PROJECTION in checkpoint.tensors:
        projection = checkpoint.floats(_OUTPUT_PROJECTION)
        if not np.array_equal(projection, checkpoint.floats(embeddings)):
            raise ConversionError(
                "the checkpoint's output projection differs from its token embedding; whisper.cpp cannot use it"
            )


def convert_hf(
    source: Path,
    output: Path,
    *,
    file_type: str = "f16",
    progress: Progress | None = None,
) -> GgmlHeader:
    """Convert the transformers Whisper checkpoint in folder ``source`` to a ggml file at ``output``.

    ``file_type`` is "f16" or "f32". The file is written atomically and checked to load
    the way whisper.cpp loads it; returns its header. ``progress`` receives (elements
    written, total elements). Raises :class:`ConversionError`.
    """
    folder = Path(source)
    if not folder.is_dir():
        raise ConversionError(f"{folder} is not a folder; give the checkpoint's folder")
    config = _read_json(folder / "config.json")
    if not isinstance(config, dict):
        raise ConversionError(f"{folder / 'config.json'} is not a configuration")
    tokens = vocabulary_bytes(read_hf_vocabulary(folder))
    checkpoint = SafeTensorsCheckpoint(folder)
    try:
        names = {
            hf: mapped
            for hf in checkpoint.tensors
            if hf != _OUTPUT_PROJECTION and (mapped := whisper_name(hf)) is not None
        }
        header = hf_header(config, checkpoint, names)
        if len(tokens) >= header.n_vocab:
            raise ConversionError(f"the vocabulary ({len(tokens)} text tokens) does not fit n_vocab={header.n_vocab}")
        by_target = {target: hf for hf, target in names.items()}
        _check_output_projection(checkpoint, by_target["decoder.token_embedding.weight"])
        total = sum(int(np.prod(checkpoint.tensors[hf].shape, dtype=np.int64)) for hf in names)

        def tensors() -> Iterator[tuple[str, np.ndarray]]:
            for hf, target in names.items():
                yield target, checkpoint.floats(hf)

        log.info("converting %s (%d tensors) to %s", folder, len(names), output)
        return write_whisper_ggml(
            Path(output), header, tokens, tensors(), file_type=file_type, progress=progress, total_elements=total
        )
    finally:
        checkpoint.close()
