"""The build: notes in, decks out, through every stage once.

    read -> parse -> render -> identify (lockfile) -> package -> decks/

Collects every problem in every file before failing, and writes nothing unless the
whole build is sound: existing decks and the lockfile stay as they were on error.
The clock, the wait and SOURCE_DATE_EPOCH are passed in, which keeps builds
reproducible and tests exact. `prepare_build` decides everything a build writes;
`plan` (plan.py) reports the same decision without writing it.

Removed questions. Anki never deletes on import, so a question that left the notes
stays in its package, tagged `dlcards::removed` (see identify.py). Its content is
the one the last build gave it: read back from that build's package when it leaves
(only then, and only if it hashes to what the lockfile recorded), then kept in the
lockfile. A question that left before this existed, or whose package is gone, has
no content to emit: it is reported, and found in Anki by its ID.

Crash safety. One build at a time holds the decks folder (an OS file lock). Each
package is made, one at a time, and staged beside its target (a temporary file,
flushed to disk; atomic.py) before anything is replaced; then the lockfile is
replaced, then each staged package is renamed into place, then stale packages are
deleted. So a build killed at any moment leaves every file either as it was or
complete, and the lockfile is never older than a package next to it. Killed before
the lockfile was replaced, a build has changed nothing (its staged files are
leftovers the next build removes). Killed after, it looks like a finished build
whose packages were not all renamed into place yet: the next build from the same
notes stamps nothing anew (each note matches its lockfile entry) and writes the
packages the killed build would have written, byte for byte.
The other order would be unsafe: new packages next to the old lockfile, and a note
imported from one of them would get a later mod from the next build, so importing
that build would overwrite edits made in Anki in between.
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from . import __version__
from .atomic import StagedFile, hold_build_lock, remove_leftovers
from .cache import PackageDigests, RenderCache, cache_key
from .config import apply_settings
from .errors import BuildFailed, LockfileError, Problem, Severity
from .fastpath import Snapshot, record_report, recorded_report, take_snapshot
from .fieldstore import FieldStore
from .identify import (
    Identified,
    Matching,
    content_hash,
    earliest_mod,
    find_duplicates,
    keep_departed,
    match_cards,
    removed_search,
    stamp_notes,
    untracked_departures,
)
from .lockfile import LOCK_NAME, Lock, RemovedNote, load_lock, save_lock
from .media import MediaStage, recorded_media
from .model import BuildOptions, BuildReport, Card, Note, PackageSummary, ParsedFile, SourceFile
from .notetype import notetype_hash
from .package import (
    delete_package,
    discard_package,
    read_package_notes,
    render_package,
    stage_package,
    write_package,
)
from .read import iter_notes, note_paths

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

_CLOCK_SLACK = 5  # seconds of clock difference tolerated between machines sharing a lockfile

Clock = Callable[[], float]
Wait = Callable[[float], None]


Progress = Callable[[int, int], None]  # files done, files in all


def collect_cards(
    options: BuildOptions, progress: Progress | None = None
) -> tuple[list[Card], list[Problem]]:
    """Read, parse and render every notes file; problems from all files at once.

    Files whose content the cache already holds are neither parsed nor rendered;
    the others are, in several processes when there is enough work to pay for them."""
    cards: list[Card] = []
    problems: list[Problem] = []
    for file_cards, parsed in each_file(options, problems, progress):
        cards.extend(file_cards)
        problems.extend(parsed.problems)
    return cards, problems


def each_file(
    options: BuildOptions, problems: list[Problem], progress: Progress | None = None
) -> Iterator[tuple[list[Card], ParsedFile]]:
    """collect_cards a file at a time, in the notes' order (reading problems go to
    problems). Files are read as they are needed and rendered a few ahead of the one
    handed on, so neither the vault's text nor its cards are in memory all at once."""
    paths = note_paths(options.notes_dir, options.notes_display, problems)
    cache = RenderCache(options.cache_dir) if options.cache_dir is not None else None
    with _Renderer(options.workers) as renderer:
        window: deque[tuple[str, bool, _Pending]] = deque()  # cache key, from the cache, cards
        done = 0

        def finish() -> tuple[list[Card], ParsedFile]:
            nonlocal done
            key, cached, pending = window.popleft()
            result = pending if isinstance(pending, tuple) else pending.result()
            if cache is not None and not cached:
                cache.put(key, *result)
            done += 1
            if progress is not None:
                progress(done, len(paths))
            return result

        for source in iter_notes(options.notes_dir, options.notes_display, paths, problems):
            source = apply_settings(source, options.deck_names, options.default_tags)
            key = cache_key(source) if cache is not None else ""
            hit = cache.get(key) if cache is not None else None
            window.append((key, hit is not None, hit if hit is not None else renderer.submit(source)))
            while window and (len(window) > renderer.ahead or _ready(window[0][2])):
                yield finish()
        while window:
            yield finish()


