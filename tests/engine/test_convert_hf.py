"""Hugging Face transformers Whisper (safetensors) → ggml, on tiny checkpoints written by the test."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from sttdesk.engine.convert_ct2 import convert_ct2
from sttdesk.engine.convert_hf import convert_hf, whisper_name
from sttdesk.engine.errors import ConversionError
from sttdesk.engine.ggml_format import GgmlReader, GgmlType, read_header
from tests.engine.tiny_models import (
    KNOWN_TOKENS,
    TINY,
    hf_name,
    openai_weights,
    whisper_cpp_transcribe,
    write_ct2_model,
    write_hf_checkpoint,
    write_safetensors,
)


@pytest.fixture(scope="module")
def weights() -> dict[str, np.ndarray]:
    return openai_weights(seed=3)


@pytest.fixture(scope="module")
def tiny_hf(tmp_path_factory: pytest.TempPathFactory, weights: dict[str, np.ndarray]) -> Path:
    return write_hf_checkpoint(tmp_path_factory.mktemp("hf") / "tiny", weights)


@pytest.fixture(scope="module")
def tiny_ggml(tmp_path_factory: pytest.TempPathFactory, tiny_hf: Path) -> Path:
    output = tmp_path_factory.mktemp("out") / "ggml-tiny.bin"
    convert_hf(tiny_hf, output)
    return output


def read_all(path: Path) -> dict[str, tuple[GgmlType, np.ndarray]]:
    with GgmlReader(path) as reader:
        return {t.name: (t.ggml_type, np.array(t.data)) for t in reader.tensors()}


def test_converted_checkpoint_holds_the_weights(tiny_ggml: Path, weights: dict[str, np.ndarray]) -> None:
    header = read_header(tiny_ggml)
    assert (header.n_audio_layer, header.n_text_layer, header.n_text_head, header.n_mels) == (2, 2, TINY.n_head, 80)
    assert header.quantization == "f16"
    stored = read_all(tiny_ggml)
    assert set(stored) == set(weights)
    for name, value in weights.items():
        ggml_type, data = stored[name]
        # from an f32 checkpoint, what whisper.cpp keeps in f32 stays exact
        expected = value if ggml_type == GgmlType.F32 else value.astype(np.float16).astype(np.float32)
        np.testing.assert_array_equal(data.astype(np.float32).reshape(value.shape), expected, err_msg=name)
    assert stored["encoder.conv1.bias"][0] == GgmlType.F32
    with GgmlReader(tiny_ggml) as reader:
        assert [reader.tokens[i] for i in KNOWN_TOKENS] == [raw for _, raw in KNOWN_TOKENS.values()]
        assert len(reader.tokens) == 50257


def test_loads_and_runs_in_whisper_cpp(tiny_ggml: Path) -> None:
    assert isinstance(whisper_cpp_transcribe(tiny_ggml, max_tokens=8), str)


def test_same_model_from_both_layouts_gives_the_same_ggml(
    tmp_path: Path, tiny_ggml: Path, weights: dict[str, np.ndarray]
) -> None:
    ct2 = write_ct2_model(tmp_path / "ct2", weights, dtype="float32")
    convert_ct2(ct2, tmp_path / "from-ct2.bin")
    from_hf, from_ct2 = read_all(tiny_ggml), read_all(tmp_path / "from-ct2.bin")
    assert set(from_hf) == set(from_ct2)
    for name in from_hf:
        assert from_hf[name][0] == from_ct2[name][0], name
        np.testing.assert_array_equal(from_hf[name][1], from_ct2[name][1], err_msg=name)


def test_sharded_bfloat16_checkpoint_with_tokenizer_json(tmp_path: Path, weights: dict[str, np.ndarray]) -> None:
    folder = write_hf_checkpoint(
        tmp_path / "bf16", weights, dtype="bfloat16", shards=3, tokenizer="tokenizer.json", with_proj_out=True
    )
    assert len(list(folder.glob("*.safetensors"))) == 3 and not (folder / "vocab.json").exists()
    header = convert_hf(folder, tmp_path / "out.bin", file_type="f32")
    assert header.quantization == "f32"
    stored = read_all(tmp_path / "out.bin")
    for name, value in weights.items():
        data = stored[name][1].reshape(value.shape)
        # bfloat16 keeps 8 significant bits
        np.testing.assert_allclose(data, value, rtol=2**-8, atol=0, err_msg=name)


def test_key_bias_and_plain_whisper_model_names(tmp_path: Path, weights: dict[str, np.ndarray]) -> None:
    # WhisperModel checkpoints have no "model." prefix; a k_proj bias (always zero in
    # Whisper) may be present and is dropped.
    folder = tmp_path / "plain"
    write_hf_checkpoint(folder, weights)
    state = {hf_name(n).removeprefix("model."): v for n, v in weights.items()}
    state["encoder.layers.0.self_attn.k_proj.bias"] = np.zeros(TINY.n_state, dtype=np.float32)
    write_safetensors(folder / "model.safetensors", state, "float16")
    convert_hf(folder, tmp_path / "out.bin")
    assert "encoder.blocks.0.attn.key.bias" not in read_all(tmp_path / "out.bin")


def test_name_mapping() -> None:
    assert whisper_name("model.decoder.layers.3.encoder_attn.k_proj.weight") == "decoder.blocks.3.cross_attn.key.weight"
    assert whisper_name("model.encoder.layers.0.fc2.bias") == "encoder.blocks.0.mlp.2.bias"
    assert whisper_name("encoder.embed_positions.weight") == "encoder.positional_embedding"
    assert whisper_name("model.decoder.layers.0.self_attn.k_proj.bias") is None
    with pytest.raises(ConversionError, match="does not"):
        whisper_name("model.encoder.layers.0.encoder_attn.q_proj.weight")  # no cross-attention in the encoder


def test_progress(tmp_path: Path, tiny_hf: Path) -> None:
    calls: list[tuple[int, int]] = []
    convert_hf(tiny_hf, tmp_path / "out.bin", progress=lambda d, t: calls.append((d, t)))
    assert calls[-1][0] == calls[-1][1] > 0
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:], strict=False))


# --- bad checkpoints -----------------------------------------------------------------------------


@pytest.fixture
def copy(tmp_path: Path, tiny_hf: Path) -> Path:
    return Path(shutil.copytree(tiny_hf, tmp_path / "copy"))


def convert_fails(folder: Path, message: str) -> None:
    output = folder.parent / "out.bin"
    with pytest.raises(ConversionError, match=message) as caught:
        convert_hf(folder, output)
    assert not output.exists()
    assert caught.value.user_message("vi")


def test_not_a_folder(tmp_path: Path) -> None:
    convert_fails(tmp_path / "missing", "not a folder")


def test_no_config(copy: Path) -> None:
    (copy / "config.json").unlink()
    convert_fails(copy, "no config.json")


def test_pytorch_bin_only(copy: Path) -> None:
    (copy / "model.safetensors").rename(copy / "pytorch_model.bin")
    convert_fails(copy, "only safetensors")


def test_truncated_safetensors(copy: Path) -> None:
    data = (copy / "model.safetensors").read_bytes()
    (copy / "model.safetensors").write_bytes(data[: len(data) - 1000])
    convert_fails(copy, "truncated")


def test_garbage_safetensors(copy: Path) -> None:
    (copy / "model.safetensors").write_bytes(b"\xff" * 64)
    convert_fails(copy, "not a safetensors file")


def test_missing_shard(tmp_path: Path, weights: dict[str, np.ndarray]) -> None:
    folder = write_hf_checkpoint(tmp_path / "sharded", weights, shards=2)
    next(folder.glob("model-00002-*.safetensors")).unlink()
    convert_fails(folder, "shard .* is missing")


def test_config_disagrees_with_weights(copy: Path) -> None:
    config = json.loads((copy / "config.json").read_text())
    config["encoder_layers"] = 3
    (copy / "config.json").write_text(json.dumps(config))
    convert_fails(copy, "encoder_layers=3 but the weights have 2")


def test_not_whisper(copy: Path) -> None:
    config = json.loads((copy / "config.json").read_text())
    config["model_type"] = "wav2vec2"
    (copy / "config.json").write_text(json.dumps(config))
    convert_fails(copy, "'wav2vec2' model, not Whisper")


def test_unknown_tensor(tmp_path: Path, weights: dict[str, np.ndarray]) -> None:
    folder = tmp_path / "extra"
    write_hf_checkpoint(folder, weights)
    state = {hf_name(n): v for n, v in weights.items()}
    state["model.encoder.adapter.weight"] = np.zeros((4, 4), dtype=np.float32)
    write_safetensors(folder / "model.safetensors", state, "float32")
    convert_fails(folder, "model.encoder.adapter.weight")


def test_missing_tensor(tmp_path: Path, weights: dict[str, np.ndarray]) -> None:
    folder = tmp_path / "missing"
    write_hf_checkpoint(folder, weights)
    state = {hf_name(n): v for n, v in weights.items() if n != "decoder.blocks.1.mlp_ln.bias"}
    write_safetensors(folder / "model.safetensors", state, "float32")
    convert_fails(folder, "missing tensors: decoder.blocks.1.mlp_ln.bias")


def test_untied_output_projection(tmp_path: Path, weights: dict[str, np.ndarray]) -> None:
    folder = tmp_path / "untied"
    write_hf_checkpoint(folder, weights)
    state = {hf_name(n): v for n, v in weights.items()}
    state["proj_out.weight"] = state["model.decoder.embed_tokens.weight"] * 2
    write_safetensors(folder / "model.safetensors", state, "float32")
    convert_fails(folder, "output projection differs")


def test_missing_tokenizer(copy: Path) -> None:
    (copy / "vocab.json").unlink()
    convert_fails(copy, "no vocab.json or tokenizer.json")
