"""whisper.cpp ggml files: header reading, validation of damaged files, atomic writing."""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import numpy as np
import pytest

from sttdesk.engine.convert_common import vocabulary_bytes, write_whisper_ggml
from sttdesk.engine.errors import ConversionError, CorruptModelError, DiskFullError
from sttdesk.engine.ggml_format import (
    GGML_MAGIC,
    QUANTIZE_SKIP,
    GgmlHeader,
    GgmlReader,
    GgmlType,
    GgmlWriter,
    expected_tensors,
    is_quantizable,
    read_header,
)
from sttdesk.engine.mel import mel_filters
from tests.engine.tiny_models import KNOWN_TOKENS, TINY, openai_weights, small_filesystem, whisper_vocabulary

# 7 encoder-wide + 4 decoder-wide tensors, 15 per encoder block, 24 per decoder block
N_TENSORS = 11 + 15 * TINY.n_audio_layer + 24 * TINY.n_text_layer


def tiny_header(ftype: int = 1) -> GgmlHeader:
    return GgmlHeader(
        n_vocab=TINY.n_vocab,
        n_audio_ctx=TINY.n_audio_ctx,
        n_audio_state=TINY.n_state,
        n_audio_head=TINY.n_head,
        n_audio_layer=TINY.n_audio_layer,
        n_text_ctx=TINY.n_text_ctx,
        n_text_state=TINY.n_state,
        n_text_head=TINY.n_head,
        n_text_layer=TINY.n_text_layer,
        n_mels=TINY.n_mels,
        ftype=ftype,
    )


@pytest.fixture(scope="module")
def weights() -> dict[str, np.ndarray]:
    return openai_weights()


@pytest.fixture(scope="module")
def tiny_ggml(tmp_path_factory: pytest.TempPathFactory, weights: dict[str, np.ndarray]) -> Path:
    path = tmp_path_factory.mktemp("ggml") / "tiny.bin"
    write_whisper_ggml(path, tiny_header(), vocabulary_bytes(whisper_vocabulary()), iter(weights.items()))
    return path


def test_header_of_a_written_model(tiny_ggml: Path) -> None:
    header = read_header(tiny_ggml)
    assert header.hparams() == tiny_header().hparams()
    assert header.quantization == "f16"
    assert header.model_size == "custom"
    assert header.is_multilingual
    assert header.n_tokens == 50257
    assert header.n_tensors == N_TENSORS
    assert header.file_size == tiny_ggml.stat().st_size


def test_tensors_round_trip_with_whisper_cpp_types(tiny_ggml: Path, weights: dict[str, np.ndarray]) -> None:
    with GgmlReader(tiny_ggml) as reader:
        tensors = {t.name: t for t in reader.tensors()}
        np.testing.assert_array_equal(reader.mel_filters, mel_filters(80))
    assert set(tensors) == set(weights)
    # big matrices f16, conv kernels f16, vectors/biases/positional embeddings f32
    assert tensors["decoder.token_embedding.weight"].ggml_type == GgmlType.F16
    assert tensors["encoder.conv1.weight"].ggml_type == GgmlType.F16
    assert tensors["encoder.conv1.weight"].info.ne == (3, TINY.n_mels, TINY.n_state)
    assert tensors["encoder.conv1.bias"].ggml_type == GgmlType.F32
    assert tensors["encoder.conv1.bias"].shape == (TINY.n_state, 1)
    assert tensors["encoder.positional_embedding"].ggml_type == GgmlType.F32
    assert tensors["decoder.blocks.1.mlp_ln.bias"].ggml_type == GgmlType.F32
    for name, value in weights.items():
        stored = tensors[name].data
        np.testing.assert_array_equal(stored.reshape(value.shape), value.astype(stored.dtype), err_msg=name)


def test_vocabulary_is_stored_as_raw_bytes(tiny_ggml: Path) -> None:
    with GgmlReader(tiny_ggml) as reader:
        tokens = reader.tokens
    assert len(tokens) == 50257
    for index, (_, raw) in KNOWN_TOKENS.items():
        assert tokens[index] == raw
    assert tokens[ord("a")] == b"a"  # the tiny vocabulary starts with the 256 bytes in order
    assert tokens[50256] == b""  # the multilingual vocabulary's empty token


