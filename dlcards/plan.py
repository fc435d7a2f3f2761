"""Planning: what the next build and import will do, without writing anything.

`plan_build` reads the notes and the lockfile (and, for questions that just left the
notes, the last build's packages) and decides everything through the very code a
build runs (`build.prepare_build`), then writes nothing: no lockfile, no package, no
folder, and it takes no build lock (every file it reads is replaced atomically, so
it sees the state before a concurrent build or after it, never half of one).

A Plan says, for each package, which notes the import adds (new), updates (and which
fields change, from the lockfile's per-field digests), finds unchanged, or keeps
tagged as removed; which questions moved deck in the notes (Anki keeps their cards
in the old deck) and which decks were renamed; and which questions left the notes,
with the Anki search that selects them. `format_plan_text` and `plan_to_json` give
it to people and to tools.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .build import Clock, prepare_build, sound_cards
from .errors import Problem
from .identify import removed_search
from .lockfile import Lock, LockEntry
from .model import BuildOptions, Departed, Note, Rematch
from .notetype import NOTE_TYPES

TAGS = "Tags"  # the name the plan gives a change of tags, beside the field names


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedNote:
    """One note of a package, and what the next import does with it."""

    guid: str
    status: str  # "new" | "updated" | "unchanged" | "removed" (see model.Note)
    deck: str
    path: str  # as messages show it, e.g. notes/ml/basics.md
    line: int  # 0 for a question that left the notes
    question: str
    # Of an updated note: the fields (and "Tags") that change, in field order; None when
    # the lockfile predates per-field digests and cannot tell.
    changed: tuple[str, ...] | None = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedPackage:
    path: str  # as messages show it, e.g. decks/ml.apkg
    notes: tuple[PlannedNote, ...]

    def count(self, status: str) -> int:
        return sum(n.status == status for n in self.notes)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedMove:
    """A question whose deck changed in the notes: Anki keeps its card in the old deck."""

    guid: str
    path: str
    line: int
    question: str
    old_deck: str
    new_deck: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DeckRename:
    """Every question of a deck now sits in one new deck: Anki keeps the cards in the old."""

    old: str
    new: str
    questions: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedRemoval:
    """A question no longer in the notes and still in the lockfile."""

    guid: str
    deck: str
    path: str  # where it was, as messages show it
    question: str
    tagged: bool  # its package carries it tagged dlcards::removed (else only its ID finds it)


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    packages: tuple[PlannedPackage, ...]
    stale_packages: tuple[str, ...]  # packages the build will delete: no deck fills them
    moves: tuple[PlannedMove, ...]  # those not explained by a renamed deck
    renames: tuple[DeckRename, ...]
    removed: tuple[PlannedRemoval, ...]
    removed_search: str  # the Anki search that selects the removed notes; "" when none
    rematches: tuple[Rematch, ...]  # questions whose edited text kept their note
    warnings: tuple[Problem, ...]


def plan_build(options: BuildOptions, *, clock: Clock) -> Plan:
    """What `build` with these options would do now; raises what it would raise.
    Writes nothing and creates nothing."""
    cards, problems = sound_cards(options)
    prepared = prepare_build(options, cards, problems, clock=clock, wait=None)
    identified = prepared.identified
    old = {e.guid: e for e in prepared.lock.entries}
    new = {e.guid: e for e in identified.lock.entries}

    packages = []
    for target, notes in prepared.groups.items():
        where = _decks_path(options, str(target)) if options.output is None else str(target)
        planned = tuple(_planned(n, old.get(n.guid), new[n.guid], options.notes_display) for n in notes)
        packages.append(PlannedPackage(path=where, notes=planned))

    renames = find_renamed_decks(prepared.lock, identified.notes)
    renamed = {(r.old.casefold(), r.new.casefold()) for r in renames}
    guid_of = {n.question: n.guid for n in identified.notes if n.question is not None}
    moves = tuple(
        PlannedMove(
            guid=guid_of[m.question],
            path=m.question.display_path,
            line=m.question.line,
            question=m.question.title,
            old_deck=m.old_deck,
            new_deck=m.question.deck,
        )
        for m in identified.moves
        if (m.old_deck.casefold(), m.question.deck.casefold()) not in renamed
    )
    return Plan(
        packages=tuple(packages),
        stale_packages=tuple(_decks_path(options, name) for name in prepared.stale),
        moves=moves,
        renames=renames,
        removed=tuple(_removal(d, options.notes_display) for d in identified.departed),
        removed_search=removed_search(identified.departed),
        rematches=identified.rematches,
        warnings=prepared.warnings,
    )


def _planned(note: Note, old: LockEntry | None, new: LockEntry, notes_display: str) -> PlannedNote:
    q = note.question
    changed: tuple[str, ...] | None = ()
    if note.status == "updated" and old is not None:
        changed = changed_parts(old, new)
    return PlannedNote(
        guid=note.guid,
        status=note.status,
        deck=note.deck,
        path=q.display_path if q is not None else _notes_path(notes_display, new.path),
        line=q.line if q is not None else 0,
        question=q.title if q is not None else new.title,
        changed=changed,
    )


def changed_parts(old: LockEntry, new: LockEntry) -> tuple[str, ...] | None:
    """The fields (and "Tags") whose digests differ between two states of a note;
    None when the old state has no digests (a lockfile before format 3)."""
    if old.field_hashes is None or old.tags_hash is None or new.field_hashes is None:
        return None
    names = (f.name for f in NOTE_TYPES[new.kind].fields)
    parts = [
        name
        for name, before, after in zip(names, old.field_hashes, new.field_hashes, strict=True)
        if before != after
    ]
    if old.tags_hash != new.tags_hash:
        parts.append(TAGS)
    return tuple(parts) or None


def find_renamed_decks(lock: Lock, notes: Sequence[Note]) -> tuple[DeckRename, ...]:
    """Decks of the lockfile none of whose questions remain in them, all of them now in
    one deck that did not exist before: renamed in the notes. Anki matches decks by
    name, so it makes the new deck and keeps the existing cards in the old one."""
    now_in = {n.guid: n.deck for n in notes if n.status != "removed"}
    filled = {deck.casefold() for deck in now_in.values()}
    before: dict[str, list[LockEntry]] = defaultdict(list)
    for e in lock.entries:
        if not e.removed:
            before[e.deck.casefold()].append(e)
    renames = []
    for key, entries in sorted(before.items()):
        if key in filled or not all(e.guid in now_in for e in entries):
            continue
        targets = {now_in[e.guid] for e in entries}
        if len({t.casefold() for t in targets}) != 1 or next(iter(targets)).casefold() in before:
            continue
        renames.append(DeckRename(old=entries[0].deck, new=next(iter(targets)), questions=len(entries)))
    return tuple(renames)


def _removal(gone: Departed, notes_display: str) -> PlannedRemoval:
    return PlannedRemoval(
        guid=gone.guid,
        deck=gone.deck,
        path=_notes_path(notes_display, gone.path),
        question=gone.title,
        tagged=gone.tagged,
    )


def _notes_path(notes_display: str, path: str) -> str:
    return f"{notes_display.rstrip('/')}/{path}"


def _decks_path(options: BuildOptions, name: str) -> str:
    return f"{options.decks_display.rstrip('/')}/{name}"


# ---------------------------------------------------------------------------
# for people and for tools
# ---------------------------------------------------------------------------


def format_plan_text(plan: Plan) -> str:
    """The plan as plain text: a line per package, then what changes, by kind."""
    lines = [_package_line(p) for p in plan.packages]
    lines += [f"{name}: will be deleted (its decks have no questions left)" for name in plan.stale_packages]
    notes = [n for p in plan.packages for n in p.notes]
    new = [f"  {n.path}:{n.line}: {n.question}" for n in notes if n.status == "new"]
    updated = [
        f"  {n.path}:{n.line}: {n.question} ({_changes(n.changed)})" for n in notes if n.status == "updated"
    ]
    moved = [
        f"  {m.path}:{m.line}: {m.question} ({m.old_deck} -> {m.new_deck}; "
        f"Anki keeps its card in {m.old_deck})"
        for m in plan.moves
    ]
    renamed = [
        f"  {r.old} -> {r.new} ({r.questions} question{'s' if r.questions != 1 else ''}): "
        f"Anki will make a second deck {r.new} and keep the cards in {r.old}"
        for r in plan.renames
    ]
    for title, section in (
        ("new", new),
        ("updated", updated),
        ("moved deck", moved),
        ("renamed deck", renamed),
        ("removed from notes", removal_lines(plan.removed, plan.removed_search)),
    ):
        if section:
            lines += [f"{title}:", *section]
    return "".join(f"{line}\n" for line in lines)


def removal_lines(removed: Sequence[PlannedRemoval], search: str, *, limit: int | None = None) -> list[str]:
    """Indented lines naming each removed question (up to limit), then the Anki search."""
    shown = removed if limit is None else removed[:limit]
    lines = [
        f"  {r.path}: {r.question}" + ("" if r.tagged else " (not tagged in Anki: found by its ID)")
        for r in shown
    ]
    if len(removed) > len(shown):
        lines.append(f"  ... and {len(removed) - len(shown)} more")
    if removed:
        lines.append(f"  Anki search: {search}")
    return lines


def format_removed_notice(
    departed: Sequence[Departed], search: str, notes_display: str, *, limit: int | None = 10
) -> str:
    """What `build` says about questions that left the notes ("" when none): which
    (up to limit), what to do, and the Anki search that selects their notes."""
    if not departed:
        return ""
    one = len(departed) == 1
    lines = [
        f"{len(departed)} question{'' if one else 's'} left the notes; Anki never deletes on import. "
        f"After importing, delete {'its note' if one else 'their notes'} in Anki's browser, "
        "then run `dlcards forget`:",
        *removal_lines([_removal(d, notes_display) for d in departed], search, limit=limit),
    ]
    return "".join(f"{line}\n" for line in lines)


def _package_line(p: PlannedPackage) -> str:
    updated = [n.changed for n in p.notes if n.status == "updated"]
    detail = f" ({_grouped(updated)})" if updated else ""
    removed = p.count("removed")
    return (
        f"{p.path}: {p.count('new')} new, {len(updated)} updated{detail}, {p.count('unchanged')} unchanged"
        + (f", {removed} removed" if removed else "")
    )


def _grouped(changes: list[tuple[str, ...] | None]) -> str:
    """`Answer; Question, Answer`, with a repeated set of changes shown once, `Tags x12`."""
    counts: dict[str, int] = {}
    for changed in changes:
        text = _changes(changed)
        counts[text] = counts.get(text, 0) + 1
    return "; ".join(text if n == 1 else f"{text} x{n}" for text, n in counts.items())


def _changes(changed: tuple[str, ...] | None) -> str:
    return ", ".join(changed) if changed else "fields not recorded"


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """The plan as JSON-ready data, keys in a fixed order."""
    return {
        "packages": [
            {
                "path": p.path,
                "new": p.count("new"),
                "updated": p.count("updated"),
                "unchanged": p.count("unchanged"),
                "removed": p.count("removed"),
                "notes": [
                    {
                        "guid": n.guid,
                        "status": n.status,
                        "deck": n.deck,
                        "path": n.path,
                        "line": n.line,
                        "question": n.question,
                        "changed": None if n.changed is None else list(n.changed),
                    }
                    for n in p.notes
                ],
            }
            for p in plan.packages
        ],
        "stale_packages": list(plan.stale_packages),
        "moved": [
            {
                "guid": m.guid,
                "path": m.path,
                "line": m.line,
                "question": m.question,
                "from": m.old_deck,
                "to": m.new_deck,
            }
            for m in plan.moves
        ],
        "renamed_decks": [{"from": r.old, "to": r.new, "questions": r.questions} for r in plan.renames],
        "removed": [
            {"guid": r.guid, "deck": r.deck, "path": r.path, "question": r.question, "tagged": r.tagged}
            for r in plan.removed
        ],
        "removed_search": plan.removed_search,
        "rematches": [
            {
                "path": r.question.display_path,
                "line": r.question.line,
                "question": r.question.title,
                "continues": r.old_title,
                "similarity": r.similarity,
            }
            for r in plan.rematches
        ],
        "warnings": [{"path": w.path, "line": w.line, "message": w.message} for w in plan.warnings],
    }
