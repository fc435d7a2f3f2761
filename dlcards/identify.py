"""Identity stage: give every card its guid and mod, from and into the lockfile.

Anki's importer matches notes by guid alone and updates one only when the
package's mod is strictly newer than the collection's; it never deletes and never
touches cards. So:

* a question keeps its guid for life: matched to the lockfile by explicit id, then
  by its normalized text (same deck first, then any deck), then, for edited text, by
  similarity of at least 0.8 (one-to-one, same file first, then across files);
* a question the lockfile has never seen gets a guid derived from its deck and
  normalized text, so a lost lockfile still gives unchanged questions their guids;
* a note's mod is the time its content last changed: unchanged notes keep their old
  mod (so a rebuild never overwrites what the user edited in Anki), changed ones
  get one strictly greater and never in the future.

Hands on :class:`Note` values, the new lockfile and what changed.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, replace

from .errors import Problem, Severity
from .lockfile import Lock, LockEntry, NotetypeState
from .model import Card, DeckMove, Departed, Note, Question, Rematch
from .notetype import MODEL_ID

SIMILARITY = 0.8
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]")
_MARKUP = re.compile(r"[*_`~]+")


def normalize_question(title: str) -> str:
    """The form of a question's text that identity compares: case, spacing and
    emphasis markers, invisible characters and Unicode forms do not count."""
    text = unicodedata.normalize("NFKC", title)
    text = _INVISIBLE.sub("", text)
    text = _MARKUP.sub("", text)
    return " ".join(text.split()).casefold()


def derive_guid(*parts: str) -> str:
    """A 64-bit, base62 guid from the given parts (stable across machines and runs)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    number = int.from_bytes(digest[:8], "big")
    chars = []
    while number:
        number, rest = divmod(number, 62)
        chars.append(_BASE62[rest])
    return "".join(reversed(chars)) or "0"


def content_hash(fields: tuple[str, ...], tags: tuple[str, ...]) -> str:
    """What a note's mod follows: its fields, its tags and its note type."""
    data = json.dumps([MODEL_ID, list(fields), sorted(tags, key=str.casefold)], ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True, kw_only=True)