@pytest.mark.parametrize(
    ("audio_layers", "state", "text_layers", "n_vocab", "name"),
    [
        (4, 384, 4, 51865, "tiny"),
        (4, 384, 4, 51864, "tiny.en"),
        (6, 512, 6, 51865, "base"),
        (12, 768, 12, 51865, "small"),
        (24, 1024, 24, 51864, "medium.en"),
        (32, 1280, 32, 51865, "large"),
        (32, 1280, 32, 51866, "large-v3"),
        (32, 1280, 4, 51866, "large-v3-turbo"),
        (32, 1280, 2, 51866, "custom"),
        (6, 384, 6, 51865, "custom"),
    ],
)
def test_model_size_names(audio_layers: int, state: int, text_layers: int, n_vocab: int, name: str) -> None:
    header = GgmlHeader(n_vocab, 1500, state, 8, audio_layers, 448, state, 8, text_layers, 80, 1)
    assert header.model_size == name


@pytest.mark.parametrize(
    ("ftype", "name"), [(0, "f32"), (1, "f16"), (2007, "q8_0"), (2008, "q5_0"), (2009, "q5_1"), (2002, "q4_0")]
)
def test_quantization_names(ftype: int, name: str) -> None:
    assert GgmlHeader(*tiny_header().hparams()[:-1], ftype).quantization == name


def test_quantized_tensors_are_the_ones_whisper_cpp_quantizes() -> None:
    # whisper.cpp's quantize tool converts the 2-D tensors but the named exceptions; its
    # loader expects the file's weight type for exactly those: the two tables must agree.
    for spec in expected_tensors(tiny_header()).values():
        assert is_quantizable(spec.name, len(spec.ne)) == (spec.kind == "weight"), spec.name
    assert all(name in expected_tensors(tiny_header()) for name in QUANTIZE_SKIP)


# --- damaged files ------------------------------------------------------------------


def _expect_corrupt(path: Path, fragment: str) -> CorruptModelError:
    with pytest.raises(CorruptModelError) as caught:
        read_header(path)
    assert fragment in caught.value.detail
    assert str(path) in caught.value.user_message("en")
    assert caught.value.user_message("vi") != caught.value.user_message("en")
    return caught.value


def test_missing_file_and_folder(tmp_path: Path) -> None:
    _expect_corrupt(tmp_path / "nothing.bin", "does not exist")
    _expect_corrupt(tmp_path, "folder")


@pytest.mark.parametrize("content", [b"", b"GGUF" + bytes(100), b"<html>404 Not Found</html>"])
def test_not_a_ggml_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(content)
    _expect_corrupt(path, "wrong magic")


@pytest.mark.parametrize(
    ("keep", "where"),
    [
        (20, "header"),
        (60, "mel filters"),
        (48 + 80 * 201 * 4 + 4 + 1000, "vocabulary"),
        (-1, "data of tensor"),
        (-1000, "data of tensor"),
    ],
)
def test_truncated_file(tmp_path: Path, tiny_ggml: Path, keep: int, where: str) -> None:
    data = tiny_ggml.read_bytes()
    path = tmp_path / "cut.bin"
    path.write_bytes(data[:keep])
    _expect_corrupt(path, "truncated")
    assert where in str(read_error(path))


def read_error(path: Path) -> str:
    try:
        read_header(path)
    except CorruptModelError as exc:
        return exc.detail
    raise AssertionError("no error")


def _patched(tmp_path: Path, source: Path, offset: int, value: int) -> Path:
    data = bytearray(source.read_bytes())
    struct.pack_into("<i", data, offset, value)
    path = tmp_path / "patched.bin"
    path.write_bytes(bytes(data))
    return path


# the eleven header integers, in file order
_FIELDS = {field.name: index for index, field in enumerate(dataclasses.fields(GgmlHeader)[:11])}


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("n_audio_layer", 6, "missing tensors"),
        ("n_text_layer", 1, "unexpected tensor 'decoder.blocks.1."),
        ("n_audio_ctx", 1000, "encoder.positional_embedding' has dimensions"),
        ("n_vocab", -5, "out of range"),
        ("n_audio_head", 7, "heads"),
        ("n_text_state", 32, "widths differ"),
        ("n_mels", 128, "mel filter bank"),
        ("ftype", 5, "unknown weight type"),
        ("ftype", 1007, "old whisper.cpp"),  # q8_0 in the pre-2023 quantization format
        ("ftype", 0, "stored as F16, expected F32"),  # says f32 but holds f16
    ],
)
def test_inconsistent_header(tmp_path: Path, tiny_ggml: Path, field: str, value: int, fragment: str) -> None:
    path = _patched(tmp_path, tiny_ggml, 4 + 4 * _FIELDS[field], value)
    _expect_corrupt(path, fragment)


