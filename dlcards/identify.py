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
  get one strictly greater and never in the future;
* a question that left the notes stays in the lockfile with the content it last had,
  and keeps being emitted tagged `dlcards::removed`, a visible line on its answer,
  until the user deletes it in Anki and runs `dlcards forget`: an import never
  deletes, so the tag is how the user finds it. Tagging it is a change of content, so
  it takes a newer mod once, and Anki applies it once; a question that comes back
  (by its exact text) loses the tag and the line the same way.

Hands on :class:`Note` values, the new lockfile and what changed.
"""

from __future__ import annotations

import difflib
import hashlib
import html
import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

from .errors import Problem, Severity
from .lockfile import Lock, LockEntry, NotetypeState, RemovedNote
from .model import Card, DeckMove, Departed, Note, Question, Rematch
from .notetype import NOTE_TYPES, note_fields

SIMILARITY = 0.8
REMOVED_TAG = "dlcards::removed"
REMOVED_SEARCH = f"tag:{REMOVED_TAG}"
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


# json.dumps(x, ensure_ascii=False) makes an encoder on every call; the same output.
_json = json.JSONEncoder(ensure_ascii=False).encode


@lru_cache(maxsize=65536)  # earliest_mod and stamp_notes both ask, for every note
def content_hash(fields: tuple[str, ...], tags: tuple[str, ...], kind: str = "basic") -> str:
    """What a note's mod follows: its fields (media files included: their names carry
    their content's hash), its tags and its note type."""
    data = _json([NOTE_TYPES[kind].id, list(fields), sorted(tags, key=str.casefold)])
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:32]


class CardDigest:
    """What identity needs of a card's fields without holding them: its content hash
    for any guid, with the fields before the ID (the last field, decided by matching)
    already hashed. The result is content_hash's, to the bit."""

    __slots__ = ("_last", "_prefix", "_suffix")

    def __init__(self, fields: tuple[str, ...], tags: tuple[str, ...], kind: str) -> None:
        # content_hash hashes `[id, [f1, ..., fN, guid], [tags]]`: all of it but the
        # guid is known now. The JSON of [id, [f1, ..., fN]] without its closing `]]`
        # is the prefix.
        prefix = _json([NOTE_TYPES[kind].id, list(fields)])[:-2]
        self._prefix = hashlib.sha256(prefix.encode("utf-8"))
        self._suffix = f"], {_json(sorted(tags, key=str.casefold))}]".encode()
        self._last: tuple[str, str] | None = None  # the last guid asked for, and its hash

    def content_hash(self, guid: str) -> str:
        if self._last is not None and self._last[0] == guid:  # a build asks more than once
            return self._last[1]
        digest = self._prefix.copy()
        digest.update(f", {_json(guid)}".encode())
        digest.update(self._suffix)
        result = digest.hexdigest()[:32]
        self._last = (guid, result)
        return result


def card_hash(card: Card, guid: str) -> str:
    """The content hash of the note a card makes under guid."""
    if card.stored is not None:  # its fields are in the build's FieldStore
        return card.stored.digest.content_hash(guid)
    return content_hash(note_fields(card, guid), note_tags(card), card.kind)


