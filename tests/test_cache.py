"""The render cache: same content, same cards; anything doubtful is ignored."""

from __future__ import annotations

from pathlib import Path

from dlcards.cache import RenderCache, cache_key
from dlcards.parse import parse_file
from dlcards.read import read_source
from dlcards.render import render_card

NOTE = (
    b"---\ntags: [a]\n---\n\n### What is a cache?\n\n**Answer:** A copy kept close.\n\n"
    b"### Empty?\n\n**Answer:**\n"
)


def parsed(data: bytes = NOTE, path: str = "c.md"):  # type: ignore[no-untyped-def]
    source, _ = read_source(data, path=path, display_path=f"notes/{path}")
    assert source is not None
    result = parse_file(source)
    return source, result, [render_card(q) for q in result.questions]


def test_round_trip_gives_equal_cards_and_problems(tmp_path: Path) -> None:
    """What goes in comes out equal: cards, questions, warnings and shape."""
    source, result, cards = parsed()
    cache = RenderCache(tmp_path)
    key = cache_key(source)
    assert cache.get(key) is None
    cache.put(key, cards, result)
    hit = cache.get(key)
    assert hit is not None
    assert hit[0] == cards
    assert hit[1] == result


def test_key_follows_content_path_and_tags() -> None:
    """Any change to the text, the path or the front matter changes the key."""
    base = cache_key(parsed()[0])
    assert cache_key(parsed(NOTE + b"\nmore\n")[0]) != base
    assert cache_key(parsed(path="d.md")[0]) != base
    assert cache_key(parsed(NOTE.replace(b"[a]", b"[b]"))[0]) != base
    assert cache_key(parsed()[0]) == base


def test_corrupt_or_foreign_entries_are_ignored(tmp_path: Path) -> None:
    """A truncated file, a text that fails its checksum, or another key's entry: a miss."""
    source, result, cards = parsed()
    cache = RenderCache(tmp_path)
    key = cache_key(source)
    cache.put(key, cards, result)
    path = next(p for p in tmp_path.rglob("*") if p.is_file())
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])
    assert cache.get(key) is None
    assert b"A copy kept close" in good
    path.write_bytes(good.replace(b"A copy kept close", b"A copy kept AWAY"))
    assert cache.get(key) is None
    path.write_bytes(good)
    other = "0" * 64
    (tmp_path / "00").mkdir(exist_ok=True)
    (tmp_path / "00" / path.name.replace(key, other)).write_bytes(good)
    assert cache.get(other) is None
    assert cache.get(key) is not None