def test_tensor_with_wrong_shape_is_reported(tmp_path: Path, weights: dict[str, np.ndarray]) -> None:
    bad = dict(weights)
    path = tmp_path / "bad.bin"
    header = tiny_header()
    writer = GgmlWriter(path, header, mel_filters(80), [b"a"])
    for name, value in bad.items():
        spec = expected_tensors(header)[name]
        shape = tuple(reversed(spec.ne))
        if name == "decoder.ln.bias":
            shape, value = (32,), value[:32]
        writer.add_tensor(name, shape, spec.storage_type(GgmlType.F16), value.reshape(shape))
    with pytest.raises(ConversionError, match="decoder.ln.bias.*dimensions"):
        writer.commit()
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_extra_and_repeated_tensors(tmp_path: Path, tiny_ggml: Path) -> None:
    data = tiny_ggml.read_bytes()
    extra = struct.pack("<3i", 1, 9, 0) + struct.pack("<i", 4) + b"extra.one" + bytes(16)
    path = tmp_path / "extra.bin"
    path.write_bytes(data + extra)
    _expect_corrupt(path, "unexpected tensor 'extra.one'")
    # the last tensor once more
    with GgmlReader(tiny_ggml) as reader:
        last = reader.scan()[-1]
    head_size = 12 + 4 * len(last.ne) + len(last.name)
    path.write_bytes(data + data[last.offset - head_size :])
    _expect_corrupt(path, "appears twice")


# --- writing ----------------------------------------------------------------------------


def test_writer_leaves_nothing_behind_on_error(tmp_path: Path) -> None:
    target = tmp_path / "model.bin"
    with pytest.raises(RuntimeError, match="stop"), GgmlWriter(target, tiny_header(), mel_filters(80), [b"x"]):
        raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []


def test_writer_refuses_an_incomplete_model(tmp_path: Path) -> None:
    target = tmp_path / "model.bin"
    target.write_bytes(b"previous content")
    writer = GgmlWriter(target, tiny_header(), mel_filters(80), [b"x"])
    writer.add_tensor("decoder.ln.bias", (TINY.n_state,), GgmlType.F32, np.zeros(TINY.n_state))
    with pytest.raises(ConversionError, match="missing tensors"):
        writer.commit()
    assert target.read_bytes() == b"previous content"  # an existing file is never half-replaced
    assert [p.name for p in tmp_path.iterdir()] == ["model.bin"]


def test_writer_checks_data_size_and_names(tmp_path: Path) -> None:
    writer = GgmlWriter(tmp_path / "m.bin", tiny_header(), mel_filters(80), [])
    try:
        with pytest.raises(ConversionError, match="bytes of data"):
            writer.add_tensor("decoder.ln.bias", (TINY.n_state,), GgmlType.F32, np.zeros(3))
        with pytest.raises(ConversionError, match="invalid or repeated"):
            writer.add_tensor("bad name!", (4,), GgmlType.F32, np.zeros(4))
        with pytest.raises(ConversionError, match="cannot be stored as Q8_0"):
            writer.add_tensor("x.weight", (4, 10), GgmlType.Q8_0, np.zeros(8, np.uint8))
    finally:
        writer.abort()
    with pytest.raises(ConversionError, match="mel filter bank"):
        GgmlWriter(tmp_path / "m.bin", tiny_header(), mel_filters(128), [])
    with pytest.raises(ConversionError, match="longer than"):
        GgmlWriter(tmp_path / "m.bin", tiny_header(), mel_filters(80), [b"x" * 5000])
    assert list(tmp_path.iterdir()) == []


def test_file_starts_with_ggml_magic(tiny_ggml: Path) -> None:
    raw = tiny_ggml.read_bytes()[:48]
    magic, *hparams = struct.unpack("<I11i", raw)
    assert magic == GGML_MAGIC
    assert raw[:4] == b"lmgg"  # the magic as whisper.cpp reads it on a little-endian machine
    assert tuple(hparams) == tiny_header().hparams()


def test_full_disk(tmp_path: Path, weights: dict[str, np.ndarray]) -> None:
    with small_filesystem(tmp_path / "small", "2m") as folder:
        with pytest.raises(DiskFullError) as caught:
            write_whisper_ggml(folder / "m.bin", tiny_header(), [b"a"], iter(weights.items()))
        assert caught.value.transient
        assert list(folder.iterdir()) == []  # the partial file is gone