class Matching:
    """Which lockfile entry (if any) each card continues, before mods are stamped."""

    cards: tuple[Card, ...]
    guids: tuple[str, ...]
    previous: tuple[LockEntry | None, ...]
    departed: tuple[LockEntry, ...]
    rematches: tuple[Rematch, ...]
    problems: tuple[Problem, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Identified:
    notes: tuple[Note, ...]
    lock: Lock
    rematches: tuple[Rematch, ...]
    moves: tuple[DeckMove, ...]
    departed: tuple[Departed, ...]


def _key(question: Question) -> str:
    return normalize_question(question.title)


def _deck_key(deck: str) -> str:
    return deck.casefold()


def find_duplicates(cards: list[Card]) -> list[Problem]:
    """The same question twice in one deck, or one explicit id used twice: errors."""
    return find_duplicate_questions([card.question for card in cards])


def find_duplicate_questions(questions: list[Question]) -> list[Problem]:
    """find_duplicates, before rendering (for `dlcards check`)."""
    problems = []
    seen: dict[tuple[str, str], Question] = {}
    ids: dict[str, Question] = {}
    for q in questions:
        k = (_deck_key(q.deck), _key(q))
        if k in seen:
            first = seen[k]
            problems.append(
                Problem(
                    severity=Severity.ERROR,
                    path=q.display_path,
                    line=q.line,
                    message=f"the same question is already in deck {q.deck!r} at "
                    f"{first.display_path}:{first.line}; merge them or reword one",
                )
            )
        else:
            seen[k] = q
        if q.explicit_id is not None:
            if q.explicit_id in ids:
                first = ids[q.explicit_id]
                problems.append(
                    Problem(
                        severity=Severity.ERROR,
                        path=q.display_path,
                        line=q.line,
                        message=f"id {q.explicit_id!r} is already used at "
                        f"{first.display_path}:{first.line}; ids must be unique",
                    )
                )
            else:
                ids[q.explicit_id] = q
    return problems


def match_cards(cards: list[Card], lock: Lock) -> Matching:
    """Pair each card with the lockfile entry it continues, or mint its guid."""
    entries = list(lock.entries)
    claimed: set[str] = set()
    chosen: list[LockEntry | None] = [None] * len(cards)
    rematches: list[Rematch] = []

    def claim(i: int, entry: LockEntry) -> None:
        chosen[i] = entry
        claimed.add(entry.guid)

    # 1. An explicit id always wins.
    by_id = {e.explicit_id: e for e in entries if e.explicit_id}
    for i, card in enumerate(cards):
        entry = by_id.get(card.question.explicit_id or "")
        if entry is not None and entry.guid not in claimed:
            claim(i, entry)

    def text_match_allowed(q: Question, e: LockEntry) -> bool:
        # A question with an id never takes over another id's note.
        return q.explicit_id is None or e.explicit_id is None

    # 2. The same text: in the same deck, then in any deck; the same file first.
    by_text: dict[str, list[LockEntry]] = defaultdict(list)
    for e in entries:
        by_text[normalize_question(e.title)].append(e)
    for same_deck in (True, False):
        for i, card in enumerate(cards):
            if chosen[i] is not None:
                continue
            q = card.question
            candidates = [
                e
                for e in by_text.get(_key(q), ())
                if e.guid not in claimed
                and text_match_allowed(q, e)
                and (not same_deck or _deck_key(e.deck) == _deck_key(q.deck))
            ]
            if candidates:
                candidates.sort(key=lambda e: (e.path != q.path, e.removed, e.guid))
                claim(i, candidates[0])

    # 3. Edited text: the most similar unclaimed entry, same file first.
    for same_file in (True, False):
        pairs: list[tuple[float, int, str, LockEntry]] = []
        # A question that already left the notes is only ever restored by its exact
        # text: otherwise a new question could take over its note and its reviews.
        open_entries = [e for e in entries if e.guid not in claimed and not e.removed]
        if not open_entries:
            break
        for i, card in enumerate(cards):
            if chosen[i] is not None:
                continue
            q = card.question
            a = _key(q)
            for e in open_entries:
                if same_file != (e.path == q.path) or not text_match_allowed(q, e):
                    continue
                b = normalize_question(e.title)
                if 2 * min(len(a), len(b)) < SIMILARITY * (len(a) + len(b)):
                    continue
                matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
                if matcher.real_quick_ratio() < SIMILARITY or matcher.quick_ratio() < SIMILARITY:
                    continue
                ratio = matcher.ratio()
                if ratio >= SIMILARITY:
                    pairs.append((ratio, i, e.guid, e))
        pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
        for ratio, i, guid, e in pairs:
            if chosen[i] is None and guid not in claimed:
                claim(i, e)
                rematches.append(
                    Rematch(question=cards[i].question, old_title=e.title, similarity=round(ratio, 3))
                )

    # 4. Everything else is new: derive its guid, away from every guid already known.
    taken = {e.guid for e in entries}
    guids: list[str] = []
    for i, card in enumerate(cards):
        entry = chosen[i]
        if entry is not None:
            guids.append(entry.guid)
            continue
        q = card.question
        base = ("id", q.explicit_id) if q.explicit_id else ("q", _deck_key(q.deck), _key(q))
        guid = derive_guid(*base)
        salt = 0
        while guid in taken:
            salt += 1
            guid = derive_guid(*base, str(salt))
        taken.add(guid)
        guids.append(guid)

    problems = []
    owner: dict[str, Question] = {}
    for card, guid in zip(cards, guids, strict=False):
        if guid in owner:
            first = owner[guid]
            problems.append(
                Problem(
                    severity=Severity.ERROR,
                    path=card.question.display_path,
                    line=card.question.line,
                    message=f"this question would share its note id with {first.display_path}:{first.line}",
                )
            )
        owner[guid] = card.question

    departed = tuple(e for e in entries if e.guid not in claimed)
    return Matching(
        cards=tuple(cards),
        guids=tuple(guids),
        previous=tuple(chosen),
        departed=departed,
        rematches=tuple(rematches),
        problems=tuple(problems),
    )


def note_fields(card: Card, guid: str) -> tuple[str, ...]:
    """Question, Answer, Discussion, Source, ID: the note type's frozen field order."""
    return (card.front, card.back, card.discussion, card.source, guid)


def earliest_mod(matching: Matching, lock: Lock, notetype_hash: str) -> int:
    """The smallest mod that every changed note (and the note type) may take:
    strictly above what it had, so Anki applies the change."""
    floor = 0
    for card, guid, prev in zip(matching.cards, matching.guids, matching.previous, strict=False):
        if prev is not None and prev.hash != content_hash(note_fields(card, guid), card.question.tags):
            floor = max(floor, prev.mod + 1)
    if lock.notetype is not None and lock.notetype.hash != notetype_hash:
        floor = max(floor, lock.notetype.mod + 1)
    return floor


def stamp_notes(matching: Matching, lock: Lock, notetype_hash: str, now: int) -> Identified:
    """Give every note its mod (now only where its content changed) and the new lockfile."""
    notes: list[Note] = []
    entries: list[LockEntry] = []
    moves: list[DeckMove] = []
    for card, guid, prev in zip(matching.cards, matching.guids, matching.previous, strict=False):
        q = card.question
        fields = note_fields(card, guid)
        digest = content_hash(fields, q.tags)
        if prev is None:
            status, mod = "new", now
        elif prev.hash == digest:
            status, mod = "unchanged", prev.mod
        else:
            status, mod = "updated", max(now, prev.mod + 1)
            if mod > now:  # the caller waits for the clock first; this never happens
                raise ValueError("a note's mod would be in the future")
        if prev is not None and prev.deck != q.deck and not prev.removed:
            moves.append(DeckMove(question=q, old_deck=prev.deck))
        notes.append(
            Note(guid=guid, mod=mod, deck=q.deck, fields=fields, tags=q.tags, status=status, question=q)
        )
        entries.append(
            LockEntry(
                guid=guid,
                deck=q.deck,
                path=q.path,
                title=q.title,
                explicit_id=q.explicit_id,
                hash=digest,
                mod=mod,
                removed=False,
            )
        )
    departed = [replace(e, removed=True) for e in matching.departed]
    if lock.notetype is not None and lock.notetype.hash == notetype_hash:
        notetype = lock.notetype
    else:
        previous_mod = lock.notetype.mod if lock.notetype is not None else 0
        notetype = NotetypeState(hash=notetype_hash, mod=max(now, previous_mod + 1))
    new_lock = Lock(entries=tuple(entries + departed), notetype=notetype, packages=lock.packages)
    return Identified(
        notes=tuple(notes),
        lock=new_lock,
        rematches=matching.rematches,
        moves=tuple(moves),
        departed=tuple(Departed(guid=e.guid, deck=e.deck, path=e.path, title=e.title) for e in departed),
    )
