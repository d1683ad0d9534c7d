"""Quantizing ggml models: which tensors, error bounds, ggml-identical bytes, whisper.cpp loading."""

from __future__ import annotations

import ctypes
import re
from pathlib import Path

import numpy as np
import pytest
from gguf import GGMLQuantizationType
from gguf import quants as gguf_quants

from sttdesk.engine.convert_common import vocabulary_bytes, write_whisper_ggml
from sttdesk.engine.errors import ConversionError, CorruptModelError
from sttdesk.engine.ggml_format import QUANTIZE_SKIP, GgmlHeader, GgmlReader, GgmlType, read_header
from sttdesk.engine.quantize import QUANTIZATION_TYPES, quantize_model
from tests.engine.tiny_models import TINY, openai_weights, whisper_cpp_transcribe, whisper_vocabulary

#: Worst error of one value, as a fraction of its block's largest magnitude: half a step
#: for rounding, a whole step where the asymmetric range clips (q4_0/q5_0 map -amax..amax
#: onto -8..7 / -16..15).
ERROR_BOUND = {"q8_0": 0.5 / 127, "q5_1": 1 / 31, "q5_0": 1 / 16, "q4_1": 1 / 15, "q4_0": 1 / 8}
QTYPE = {
    "q8_0": GgmlType.Q8_0,
    "q5_1": GgmlType.Q5_1,
    "q5_0": GgmlType.Q5_0,
    "q4_1": GgmlType.Q4_1,
    "q4_0": GgmlType.Q4_0,
}

JFK_WORDS = "and so my fellow americans ask not what your country can do for you ask what you can do for your country"


def words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z' ]", " ", text.lower()).split())


def tiny_header(ftype: int) -> GgmlHeader:
    s = TINY.n_state
    return GgmlHeader(TINY.n_vocab, TINY.n_audio_ctx, s, TINY.n_head, 2, TINY.n_text_ctx, s, TINY.n_head, 2, 80, ftype)


@pytest.fixture(scope="module")
def weights() -> dict[str, np.ndarray]:
    return openai_weights(seed=2)


def write_tiny(path: Path, weights: dict[str, np.ndarray], file_type: str) -> Path:
    header = tiny_header(1 if file_type == "f16" else 0)
    tokens = vocabulary_bytes(whisper_vocabulary())
    write_whisper_ggml(path, header, tokens, iter(weights.items()), file_type=file_type)
    return path


@pytest.fixture(scope="module")
def tiny_f16(tmp_path_factory: pytest.TempPathFactory, weights: dict[str, np.ndarray]) -> Path:
    return write_tiny(tmp_path_factory.mktemp("f16") / "ggml-tiny.bin", weights, "f16")


@pytest.fixture(scope="module")
def quantized(tmp_path_factory: pytest.TempPathFactory, tiny_f16: Path) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("quantized")
    return {q: (quantize_model(tiny_f16, folder / f"{q}.bin", q), folder / f"{q}.bin")[1] for q in QUANTIZATION_TYPES}


def tensors(path: Path) -> dict[str, tuple[GgmlType, np.ndarray]]:
    with GgmlReader(path) as reader:
        return {t.name: (t.ggml_type, np.array(t.data)) for t in reader.tensors()}


@pytest.mark.parametrize("quantization", QUANTIZATION_TYPES)
def test_header_and_tensor_types(quantized: dict[str, Path], quantization: str) -> None:
    header = read_header(quantized[quantization])
    assert header.quantization == quantization
    assert header.ftype == 2000 + header.file_type.ftype  # quantization version 2
    assert header.hparams()[:-1] == tiny_header(1).hparams()[:-1]
    for name, (ggml_type, data) in tensors(quantized[quantization]).items():
        if data.ndim == 2 and name not in QUANTIZE_SKIP:
            assert ggml_type == QTYPE[quantization], name
        elif name.endswith("conv1.weight") or name.endswith("conv2.weight"):
            assert ggml_type == GgmlType.F16, name
        else:
            assert ggml_type == GgmlType.F32, name


