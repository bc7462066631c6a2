"""Cocoon model names: upstream's `name@commit:hash` grammar and the local GGUF derivation."""

from __future__ import annotations

import configparser
import dataclasses
import hashlib
from pathlib import Path

import pytest

from cocoon_desktop.engine.models.bundled import local_model_name
from cocoon_desktop.engine.models.gguf_meta import GgufMetadata, read_gguf_metadata
from cocoon_desktop.protocol.model_names import CocoonModelName

UPSTREAM_EXAMPLE = (Path(__file__).resolve().parents[3].parent / "shared" / "cocoon"
                    / "worker.conf.example")
DIGEST = hashlib.sha256(b"model bytes").hexdigest()


def upstream_example_model() -> str:
    if not UPSTREAM_EXAMPLE.is_file():
        pytest.skip("the upstream worker.conf example is not on this machine")
    config = configparser.ConfigParser()
    config.read(UPSTREAM_EXAMPLE)
    return config["node"]["model"]


def test_the_upstream_example_parses_and_prints_back_unchanged() -> None:
    text = upstream_example_model()
    name = CocoonModelName.parse(text)
    assert name.name == "Qwen/Qwen3-8B"
    assert len(name.commit) == 40 and len(name.hash) == 64
    assert str(name) == text
    assert name.base_name == "Qwen/Qwen3-8B"


def test_type_hash_is_sha256_of_the_base_name() -> None:
    name = CocoonModelName("Qwen/Qwen3-8B", "abc", DIGEST)
    assert name.type_hash_hex == hashlib.sha256(b"Qwen/Qwen3-8B").hexdigest()


@pytest.mark.parametrize("text", ["", "Qwen/Qwen3-8B", "Qwen/Qwen3-8B@abc", "@abc:def"])
def test_incomplete_names_are_refused_with_an_example(text: str) -> None:
    with pytest.raises(ValueError, match="name@commit:hash"):
        CocoonModelName.parse(text)


@pytest.mark.parametrize(
    ("name", "commit", "hash_"),
    [("a@b", "c", "d"), ("a", "c:x", "d"), ("a", "", "d"), ("a", "c", ""), ("", "c", "d")],
)
def test_names_that_would_not_parse_back_cannot_be_built(
    name: str, commit: str, hash_: str
) -> None:
    with pytest.raises(ValueError):
        CocoonModelName(name, commit, hash_)


def test_a_hash_may_contain_colons_like_upstream_allows() -> None:
    assert CocoonModelName.parse("m@c:h:1").hash == "h:1"


@pytest.fixture
def meta(tiny_model: Path) -> GgufMetadata:
    return read_gguf_metadata(tiny_model)


def test_local_name_uses_organization_file_stem_local_and_sha256(meta: GgufMetadata) -> None:
    name = local_model_name(meta, "SmolLM2-135M-Instruct.Q4_1.gguf", DIGEST)
    assert str(name) == f"CocoonTests/SmolLM2-135M-Instruct.Q4_1@local:{DIGEST}"
    assert CocoonModelName.parse(str(name)) == name


def test_local_name_without_organization_and_with_a_version(meta: GgufMetadata) -> None:
    bare = dataclasses.replace(meta, organization=None, version="v1.5 beta")
    name = local_model_name(bare, "my model@home:1.GGUF", DIGEST)
    assert name.name == "my_model_home_1"
    assert name.commit == "v1.5_beta"
    assert CocoonModelName.parse(str(name)) == name


def test_quantizations_of_one_model_get_different_names(meta: GgufMetadata) -> None:
    q4 = local_model_name(meta, "Qwen3-8B-Q4_K_M.gguf", DIGEST)
    q8 = local_model_name(meta, "Qwen3-8B-Q8_0.gguf", DIGEST)
    assert q4.base_name != q8.base_name


def test_local_name_needs_a_real_sha256(meta: GgufMetadata) -> None:
    with pytest.raises(ValueError, match="64"):
        local_model_name(meta, "m.gguf", "abc")
