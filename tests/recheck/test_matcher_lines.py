"""Line numbers counted lazily (LineIndex) and phrase anchors that let every matching line through."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recheck.matcher import LineIndex, Rule, build_engine


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")), min_size=1, max_size=40),
    first=st.integers(min_value=1, max_value=10**6),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_line_index_numbers_any_offset_like_counting_from_the_start(lines: list[bytes], first: int, seed: int) -> None:
    prefix = b"junk\nmore junk\n"
    block = prefix + b"\n".join(lines) + b"\n"
    pos = len(prefix)
    index = LineIndex(block, pos, first)
    offsets = list(range(pos, len(block) + 1))
    # Asked in any order (the matcher's hits, then the scanner's lines, then the total).
    random.Random(seed).shuffle(offsets)
    for offset in offsets:
        assert index.line_at(offset) == first + block.count(b"\n", pos, offset)


@pytest.mark.parametrize("kind", ["hyperscan", "python"])
@pytest.mark.parametrize(
    "line",
    [b"x attach volume y", b"x ATTACH--volume y", b"x attach\x1b[01;31mvolume y", b"attach\x1b[0m \x1b[1mvolume"],
)
def test_a_phrase_anchor_lets_through_every_separator_the_phrase_allows(kind: str, line: bytes) -> None:
    rule = Rule(phrases=((b"attach", b"volume"),))
    engine = build_engine([rule], (), kind=kind)
    scanner = engine.scanner()
    if kind == "hyperscan":
        # The anchor a rule of common words gets on a busy log: the phrase itself.
        scanner._use(((b"attach", b"volume"),), ((0,),))  # type: ignore[attr-defined]
    block = b"first line\n" + line + b"\nlast line\n"
    result = scanner.scan(block, 0, len(block), 7, ())
    assert [(h.rule, h.line, h.text) for h in result.hits] == [(0, 8, line)]
