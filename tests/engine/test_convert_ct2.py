"""CTranslate2 Whisper → ggml: tiny models written by the test, and the real base model."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from sttdesk.engine.convert_ct2 import Ct2Model, convert_ct2
from sttdesk.engine.errors import ConversionError
from sttdesk.engine.ggml_format import GgmlReader, GgmlType, read_header
from tests.engine.tiny_models import (
    KNOWN_TOKENS,
    TINY,
    openai_weights,
    whisper_cpp_transcribe,
    write_ct2_model,
)

JFK_WORDS = "and so my fellow americans ask not what your country can do for you ask what you can do for your country"


def words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z' ]", " ", text.lower()).split())


@pytest.fixture(scope="module")
def weights() -> dict[str, np.ndarray]:
    return openai_weights(seed=1)


@pytest.fixture(scope="module")
def tiny_ct2(tmp_path_factory: pytest.TempPathFactory, weights: dict[str, np.ndarray]) -> Path:
    return write_ct2_model(tmp_path_factory.mktemp("ct2") / "tiny", weights)


@pytest.fixture(scope="module")
def tiny_ggml(tmp_path_factory: pytest.TempPathFactory, tiny_ct2: Path) -> Path:
    output = tmp_path_factory.mktemp("out") / "ggml-tiny.bin"
    convert_ct2(tiny_ct2, output)
    return output


def read_all(path: Path) -> dict[str, tuple[GgmlType, np.ndarray]]:
    with GgmlReader(path) as reader:
        return {t.name: (t.ggml_type, np.array(t.data)) for t in reader.tensors()}


def test_the_test_model_is_a_real_ctranslate2_model(tiny_ct2: Path) -> None:
    ctranslate2 = pytest.importorskip("ctranslate2")
    model = ctranslate2.models.Whisper(str(tiny_ct2), device="cpu", compute_type="float32")
    assert model.is_multilingual
    assert model.n_mels == TINY.n_mels


def test_converted_model_holds_the_weights_under_whisper_cpp_names(
    tiny_ggml: Path, weights: dict[str, np.ndarray]
) -> None:
    header = read_header(tiny_ggml)
    assert (header.n_audio_layer, header.n_text_layer, header.n_audio_head) == (2, 2, TINY.n_head)
    assert (header.n_audio_state, header.n_mels, header.n_vocab) == (TINY.n_state, 80, TINY.n_vocab)
    assert header.quantization == "f16"
    stored = read_all(tiny_ggml)
    assert set(stored) == set(weights)  # every tensor, no key biases, no projection alias
    assert not any(name.endswith("key.bias") for name in stored)
    for name, value in weights.items():
        ggml_type, data = stored[name]
        expected = value.astype(np.float16).astype(np.float32)
        np.testing.assert_array_equal(data.astype(np.float32).reshape(value.shape), expected, err_msg=name)
    # the fused projections were split in the right order
    assert stored["encoder.blocks.1.attn.key.weight"][1].shape == (TINY.n_state, TINY.n_state)
    assert stored["decoder.blocks.0.cross_attn.value.bias"][0] == GgmlType.F32


def test_vocabulary_bytes(tiny_ggml: Path) -> None:
    with GgmlReader(tiny_ggml) as reader:
        tokens = reader.tokens
    assert len(tokens) == 50257  # text tokens only; whisper.cpp names the special ones
    for index, (_, raw) in KNOWN_TOKENS.items():
        assert tokens[index] == raw


def test_f32_output(tmp_path: Path, tiny_ct2: Path, weights: dict[str, np.ndarray]) -> None:
    output = tmp_path / "f32.bin"
    header = convert_ct2(tiny_ct2, output, file_type="f32")
    assert header.quantization == "f32" and header.ftype == 0
    stored = read_all(output)
    assert {t for t, _ in stored.values()} == {GgmlType.F32}
    np.testing.assert_array_equal(
        stored["encoder.conv2.weight"][1].reshape(weights["encoder.conv2.weight"].shape),
        weights["encoder.conv2.weight"].astype(np.float16).astype(np.float32),
    )


def test_loads_and_runs_in_whisper_cpp(tiny_ggml: Path) -> None:
    text = whisper_cpp_transcribe(tiny_ggml, max_tokens=8)
    assert isinstance(text, str)


@pytest.mark.parametrize("vocabulary", ["vocabulary.json", "tokenizer.json"])
def test_other_vocabulary_files(tmp_path: Path, weights: dict[str, np.ndarray], vocabulary: str) -> None:
    folder = write_ct2_model(tmp_path / "m", weights, vocabulary=vocabulary)
    assert not (folder / "vocabulary.txt").exists()
    convert_ct2(folder, tmp_path / "out.bin")
    with GgmlReader(tmp_path / "out.bin") as reader:
        assert reader.tokens[304] == KNOWN_TOKENS[304][1]
        assert len(reader.tokens) == 50257


def test_old_binary_version(tmp_path: Path, weights: dict[str, np.ndarray]) -> None:
    # versions before 4 stored each variable's item size and element count instead of a dtype
    folder = write_ct2_model(tmp_path / "m", weights, dtype="float32", binary_version=3)
    with Ct2Model(folder / "model.bin") as model:
        assert model.binary_version == 3
    convert_ct2(folder, tmp_path / "out.bin")
    stored = read_all(tmp_path / "out.bin")
    np.testing.assert_allclose(
        stored["decoder.blocks.1.mlp.2.weight"][1].astype(np.float32),
        weights["decoder.blocks.1.mlp.2.weight"],
        rtol=1e-3,
        atol=1e-6,
    )


def test_int8_model_is_dequantized(tmp_path: Path, weights: dict[str, np.ndarray]) -> None:
    folder = write_ct2_model(tmp_path / "m", weights, dtype="int8")
    convert_ct2(folder, tmp_path / "out.bin")
    stored = read_all(tmp_path / "out.bin")
    original = weights["encoder.blocks.0.mlp.0.weight"]
    converted = stored["encoder.blocks.0.mlp.0.weight"][1].astype(np.float32)
    # int8 keeps each row to within half a step of max|row| / 127 (plus f16 rounding)
    step = np.abs(original).max(axis=1, keepdims=True) / 127
    assert np.all(np.abs(converted - original) <= step / 2 + 1e-3)
    assert np.abs(converted - original).max() > 0  # it really went through int8


def test_progress_reaches_the_total(tmp_path: Path, tiny_ct2: Path) -> None:
    calls: list[tuple[int, int]] = []
    convert_ct2(tiny_ct2, tmp_path / "out.bin", progress=lambda done, total: calls.append((done, total)))
    assert len(calls) > 10
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:], strict=False))
    assert calls[-1][0] == calls[-1][1] > 0


# --- bad input ----------------------------------------------------------------------------


def test_missing_model(tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="no model.bin"):
        convert_ct2(tmp_path, tmp_path / "out.bin")


def test_truncated_model_bin(tmp_path: Path, tiny_ct2: Path) -> None:
    folder = tmp_path / "cut"
    shutil.copytree(tiny_ct2, folder)
    data = (folder / "model.bin").read_bytes()
    (folder / "model.bin").write_bytes(data[: len(data) // 2])
    with pytest.raises(ConversionError, match="truncated"):
        convert_ct2(folder, tmp_path / "out.bin")
    assert not (tmp_path / "out.bin").exists()


@pytest.mark.parametrize(
    ("offset", "patch", "message"),
    [
        (0, b"\x07\x00\x00\x00", "unsupported CTranslate2 model version 7"),
        (6, b"Bert", "not a Whisper model"),
    ],
)
def test_not_a_whisper_ct2_model(tmp_path: Path, tiny_ct2: Path, offset: int, patch: bytes, message: str) -> None:
    folder = tmp_path / "bad"
    shutil.copytree(tiny_ct2, folder)
    data = bytearray((folder / "model.bin").read_bytes())
    data[offset : offset + len(patch)] = patch
    (folder / "model.bin").write_bytes(bytes(data))
    with pytest.raises(ConversionError, match=message):
        convert_ct2(folder, tmp_path / "out.bin")


def test_missing_or_wrong_vocabulary(tmp_path: Path, tiny_ct2: Path) -> None:
    folder = tmp_path / "novocab"
    shutil.copytree(tiny_ct2, folder)
    (folder / "vocabulary.txt").unlink()
    with pytest.raises(ConversionError, match="no vocabulary"):
        convert_ct2(folder, tmp_path / "out.bin")
    (folder / "vocabulary.txt").write_text("a\nb\nc\n", encoding="utf-8")
    with pytest.raises(ConversionError, match="endoftext"):
        convert_ct2(folder, tmp_path / "out.bin")


def test_cannot_convert_straight_to_integer_types(tmp_path: Path, tiny_ct2: Path) -> None:
    with pytest.raises(ConversionError, match="quantize afterwards") as caught:
        convert_ct2(tiny_ct2, tmp_path / "out.bin", file_type="q8_0")
    assert caught.value.user_message("vi").startswith("Không chuyển đổi được")


# --- the real model -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_base_ct2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sttdesk.engine.default_model import OfflineModelMissingError, join_parts, locate_packages

    try:
        source = locate_packages()
    except OfflineModelMissingError as exc:
        pytest.skip(f"offline model packages not installed: {exc.detail}")
    return join_parts(source, tmp_path_factory.mktemp("base-ct2"))


@pytest.mark.slow
def test_real_base_model_transcribes_jfk(tmp_path: Path, real_base_ct2: Path, en_audio: Path) -> None:
    output = tmp_path / "ggml-base.bin"
    header = convert_ct2(real_base_ct2, output)
    assert header.model_size == "base" and header.quantization == "f16"
    assert header.n_tensors == 245
    # byte for byte the size of whisper.cpp's official ggml-base.bin
    assert header.file_size == 147_951_465
    assert words(whisper_cpp_transcribe(output, en_audio / "jfk.wav")) == JFK_WORDS