@pytest.mark.parametrize("quantization", QUANTIZATION_TYPES)
def test_round_trip_error_within_bounds(
    quantized: dict[str, Path], weights: dict[str, np.ndarray], quantization: str
) -> None:
    stored = tensors(quantized[quantization])
    for name in (
        "decoder.token_embedding.weight",
        "encoder.blocks.0.mlp.2.weight",
        "decoder.blocks.1.cross_attn.key.weight",
    ):
        ggml_type, data = stored[name]
        restored = gguf_quants.dequantize(data, GGMLQuantizationType(int(ggml_type)))
        source = weights[name].astype(np.float16).astype(np.float32)
        blocks_src = source.reshape(-1, 32)
        error = np.abs(restored.reshape(-1, 32) - blocks_src)
        amax = np.abs(blocks_src).max(axis=1, keepdims=True)
        # plus what storing the block scale (and minimum) as f16 can add
        assert np.all(error <= amax * (ERROR_BOUND[quantization] + 2**-10) + 1e-7), name


def test_more_bits_less_error(quantized: dict[str, Path], weights: dict[str, np.ndarray]) -> None:
    name = "encoder.blocks.1.mlp.0.weight"
    rms = {}
    for quantization, path in quantized.items():
        ggml_type, data = tensors(path)[name]
        restored = gguf_quants.dequantize(data, GGMLQuantizationType(int(ggml_type)))
        rms[quantization] = float(np.sqrt(np.mean((restored - weights[name]) ** 2)))
    assert rms["q8_0"] < rms["q5_1"] < rms["q4_1"]
    assert rms["q8_0"] < rms["q5_0"] < rms["q4_0"]


def test_untouched_tensors_are_copied_exactly(quantized: dict[str, Path], tiny_f16: Path) -> None:
    source = tensors(tiny_f16)
    result = tensors(quantized["q5_0"])
    for name in (*QUANTIZE_SKIP, "encoder.conv1.weight", "decoder.ln.weight", "encoder.blocks.0.attn.query.bias"):
        assert result[name][0] == source[name][0], name
        np.testing.assert_array_equal(result[name][1], source[name][1], err_msg=name)
    with GgmlReader(tiny_f16) as a, GgmlReader(quantized["q5_0"]) as b:
        assert a.tokens == b.tokens
        np.testing.assert_array_equal(a.mel_filters, b.mel_filters)


def _ggml_library() -> ctypes.CDLL:
    import pywhispercpp

    site = Path(pywhispercpp.__file__).resolve().parent.parent
    candidates = sorted(site.glob("libggml-base.so*")) + sorted((site / "pywhispercpp.libs").glob("libggml-base*.so*"))
    if not candidates:
        pytest.skip("ggml's own library is not found beside pywhispercpp")
    library = ctypes.CDLL(str(candidates[0]))
    library.ggml_quantize_chunk.restype = ctypes.c_size_t
    library.ggml_quantize_chunk.argtypes = [
        ctypes.c_int,
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_int64,
        ctypes.c_int64,
        ctypes.c_int64,
        ctypes.c_void_p,
    ]
    library.ggml_quantize_init.argtypes = [ctypes.c_int]
    return library


@pytest.mark.parametrize("quantization", QUANTIZATION_TYPES)
def test_bytes_match_ggml_own_quantizer(quantized: dict[str, Path], tiny_f16: Path, quantization: str) -> None:
    """The tensors are exactly what whisper.cpp's quantize tool (ggml_quantize_chunk) writes."""
    library = _ggml_library()
    qtype = QTYPE[quantization]
    source = tensors(tiny_f16)
    for name in ("decoder.blocks.0.attn.out.weight", "encoder.blocks.1.mlp.2.weight"):
        values = np.ascontiguousarray(source[name][1], dtype=np.float32)
        rows, row_length = values.shape
        out = np.zeros(values.size * 2, dtype=np.uint8)
        library.ggml_quantize_init(int(qtype))
        size = library.ggml_quantize_chunk(int(qtype), values.ctypes.data, out.ctypes.data, 0, rows, row_length, None)
        assert tensors(quantized[quantization])[name][1].tobytes() == out[:size].tobytes(), name


