"""Incremental detokenization: split UTF-8 and stop strings across token boundaries."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from cocoon_desktop.engine.process.text_stream import TextStream


def run(chunks: list[bytes], stop: tuple[str, ...] = ()) -> tuple[list[str], bool]:
    stream = TextStream(stop)
    released = []
    for chunk in chunks:
        update = stream.feed(chunk)
        released.append(update.text)
        if update.stopped:
            return released, True
    released.append(stream.finish())
    return released, False


def split_bytes(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def test_multibyte_character_split_across_tokens_is_held_until_complete() -> None:
    euro = "€".encode()  # three bytes
    released, stopped = run([b"price ", euro[:1], euro[1:2], euro[2:], b"5"])
    assert released == ["price ", "", "", "€", "5", ""]
    assert not stopped


def test_stop_string_split_across_tokens_never_leaks() -> None:
    released, stopped = run([b"Hello", b" wor", b"ld<|", b"END", b"|> more"], ("<|END|>",))
    assert "".join(released) == "Hello world"
    assert stopped
    assert all("<" not in part for part in released)


def test_partial_stop_prefix_is_released_when_it_does_not_complete() -> None:
    released, stopped = run([b"a <|E", b"xyz"], ("<|END|>",))
    assert released == ["a ", "<|Exyz", ""]
    assert not stopped


def test_held_prefix_is_flushed_at_the_end_of_generation() -> None:
    released, stopped = run([b"done <|EN"], ("<|END|>",))
    assert "".join(released) == "done <|EN"
    assert not stopped


def test_earliest_of_several_stop_strings_wins() -> None:
    released, stopped = run([b"one two three"], ("three", "two"))
    assert "".join(released) == "one "
    assert stopped


def test_the_stop_that_completes_first_wins_whatever_the_boundaries() -> None:
    stops = ("<", "><<")  # "<" completes at the second character, before "><<" could
    for chunks in ([b"><<"], [b"><", b"<"], [b">", b"<", b"<"]):
        released, stopped = run(chunks, stops)
        assert "".join(released) == ">" and stopped
    released, _ = run([b"x><<"], ("><<", "x><"))  # both end early; "x><" ends first
    assert "".join(released) == ""


def test_dangling_partial_utf8_at_the_end_becomes_a_replacement_character() -> None:
    released, _ = run([b"ok ", "€".encode()[:2]])
    assert "".join(released) == "ok \ufffd"


def test_nothing_is_released_after_a_stop() -> None:
    stream = TextStream(("x",))
    assert stream.feed(b"abxcd").text == "ab"
    assert stream.feed(b"more").text == ""
    assert stream.finish() == ""


@given(
    text=st.text(alphabet="ab€é \n<|>", max_size=40),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=12),
    stops=st.lists(st.text(alphabet="ab€<|>", min_size=1, max_size=4), max_size=3),
)
def test_released_text_is_the_text_before_the_first_stop(text: str, cuts: list[int],
                                                          stops: list[str]) -> None:
    released, stopped = run(split_bytes(text.encode(), cuts), tuple(stops))
    # Generation stops where a stop string first completes; the cut is where it begins (the
    # longest one when several complete on the same character), whatever the token boundaries.
    ends = [(text.find(s) + len(s), text.find(s)) for s in stops if s in text]
    first = min(ends)[1] if ends else None
    if first is None:
        assert not stopped
        assert "".join(released) == text
    else:
        assert stopped
        assert "".join(released) == text[:first]