def field_digests(fields: tuple[str, ...], tags: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
    """Short digests of each field and of the tags: enough to say which parts of a note
    changed (the content hash alone decides whether it changed)."""
    return tuple(_short(f) for f in fields), _short("\x1f".join(sorted(tags, key=str.casefold)))


def _short(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def removed_content(note: RemovedNote, path: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A removed question's note as its package carries it: the content it last had,
    a visible line opening its Answer, and the tag that finds it in Anki's browser.
    It depends on nothing but the lockfile, so it stays the same from build to build."""
    question, answer, *rest = note.fields
    line = (
        f'<div class="dlc-removed">Removed from your notes ({html.escape(path, quote=False)}). '
        f"Delete this note in Anki: search {REMOVED_SEARCH}</div>"
    )
    tags = note.tags
    if REMOVED_TAG.casefold() not in {t.casefold() for t in tags}:
        tags = (*tags, REMOVED_TAG)
    return (question, f"{line}\n{answer}" if answer else line, *rest), tags


def removed_search(departed: Iterable[Departed]) -> str:
    """The Anki search that selects the notes of these departed questions: the tag for
    those their packages carry tagged, their IDs for the others ("" for none)."""
    gone = list(departed)
    terms = [REMOVED_SEARCH] if any(d.tagged for d in gone) else []
    terms += [f'"ID:{d.guid}"' for d in gone if not d.tagged]
    return " OR ".join(terms)


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


def identity_text(title: str, prompt: str | None) -> str:
    """What identifies a question: its normalized text, with the prompt under its
    heading when it has one (quiz files ask "What's the output?" of many snippets)."""
    return _identity_text(title, prompt or "")


# Every build asks this of each question three times or more (duplicates, the
# lockfile's entries, the card's match), and a card and its entry share their text.
@lru_cache(maxsize=65536)
def _identity_text(title: str, prompt: str) -> str:
    key = normalize_question(title)
    return f"{key}\n{normalize_question(prompt)}" if prompt else key


def _key(question: Question) -> str:
    return identity_text(question.title, question.prompt)


def note_tags(card: Card) -> tuple[str, ...]:
    """A card's tags: its file's and deck's, then the inline `#tags` of its section
    (Anki's tags ignore case: a tag given twice is kept once)."""
    if not card.tags:  # most cards: every build asks this of each a few times
        return card.question.tags
    tags = list(card.question.tags)
    seen = {t.casefold() for t in tags}
    for tag in card.tags:
        if tag.casefold() not in seen:
            seen.add(tag.casefold())
            tags.append(tag)
    return tuple(tags)


def _entry_key(entry: LockEntry) -> str:
    return identity_text(entry.title, entry.prompt)


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

    problems: list[Problem] = []
    switched: set[int] = set()

    def claim(i: int, entry: LockEntry) -> None:
        chosen[i] = entry
        claimed.add(entry.guid)

    def same_kind(i: int, entry: LockEntry) -> bool:
        # Anki cannot change a note's type on import: a question that became a cloze
        # (or stopped being one) is a new note, and its old one leaves as removed.
        if entry.kind == cards[i].kind:
            return True
        if i not in switched:
            switched.add(i)
            q = cards[i].question
            now, was = ("a cloze", "a basic") if cards[i].kind == "cloze" else ("a basic", "a cloze")
            problems.append(
                Problem(
                    severity=Severity.WARNING,
                    path=q.display_path,
                    line=q.line,
                    message=f"this question is now {now} note and was {was} one; Anki cannot change "
                    f"a note's type, so it becomes a new note (reviews start over) and the old one "
                    f"is tagged {REMOVED_TAG}",
                )
            )
        return False

    # 1. An explicit id always wins. After a switch of kind an id has a note of each
    # kind, one of them removed: the card takes the one of its own kind, a note still
    # in the notes before one that left.
    by_id: dict[str, list[LockEntry]] = defaultdict(list)
    for e in entries:
        if e.explicit_id:
            by_id[e.explicit_id].append(e)
    for i, card in enumerate(cards):
        kind = card.kind
        found = [e for e in by_id.get(card.question.explicit_id or "", ()) if e.guid not in claimed]
        found.sort(key=lambda e: (e.kind != kind, e.removed, e.guid))
        if found and same_kind(i, found[0]):
            claim(i, found[0])

    def text_match_allowed(q: Question, e: LockEntry) -> bool:
        # A question with an id never takes over another id's note.
        return q.explicit_id is None or e.explicit_id is None

    # 2. The same text: in the same deck, then in any deck; the same file first.
    by_text: dict[str, list[LockEntry]] = defaultdict(list)
    for e in entries:
        by_text[_entry_key(e)].append(e)
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
                and same_kind(i, e)
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
                if same_file != (e.path == q.path) or not text_match_allowed(q, e) or e.kind != card.kind:
                    continue
                b = _entry_key(e)
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
        if card.kind != "basic":  # never the guid a basic note of the same text had
            base = (card.kind, *base)
        guid = derive_guid(*base)
        salt = 0
        while guid in taken:
            salt += 1
            guid = derive_guid(*base, str(salt))
        taken.add(guid)
        guids.append(guid)

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


def untracked_departures(matching: Matching) -> set[str]:
    """The guids of questions that left the notes since the last build: the lockfile has
    no content for them yet (the packages of the last build do)."""
    return {e.guid for e in matching.departed if not e.removed and e.removed_note is None}


def keep_departed(matching: Matching, found: Mapping[str, RemovedNote]) -> Matching:
    """Give departed questions the content found for them (in the last build's packages),
    where it is exactly what the lockfile says they last had: its content hash matches."""
    departed = []
    for e in matching.departed:
        note = found.get(e.guid)
        if (
            e.removed_note is None
            and note is not None
            and len(note.fields) == len(NOTE_TYPES[e.kind].fields)
            and content_hash(note.fields, note.tags, e.kind) == e.hash
        ):
            e = replace(e, removed_note=note)
        departed.append(e)
    return replace(matching, departed=tuple(departed))


def earliest_mod(matching: Matching, lock: Lock, notetype_hash: str) -> int:
    """The smallest mod that every changed note (and the note type) may take:
    strictly above what it had, so Anki applies the change."""
    floor = 0
    for card, guid, prev in zip(matching.cards, matching.guids, matching.previous, strict=False):
        if prev is not None and prev.hash != card_hash(card, guid):
            floor = max(floor, prev.mod + 1)
    for e in matching.departed:
        if e.removed_note is not None and e.hash != content_hash(
            *removed_content(e.removed_note, e.path), e.kind
        ):
            floor = max(floor, e.mod + 1)
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
        fields = note_fields(card, guid) if card.stored is None else ()
        tags = note_tags(card)
        digest = card_hash(card, guid)
        if prev is None:
            status, mod = "new", now
        elif prev.hash == digest:
            status, mod = "unchanged", prev.mod
        else:
            status, mod = "updated", _later(prev, now)
        if prev is not None and prev.deck != q.deck and not prev.removed:
            moves.append(DeckMove(question=q, old_deck=prev.deck))
        notes.append(
            Note(
                guid=guid,
                mod=mod,
                deck=q.deck,
                fields=fields,
                tags=tags,
                status=status,
                question=q,
                kind=card.kind,
                media=card.media,
                hash=digest,
                stored=card.stored,
            )
        )
        media = tuple((m.name, m.source) for m in card.media)
        if status == "unchanged" and prev is not None and _continues(prev, q, card.kind, media):
            entries.append(prev)  # the entry it would make (most notes, every build)
            continue
        if status == "unchanged" and prev is not None and prev.field_hashes and prev.tags_hash is not None:
            field_hashes, tags_hash = prev.field_hashes, prev.tags_hash  # same content, same digests
        elif card.stored is not None:  # changed: its fields, from the build's FieldStore
            field_hashes, tags_hash = field_digests((*card.stored.fields(), guid), tags)
        else:
            field_hashes, tags_hash = field_digests(fields, tags)
        entries.append(
            LockEntry(
                guid=guid,
                deck=q.deck,
                path=q.path,
                title=q.title,
                prompt=q.prompt or None,
                explicit_id=q.explicit_id,
                hash=digest,
                mod=mod,
                removed=False,
                field_hashes=field_hashes,
                tags_hash=tags_hash,
                kind=card.kind,
                media=media,
            )
        )
    departed: list[Departed] = []
    # By file and question, whatever order the lockfile was read in and whenever each
    # left: a package's note ids follow the order of its notes, and a rebuild with
    # nothing changed must give the same bytes.
    for e in sorted(matching.departed, key=lambda e: (e.path, e.title.casefold(), e.guid)):
        departed.append(
            Departed(guid=e.guid, deck=e.deck, path=e.path, title=e.title, tagged=bool(e.removed_note))
        )
        if e.removed_note is None:  # its content is unknown: it cannot be emitted
            entries.append(replace(e, removed=True))
            continue
        fields, tags = removed_content(e.removed_note, e.path)
        digest = content_hash(fields, tags, e.kind)
        mod = e.mod if digest == e.hash else _later(e, now)
        # Its media files are already in the collection (Anki only adds a note's files
        # with the note; the removed line changes no file name).
        notes.append(
            Note(
                guid=e.guid,
                mod=mod,
                deck=e.deck,
                fields=fields,
                tags=tags,
                status="removed",
                question=None,
                kind=e.kind,
                hash=digest,
            )
        )
        field_hashes, tags_hash = field_digests(fields, tags)
        entries.append(
            replace(e, removed=True, hash=digest, mod=mod, field_hashes=field_hashes, tags_hash=tags_hash)
        )
    if lock.notetype is not None and lock.notetype.hash == notetype_hash:
        notetype = lock.notetype
    else:
        previous_mod = lock.notetype.mod if lock.notetype is not None else 0
        notetype = NotetypeState(hash=notetype_hash, mod=max(now, previous_mod + 1))
    # It continues the lockfile it came from: save_lock leaves that file alone when
    # nothing in it changed.
    new_lock = Lock(entries=tuple(entries), notetype=notetype, packages=lock.packages, origin=lock.origin)
    return Identified(
        notes=tuple(notes),
        lock=new_lock,
        rematches=matching.rematches,
        moves=tuple(moves),
        departed=tuple(departed),
    )


def _continues(prev: LockEntry, q: Question, kind: str, media: tuple[tuple[str, str], ...]) -> bool:
    """Whether an unchanged note's new lockfile entry would equal its last one."""
    return (
        not prev.removed
        and prev.removed_note is None
        and bool(prev.field_hashes)
        and prev.tags_hash is not None
        and (prev.deck, prev.path, prev.title, prev.prompt, prev.explicit_id, prev.kind, prev.media)
        == (q.deck, q.path, q.title, q.prompt or None, q.explicit_id, kind, media)
    )


def _later(prev: LockEntry, now: int) -> int:
    """The mod of a changed note: now, and above its last one (Anki's update rule)."""
    mod = max(now, prev.mod + 1)
    if mod > now:  # the caller waits for the clock first; this never happens
        raise ValueError("a note's mod would be in the future")
    return mod
