"""Display escaping: control and bidi characters from data, made visible (fairaudit.display)."""

from __future__ import annotations

import json

import pytest

from fairaudit.display import (
    BIDI_CONTROLS,
    display_text,
    group_text,
    terminal_json,
    terminal_text,
)

RLO = "\u202e"


def test_bidi_controls_are_the_embeddings_overrides_and_isolates() -> None:
    assert sorted(f"{ord(c):04X}" for c in BIDI_CONTROLS) == [
        "202A", "202B", "202C", "202D", "202E", "2066", "2067", "2068", "2069",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain text, ünïcode, 名前", "plain text, ünïcode, 名前"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("bell\x07", "bell\\x07"),
        ("a\nb\tc\rd", "a\\x0ab\\x09c\\x0dd"),
        ("nul\x00 del\x7f csi\x9b", "nul\\x00 del\\x7f csi\\x9b"),
        (f"invoice{RLO}fdp.exe", "invoice<U+202E>fdp.exe"),
        ("\u2066isolated\u2069", "<U+2066>isolated<U+2069>"),
    ],
)
def test_terminal_text(raw: str, shown: str) -> None:
    assert terminal_text(raw) == shown


def test_terminal_text_can_keep_the_lines_of_a_block() -> None:
    assert terminal_text("line 1\x1b\nline 2", keep_newlines=True) == "line 1\\x1b\nline 2"
    assert terminal_text(None) == "None"


def test_display_text_keeps_white_space_and_escapes_the_rest() -> None:
    assert display_text(f"a\tb\nc\r{RLO}d\x1b\x85") == "a\tb\nc\r<U+202E>d\\x1b\\x85"
    assert display_text("<b>&</b>") == "<b>&</b>"  # HTML escaping is the template's job


def test_terminal_json_means_the_same_data() -> None:
    data = {"name": f"m{RLO}\x1b\x9b\x7f ü", "n": [1, 2]}
    text = terminal_json(data, indent=2)
    assert not set(text) & (BIDI_CONTROLS | {"\x1b", "\x9b", "\x7f"})
    assert "\\u202e" in text and " ü" in text
    assert json.loads(text) == data


def test_group_text_keeps_the_feature_order_and_leaves_values_as_they_are() -> None:
    assert group_text({"sex": "female", "age": "[25, 40)"}) == "sex=female, age=[25, 40)"
    assert group_text({}) == ""
    # Only the format: escaping is the caller's (display_text, terminal_text).
    assert terminal_text(group_text({"name": f"a{RLO}b"})) == "name=a<U+202E>b"