# A file's cards: at hand (from the cache, or rendered here) or on their way from a worker.
_Pending: TypeAlias = "tuple[list[Card], ParsedFile] | Future[tuple[list[Card], ParsedFile]]"


def _ready(pending: _Pending) -> bool:
    return isinstance(pending, tuple) or pending.done()


_PARALLEL_BYTES = 256 * 1024  # below this, starting processes costs more than it saves


def _parse_and_render(source: SourceFile) -> tuple[list[Card], ParsedFile]:
    # Imported here, not with the module: a build whose files are all in the cache
    # never loads mistune, Pygments or nh3 (a twentieth of a second).
    from .parse import parse_file
    from .render import render_card

    parsed = parse_file(source)
    return [render_card(q) for q in parsed.questions], parsed


class _Renderer:
    """Parses and renders files the cache does not hold: in this process until there
    is enough work to pay for starting others, then in `workers` processes."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.ahead = 1  # files rendered ahead of the one handed on: a few per process
        self._bytes = 0
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> _Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def submit(self, source: SourceFile) -> _Pending:
        self._bytes += len(source.body)
        if self._pool is None and self.workers > 1 and self._bytes >= _PARALLEL_BYTES:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # Once, before any worker forks: each starts with the stages already imported.
            from . import parse, render  # noqa: F401

            # fork: the workers start with everything imported; the build has no threads.
            context = multiprocessing.get_context("fork")
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
            self.ahead = 4 * self.workers
        if self._pool is None:
            return _parse_and_render(source)
        return self._pool.submit(_parse_and_render, source)


def sound_cards(
    options: BuildOptions, progress: Progress | None = None, store: FieldStore | None = None
) -> tuple[list[Card], list[Problem]]:
    """Every card and the warnings about them; raises BuildFailed when the notes have
    errors (or no question at all). With a store, each file's cards keep their fields
    there as soon as the file is done (so the cards of a big vault hold no HTML)."""
    media = MediaStage(options.notes_dir, options.attachments)
    cards: list[Card] = []
    problems: list[Problem] = []
    for file_cards, parsed in each_file(options, problems, progress):
        resolved, media_problems = media.resolve(file_cards)
        problems.extend(parsed.problems)
        problems.extend(media_problems)
        cards.extend(resolved if store is None else map(store.keep, resolved))
    problems.extend(find_duplicates(cards))
    _stop_on_errors(problems, cards, options)
    return cards, problems


def build(
    options: BuildOptions,
    *,
    clock: Clock,
    wait: Wait,
    on_busy: Callable[[], None] = lambda: None,
    progress: Progress | None = None,
    snapshot: Snapshot | None = None,
) -> BuildReport:
    """Build the decks; raises BuildFailed (writing nothing) when the notes have errors.

    Holds the build lock of the decks folder from reading the lockfile to the last
    write; if another build holds it, calls on_busy and waits for it."""
    # Nothing changed since a build that wrote nothing: its report, without reading a
    # note (fastpath.py says why that is exact). A caller that already asked passes the
    # snapshot it took (before reading anything, as this one must be).
    before = snapshot
    if before is None and options.cache_dir is not None:
        before = take_snapshot(options)
        if before is not None:
            recorded = recorded_report(options.cache_dir, options.decks_dir, options.output, before, clock())
            if recorded is not None:
                return recorded
    with FieldStore(options.cache_dir) as store:
        # Mistakes in the notes stop the build before it touches the decks folder at all.
        cards, problems = sound_cards(options, progress, store)
        notes_problems = list(problems)
        with hold_build_lock(options.decks_dir, on_busy):
            remove_leftovers(options.decks_dir)
            if options.output is not None:
                remove_leftovers(options.output.parent, options.output.name)
            report, lock = _build_locked(options, cards, problems, store, clock=clock, wait=wait)
            if before is not None and options.cache_dir is not None:
                # For the next build with nothing changed: this one's report when it
                # wrote nothing, else the report the next one would give.
                after = take_snapshot(options)
                place = (options.cache_dir, options.decks_dir, options.output)
                if after == before:
                    record_report(*place, before, report, lock.latest_mod())
                elif after is not None and after.inputs == before.inputs:
                    repeat = _repeat_report(options, cards, notes_problems, lock, clock)
                    if repeat is not None:
                        record_report(*place, after, repeat, lock.latest_mod())
    return report


def _repeat_report(
    options: BuildOptions, cards: list[Card], problems: list[Problem], lock: Lock, clock: Clock
) -> BuildReport | None:
    """The report of a build run right after this one on the same notes, when that build
    would write nothing (None otherwise): its decisions, made from the lockfile this
    build wrote, give back that very lockfile and packages this build made."""
    matching = match_cards(cards, lock)
    if untracked_departures(matching) or any(p.severity is Severity.ERROR for p in matching.problems):
        return None
    identified = stamp_notes(matching, lock, notetype_hash(), int(clock()))
    if (identified.lock.entries, identified.lock.notetype) != (lock.entries, lock.notetype):
        return None
    groups = group_packages(identified.notes, options.output)
    if options.output is None and {str(t) for t in groups} != set(lock.packages):
        return None
    notetype_mod = lock.notetype.mod if lock.notetype else 0
    digests = PackageDigests(options.cache_dir) if options.cache_dir is not None else None
    for target, notes in groups.items():
        path = options.decks_dir / target if options.output is None else target
        inputs = package_inputs(notes, notetype_mod, options.source_date_epoch)
        if digests is None or not digests.is_current(path, inputs):
            return None
    warnings = [p for p in [*problems, *matching.problems] if p.severity is Severity.WARNING]
    return _report(identified, groups, (), _ordered(warnings))


def _stop_on_errors(problems: list[Problem], cards: list[Card], options: BuildOptions) -> None:
    if any(p.severity is Severity.ERROR for p in problems):
        raise BuildFailed(_ordered(problems))
    if not cards:
        raise BuildFailed(
            [
                *_ordered(problems),
                Problem(
                    severity=Severity.ERROR,
                    path=options.notes_display,
                    line=0,
                    message="no questions found: a question is a heading followed by an "
                    "'**Answer:**' line (see the README)",
                ),
            ]
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PreparedBuild:
    """A build decided and not yet written: what `build` writes and `plan` reports."""

    lock: Lock  # the lockfile as it was
    identified: Identified  # the notes with their guids and mods, and the new lockfile
    groups: dict[Path, list[Note]]  # package path (under the decks folder, or the output) -> notes
    stale: tuple[str, ...]  # packages of the lockfile that no deck fills any more
    packages: tuple[str, ...]  # the packages the lockfile lists after the build
    warnings: tuple[Problem, ...]


def prepare_build(
    options: BuildOptions, cards: list[Card], problems: list[Problem], *, clock: Clock, wait: Wait | None
) -> PreparedBuild:
    """Everything a build decides, from the notes and the lockfile; writes nothing.

    With wait, it waits until the clock allows every changed note a mod above its
    last one; without (a plan), it only predicts, so the mods it stamps may lie ahead."""
    lock = load_lock(options.decks_dir / LOCK_NAME, f"{options.decks_display}/{LOCK_NAME}")
    matching = match_cards(cards, lock)
    problems.extend(matching.problems)
    _stop_on_errors(problems, cards, options)
    matching = _recover_departed(matching, lock, options)

    nt_hash = notetype_hash()
    floor = earliest_mod(matching, lock, nt_hash)
    if lock.latest_mod() > clock() + _CLOCK_SLACK:
        # Anki would refuse every later update of such a note until the clock caught up.
        raise LockfileError(
            f"{options.decks_display}/{LOCK_NAME}",
            "records changes made in the future; check this computer's clock",
        )
    if wait is None:
        now = max(int(clock()), floor)
    else:
        # A changed note needs a mod above its last one, and a mod in the future would
        # block every later update until the clock passed it: wait for the clock.
        while int(clock()) < floor:
            wait(floor - clock() + 0.01)
        now = int(clock())
    identified = stamp_notes(matching, lock, nt_hash, now)
    identified = _with_removed_media(identified, options)

    groups = group_packages(identified.notes, options.output)
    if options.output is None:
        written = {str(t) for t in groups}
        stale = tuple(sorted(set(lock.packages) - written))
        packages = tuple(sorted(written))
    else:
        stale, packages = (), lock.packages
    return PreparedBuild(
        lock=lock,
        identified=identified,
        groups=groups,
        stale=stale,
        packages=packages,
        warnings=tuple(_ordered([p for p in problems if p.severity is Severity.WARNING])),
    )


def _with_removed_media(identified: Identified, options: BuildOptions) -> Identified:
    """Removed questions keep carrying the media files their fields show, where those
    files are still there unchanged (a fresh collection would miss them otherwise)."""
    recorded = {e.guid: e.media for e in identified.lock.entries if e.removed and e.media}
    if not recorded:
        return identified
    notes = tuple(
        replace(n, media=recorded_media(recorded[n.guid], options.notes_dir, options.attachments))
        if n.status == "removed" and n.guid in recorded
        else n
        for n in identified.notes
    )
    return replace(identified, notes=notes)


def _recover_departed(matching: Matching, lock: Lock, options: BuildOptions) -> Matching:
    """Questions that left the notes since the last build: their content, for the lockfile
    to keep, comes from the packages that build wrote (read only when there are any)."""
    places = [options.decks_dir / name for name in lock.packages]
    if options.output is not None:
        places.append(options.output)
    for place in places:
        wanted = untracked_departures(matching)
        if not wanted:
            break
        found = read_package_notes(place, wanted)
        matching = keep_departed(
            matching, {guid: RemovedNote(fields=f, tags=t) for guid, (f, t) in found.items()}
        )
    return matching


def _build_locked(
    options: BuildOptions,
    cards: list[Card],
    problems: list[Problem],
    store: FieldStore,
    *,
    clock: Clock,
    wait: Wait,
) -> tuple[BuildReport, Lock]:
    """Decide, then write; the report, and the lockfile as the build left it."""
    prepared = prepare_build(options, cards, problems, clock=clock, wait=wait)
    identified, groups, stale, packages = (
        prepared.identified,
        prepared.groups,
        prepared.stale,
        prepared.packages,
    )
    notetype_mod = identified.lock.notetype.mod if identified.lock.notetype else 0
    digests = PackageDigests(options.cache_dir) if options.cache_dir is not None else None
    staged: dict[Path, StagedFile] = {}
    try:
        # One package at a time: its fields read back from the store, made, written
        # beside its target (flushed, not yet in place) and dropped, so memory follows
        # the largest deck, not the vault.
        for target, notes in groups.items():
            path = options.decks_dir / target if options.output is None else target
            inputs = package_inputs(notes, notetype_mod, options.source_date_epoch)
            if digests is not None and digests.is_current(path, inputs):
                continue  # provably the package this build would write: the same inputs, the same bytes
            data = render_package(
                store.filled(notes), notetype_mod=notetype_mod, source_date_epoch=options.source_date_epoch
            )
            staged[path] = stage_package(path, data)
            del data
            if digests is not None:
                digests.record(path, inputs, staged[path].sha256)

        # Every package is made; now the writes, in an order that any crash leaves safe
        # (see the module docstring). The lockfile keeps listing a stale package until
        # it is gone, so a build killed before deleting it deletes it next time.
        lock_path = options.decks_dir / LOCK_NAME
        save_lock(lock_path, replace(identified.lock, packages=tuple(sorted({*packages, *stale}))))
        for path, package in list(staged.items()):
            write_package(path, package)
            del staged[path]
    finally:
        for package in staged.values():  # the build stopped before putting them in place
            discard_package(package)
    for name in stale:
        delete_package(options.decks_dir / name)
    if stale:
        save_lock(lock_path, replace(identified.lock, packages=packages))
    if digests is not None:
        digests.save()

    final = replace(identified.lock, packages=packages)
    return _report(identified, groups, stale, prepared.warnings), final


def _report(
    identified: Identified,
    groups: dict[Path, list[Note]],
    stale: tuple[str, ...],
    warnings: Sequence[Problem],
) -> BuildReport:
    return BuildReport(
        packages=tuple(_summary(str(t), n) for t, n in groups.items()),
        warnings=tuple(warnings),
        rematches=identified.rematches,
        moves=identified.moves,
        departed=identified.departed,
        removed_search=removed_search(identified.departed),
        stale_packages=stale,
        statuses=tuple(sorted((n.guid, n.status) for n in identified.notes)),
    )


def package_inputs(notes: list[Note], notetype_mod: int, source_date_epoch: int | None) -> str:
    """A digest of everything a package's bytes follow from: the versions and formats
    that shape it, the note types, and every note's identity, content hash (of its
    fields, tags and note type) and media names (a media file's name carries its
    content's hash). The fields themselves need not be at hand."""
    import hashlib
    import json

    from .package import DEFLATE_LEVEL, PACKAGE_FORMAT

    digest = hashlib.sha256()
    versions = [__version__, PACKAGE_FORMAT, DEFLATE_LEVEL, notetype_hash()]
    digest.update(json.dumps([*versions, notetype_mod, source_date_epoch, len(notes)]).encode())
    for n in notes:
        # The lengths of the parts, then the parts: no text can pass for a boundary.
        # The content hash sorts the tags; the package keeps them in their order.
        content = n.hash or content_hash(n.fields, n.tags, n.kind)
        parts = (n.guid, str(n.mod), n.kind, n.deck, content, *n.tags, "", *(m.name for m in n.media))
        lengths = ",".join(map(str, map(len, parts)))
        digest.update(f"{lengths};{''.join(parts)}".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def group_packages(notes: tuple[Note, ...], output: Path | None) -> dict[Path, list[Note]]:
    """One package per top-level deck (named after it), or all in `output`."""
    if output is not None:
        return {output: list(notes)}
    # Anki's deck names ignore case, so "ML" and "ml" are one deck and one package.
    by_top: dict[str, list[Note]] = defaultdict(list)
    for note in notes:
        by_top[note.deck.split("::")[0].casefold()].append(note)
    packages: dict[Path, list[Note]] = {}
    for top in sorted(by_top):
        slug = package_slug(top)
        name = Path(f"{slug}.apkg")
        n = 1
        while name in packages:  # two names that slug alike ("C++" and "C")
            n += 1
            name = Path(f"{slug}-{n}.apkg")
        packages[name] = by_top[top]
    return packages


def package_slug(deck: str) -> str:
    """`Deep Learning` -> `deep-learning`; non-Latin names keep their letters."""
    slug = re.sub(r"[^\w]+", "-", deck.casefold()).strip("-_")
    return slug or "deck"


def _summary(filename: str, notes: list[Note]) -> PackageSummary:
    return PackageSummary(
        filename=filename,
        notes=len(notes),
        new=sum(n.status == "new" for n in notes),
        updated=sum(n.status == "updated" for n in notes),
        unchanged=sum(n.status == "unchanged" for n in notes),
        removed=sum(n.status == "removed" for n in notes),
    )


def _ordered(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.path, p.line, p.severity.value))
