"""Node keys: hyperlog 4.12.1's framed SHA-256, and key / prefix checking."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

import hyperframe
from hyperframe.keys import node_key, node_key_bytes, normalize_key, normalize_prefix

# Vectors from the real hyperlog 4.12.1.
HELLO = "8c7efb22472592f561a7a7647f8c5ee93134880b4ca0c92889a61848cd5c4602"
WORLD = "5f5e63be98841981a12b6041e4200677851714ec4305d13a3ee30197439ff193"
MSG_HELLO_PREFIX = "e7fd9c7e61e1"


def reference_key(value: bytes, links: list[str]) -> str:
    """The framing as the issue spells it out, written independently of the package."""
    h = hashlib.sha256()
    for link in links:
        data = link.encode("utf-8")
        h.update(str(len(data)).encode() + b"\n" + data)
    h.update(str(len(value)).encode() + b"\n" + value)
    return h.hexdigest()


def test_hello_without_links_matches_hyperlog() -> None:
    assert node_key(b"hello", []) == HELLO


def test_world_linking_hello_matches_hyperlog() -> None:
    assert node_key(b"world", [HELLO]) == WORLD


def test_json_msg_hello_matches_hyperlog() -> None:
    assert node_key(b'{"msg":"hello"}', []).startswith(MSG_HELLO_PREFIX)


def test_log_api_produces_the_hyperlog_vectors(tmp_path: Path) -> None:
    text = hyperframe.open(tmp_path / "text.db")
    hello = text.add("hello")
    assert hello.key == HELLO
    assert text.add("world", links=[hello.key]).key == WORLD
    js = hyperframe.open(tmp_path / "json.db", encoding="json")
    assert js.add({"msg": "hello"}).key.startswith(MSG_HELLO_PREFIX)


def test_keys_follow_the_framing_for_many_links_and_values() -> None:
    rng = random.Random(7)
    for _ in range(200):
        value = rng.randbytes(rng.randrange(0, 300))
        links = [rng.randbytes(32).hex() for _ in range(rng.randrange(0, 5))]
        assert node_key(value, links) == reference_key(value, links)


def test_link_order_changes_the_key() -> None:
    a, b = node_key(b"a", []), node_key(b"b", [])
    assert node_key(b"m", [a, b]) != node_key(b"m", [b, a])


def test_value_bytes_are_hashed_with_their_byte_length() -> None:
    # "é" is one character but two UTF-8 bytes: the frame must say 2.
    assert node_key("é".encode(), []) == hashlib.sha256(b"2\n" + "é".encode()).hexdigest()


def test_raw_and_hex_keys_agree() -> None:
    raw = node_key_bytes(b"world", [bytes.fromhex(HELLO)])
    assert len(raw) == 32
    assert raw.hex() == WORLD


def test_node_key_is_exported() -> None:
    assert hyperframe.node_key(b"hello", []) == HELLO


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (HELLO.upper(), HELLO),
        (f"  {HELLO}\n", HELLO),
        (HELLO, HELLO),
    ],
)
def test_normalize_key_accepts_case_and_surrounding_space(given: str, expected: str) -> None:
    assert normalize_key(given) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        HELLO[:-1],  # 63 characters
        HELLO + "0",  # 65 characters
        HELLO[:-1] + "g",  # not hex
        "0x" + HELLO[:62],
    ],
)
def test_normalize_key_rejects_what_is_not_a_full_key(bad: str) -> None:
    with pytest.raises(hyperframe.UsageError):
        normalize_key(bad)


@pytest.mark.parametrize("bad", [None, 12, b"8c7e", ["8c7e"]])
def test_normalize_key_rejects_non_strings(bad: object) -> None:
    with pytest.raises(hyperframe.UsageError, match="hex string"):
        normalize_key(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(("given", "expected"), [("8C7E", "8c7e"), (" 8 ", "8"), ("a", "a"), (HELLO, HELLO)])
def test_normalize_prefix_accepts_any_hex_prefix(given: str, expected: str) -> None:
    assert normalize_prefix(given) == expected


@pytest.mark.parametrize("bad", ["", "  ", "xyz", "8c7e!", HELLO + "a"])
def test_normalize_prefix_rejects_bad_prefixes_with_a_usable_message(bad: str) -> None:
    with pytest.raises(hyperframe.UsageError) as info:
        normalize_prefix(bad)
    message = str(info.value)
    assert "empty" in message or "hex" in message


def test_usage_error_is_a_hyperframe_error_and_a_value_error() -> None:
    with pytest.raises(hyperframe.HyperframeError):
        normalize_key("nope")
    with pytest.raises(ValueError):
        normalize_key("nope")
