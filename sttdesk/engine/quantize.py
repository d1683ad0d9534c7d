"""Quantize a whisper.cpp f16/f32 model to q8_0, q5_0, q5_1, q4_1 or q4_0.

Converts the same tensors whisper.cpp's own ``quantize`` tool does: every 2-D tensor
except the convolution biases and the positional embeddings (:data:`QUANTIZE_SKIP`).
Convolution kernels stay f16 and vectors f32, which is what whisper.cpp's loader
expects for a quantized file (it also stores the header's ftype as 2000 + type).
The block quantizers are the `gguf` package's numpy ports of ggml's reference ones,
so the bytes match what whisper.cpp's tool writes. Work goes tensor by tensor and,
within a tensor, a bounded number of rows at a time, so memory stays small even for
the large models.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType
from gguf import quants as gguf_quants

from .convert_common import Progress
from .errors import ConversionError
from .ggml_format import (
    FILE_TYPES,
    GgmlHeader,
    GgmlReader,
    GgmlTensor,
    GgmlType,
    GgmlWriter,
    expected_tensors,
    is_quantizable,
)

log = logging.getLogger(__name__)

#: Quantization types this module writes, most accurate first.
QUANTIZATION_TYPES = ("q8_0", "q5_1", "q5_0", "q4_1", "q4_0")
#: Floats quantized per step (16 MB as float32); bounds memory whatever the model size.
CHUNK_ELEMENTS = 1 << 22


def _row_chunks(tensor: GgmlTensor, qtype: GgmlType, chunk_elements: int, on_rows: Progress) -> Iterator[np.ndarray]:
    """The tensor quantized a block of rows at a time (rows are independent in ggml's formats)."""
    row_length = tensor.shape[-1]
    rows = tensor.data.reshape(-1, row_length)
    step = max(1, chunk_elements // row_length)
    target = GGMLQuantizationType(int(qtype))
    for start in range(0, rows.shape[0], step):
        block = np.asarray(rows[start : start + step], dtype=np.float32)
        yield gguf_quants.quantize(block, target)
        on_rows(block.size, 0)


def quantize_model(
    source: Path,
    output: Path,
    quantization: str,
    *,
    progress: Progress | None = None,
    chunk_elements: int = CHUNK_ELEMENTS,
) -> GgmlHeader:
    """Write ``output``: the f16/f32 whisper.cpp model ``source`` quantized to ``quantization``.

    ``quantization`` is one of :data:`QUANTIZATION_TYPES`. The output is written atomically
    and checked to load the way whisper.cpp loads it; returns its header. ``progress``
    receives (tensor elements done, total elements). Raises :class:`ConversionError` for an
    unknown type, an already quantized source or ``output`` equal to ``source``, and
    :class:`CorruptModelError` for a damaged source.
    """
    name = quantization.lower()
    if name not in QUANTIZATION_TYPES:
        raise ConversionError(f"unknown quantization '{quantization}'; choose one of {', '.join(QUANTIZATION_TYPES)}")
    source, output = Path(source), Path(output)
    if output.exists() and output.resolve() == source.resolve():
        raise ConversionError("the quantized model must be written to a new file, not over its source")
    target_type = FILE_TYPES[name]
    with GgmlReader(source) as reader:
        header = reader.validate()
        if header.file_type.weight_type.is_quantized:
            raise ConversionError(
                f"{source.name} is already quantized ({header.quantization}); quantize from the f16 or f32 model"
            )
        target = header.with_file_type(target_type)
        expected = expected_tensors(target)
        infos = reader.scan()
        total = sum(int(np.prod(info.ne, dtype=np.int64)) for info in infos)
        done = 0

        def advance(count: int, _: int) -> None:
            nonlocal done
            done += count
            if progress is not None:
                progress(min(done, total), total)

        log.info("quantizing %s (%s) to %s as %s", source, header.quantization, output, name)
        writer = GgmlWriter(output, target, reader.mel_filters, reader.tokens)
        try:
            for tensor in reader.tensors(infos):
                storage = expected[tensor.name].storage_type(target_type.weight_type)
                if storage.is_quantized:
                    # Kept in step with whisper.cpp's tool by construction; this guards the tables.
                    assert is_quantizable(tensor.name, len(tensor.shape)), tensor.name
                    if tensor.shape[-1] % storage.block_size:
                        raise ConversionError(
                            f"tensor {tensor.name} rows ({tensor.shape[-1]}) are not a multiple of "
                            f"{storage.block_size}; it cannot be stored as {name}"
                        )
                    writer.add_tensor(
                        tensor.name, tensor.shape, storage, _row_chunks(tensor, storage, chunk_elements, advance)
                    )
                else:
                    writer.add_tensor(tensor.name, tensor.shape, storage, tensor.data)
                    advance(tensor.data.size, 0)
            written = writer.commit()
        except BaseException:
            writer.abort()
            raise
    if progress is not None:
        progress(total, total)
    return written