def test_row_chunking_does_not_change_the_result(tmp_path: Path, tiny_f16: Path, quantized: dict[str, Path]) -> None:
    output = tmp_path / "small-chunks.bin"
    quantize_model(tiny_f16, output, "q5_1", chunk_elements=1000)
    assert output.read_bytes() == quantized["q5_1"].read_bytes()


def test_from_f32_source(tmp_path: Path, weights: dict[str, np.ndarray]) -> None:
    source = write_tiny(tmp_path / "f32.bin", weights, "f32")
    header = quantize_model(source, tmp_path / "q8.bin", "q8_0")
    stored = tensors(tmp_path / "q8.bin")
    assert header.quantization == "q8_0"
    # whisper.cpp wants f16 convolution kernels in a quantized file, even from an f32 source
    assert stored["encoder.conv2.weight"][0] == GgmlType.F16


@pytest.mark.parametrize("quantization", ["q8_0", "q5_0", "q4_0"])
def test_quantized_tiny_model_runs_in_whisper_cpp(quantized: dict[str, Path], quantization: str) -> None:
    assert isinstance(whisper_cpp_transcribe(quantized[quantization], max_tokens=8), str)


def test_progress(tmp_path: Path, tiny_f16: Path) -> None:
    calls: list[tuple[int, int]] = []
    quantize_model(tiny_f16, tmp_path / "q.bin", "q8_0", progress=lambda d, t: calls.append((d, t)))
    assert calls[-1][0] == calls[-1][1] > 0
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:], strict=False))


# --- bad input ---------------------------------------------------------------------------------


def test_unknown_type(tmp_path: Path, tiny_f16: Path) -> None:
    with pytest.raises(ConversionError, match="unknown quantization 'q3_x'"):
        quantize_model(tiny_f16, tmp_path / "q.bin", "q3_x")
    assert not (tmp_path / "q.bin").exists()


def test_already_quantized_source(tmp_path: Path, quantized: dict[str, Path]) -> None:
    with pytest.raises(ConversionError, match="already quantized"):
        quantize_model(quantized["q8_0"], tmp_path / "q.bin", "q5_0")


def test_output_over_source(tmp_path: Path, weights: dict[str, np.ndarray]) -> None:
    source = write_tiny(tmp_path / "m.bin", weights, "f16")
    before = source.read_bytes()
    with pytest.raises(ConversionError, match="new file"):
        quantize_model(source, source, "q8_0")
    assert source.read_bytes() == before


def test_corrupt_source(tmp_path: Path, tiny_f16: Path) -> None:
    cut = tmp_path / "cut.bin"
    cut.write_bytes(tiny_f16.read_bytes()[:-100])
    with pytest.raises(CorruptModelError, match="truncated"):
        quantize_model(cut, tmp_path / "q.bin", "q8_0")
    assert not (tmp_path / "q.bin").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.bin"]


# --- the real model ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_base_f16(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sttdesk.engine.convert_ct2 import convert_ct2
    from sttdesk.engine.default_model import OfflineModelMissingError, join_parts, locate_packages

    try:
        source = locate_packages()
    except OfflineModelMissingError as exc:
        pytest.skip(f"offline model packages not installed: {exc.detail}")
    folder = tmp_path_factory.mktemp("real")
    convert_ct2(join_parts(source, folder / "ct2"), folder / "ggml-base.bin")
    return folder / "ggml-base.bin"


@pytest.mark.slow
@pytest.mark.parametrize(("quantization", "official_size"), [("q8_0", 81_768_585), ("q5_0", None)])
def test_real_base_quantized_transcribes_jfk(
    tmp_path: Path, real_base_f16: Path, en_audio: Path, quantization: str, official_size: int | None
) -> None:
    output = tmp_path / f"ggml-base-{quantization}.bin"
    header = quantize_model(real_base_f16, output, quantization)
    assert header.model_size == "base" and header.quantization == quantization
    if official_size is not None:
        assert header.file_size == official_size  # the size of whisper.cpp's published file
    assert words(whisper_cpp_transcribe(output, en_audio / "jfk.wav")) == JFK_WORDS
