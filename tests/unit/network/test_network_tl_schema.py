"""The project's TL definitions agree with upstream's schema file, constructor by constructor.

Ids are computed here from ../shared/cocoon/cocoon_api.tl the way upstream's tl-parser does:
CRC32 of the combinator with whitespace collapsed and parentheses dropped, unless the line gives
an explicit `#id`.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import pytest

from cocoon_desktop.network import tl

SCHEMA = Path(__file__).resolve().parents[3].parent / "shared" / "cocoon" / "cocoon_api.tl"
REQUIRED_PREFIXES = ("tcp.", "worker.", "proxy.", "http.", "tokensUsed", "rootConfig.")
BUILTINS = {"int", "long", "double", "string", "object", "function", "bytes", "true",
            "boolTrue", "boolFalse", "vector", "int128", "int256"}


def parse_schema(text: str) -> dict[str, tuple[int, list[tuple[str, str]], str]]:
    """name -> (id, [(field, type)], result) for every combinator of the schema."""
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"---\w+---", ";", text)
    out = {}
    for statement in text.split(";"):
        line = " ".join(statement.replace("(", "").replace(")", "").split())
        if not line or "=" not in line:
            continue
        left, result = (part.strip() for part in line.split("=", 1))
        head, *args = left.split(" ")
        if "#" in head:
            name, explicit = head.split("#", 1)
            cid = int(explicit, 16)
        else:
            name, cid = head, None
        fields = []
        tokens = " ".join(args)
        for match in re.finditer(r"(\w+):((?:flags\.\d+\?)?(?:vector )?[\w.#]+)", tokens):
            fields.append((match.group(1), match.group(2)))
        if cid is None:
            normalized = " ".join(f"{name} {' '.join(args)} = {result}".split())
            cid = zlib.crc32(normalized.encode())
        out[name] = (cid, fields, result)
    return out


@pytest.fixture(scope="module")
def schema() -> dict[str, tuple[int, list[tuple[str, str]], str]]:
    if not SCHEMA.exists():
        pytest.skip(f"upstream schema not found at {SCHEMA}")
    return parse_schema(SCHEMA.read_text())


def test_the_crc_rule_reproduces_known_upstream_ids(schema) -> None:
    # Ids read from upstream's compiled tl/generate/scheme/cocoon_api.tlo.
    assert schema["tcp.ping"][0] == 0xBBE9627C
    assert schema["rootConfig.configV5"][0] == 0x5E84869B
    assert schema["http.response"][0] == 0x1CD0C42B
    assert schema["client.authorizeWithProxyLong"][0] == 0xD3474303


def test_every_project_constructor_matches_the_schema(schema) -> None:
    mismatches = []
    for name, cls in tl.BY_NAME.items():
        assert name in schema, f"{name} is not in upstream's schema"
        cid, fields, result = schema[name]
        ours = [(f, t.text) for f, t in cls.TL_FIELDS]
        if (cls.TL_ID, ours, cls.TL_RESULT) != (cid, fields, result):
            mismatches.append((name, hex(cls.TL_ID), hex(cid), ours, fields, cls.TL_RESULT, result))
    assert mismatches == []


def test_the_required_namespaces_are_complete(schema) -> None:
    wanted = {n for n in schema if n.startswith(REQUIRED_PREFIXES) and n not in BUILTINS}
    assert wanted - set(tl.BY_NAME) == set()


def test_ids_are_unique_and_registered_by_id() -> None:
    assert len(tl.BY_ID) == len(tl.BY_NAME)
    for cid, cls in tl.BY_ID.items():
        assert cid == cls.TL_ID
