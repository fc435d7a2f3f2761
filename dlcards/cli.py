"""The command line: options in, one library call, a report out.

The only place that prints or exits. Mistakes in notes exit 1 with
`error: notes/x.md:12: ...` lines; Click's usage errors exit 2.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from . import __version__
from .errors import BuildFailed, DlcardsError, Problem, Severity

if TYPE_CHECKING:
    from .config import Config
    from .model import BuildOptions, BuildReport

# The stages (mistune, genanki, Pygments...) are imported inside the commands that
# use them, so `dlcards --help` starts as fast as Python and Click allow.

_MAX_LISTED = 10


@dataclass
class _Settings:
    """What the group's options and the project's config file decide for every command."""

    quiet: bool = False
    verbose: bool = False
    color: bool | None = None
    config: Config | None = None

    def notes(self, given: Path | None) -> Path:
        return given or (self.config and self.config.notes) or Path("notes")

    def decks(self, given: Path | None) -> Path:
        return given or (self.config and self.config.decks) or Path("decks")

    def say(
        self, message: str = "", *, err: bool = False, fg: str | None = None, quiet_ok: bool = False
    ) -> None:
        """Print, in colour on a terminal (never with NO_COLOR), and not at all with --quiet."""
        if self.quiet and not quiet_ok:
            return
        text = click.style(message, fg=fg) if fg and self.color is not False else message
        click.echo(text, err=err, color=self.color)

    def problem(self, problem: Problem) -> None:
        fg = "red" if problem.severity is Severity.ERROR else "yellow"
        self.say(str(problem), err=True, fg=fg, quiet_ok=problem.severity is Severity.ERROR)


_pass_settings = click.make_pass_decorator(_Settings)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dlcards")
@click.option("--quiet", "-q", is_flag=True, help="Print only errors.")
@click.option("--verbose", "-v", is_flag=True, help="Also say where settings came from.")
@click.pass_context
def main(ctx: click.Context, quiet: bool, verbose: bool) -> None:
    """Turn Markdown study notes into Anki decks that update in place on every re-import.

    Settings come from dlcards.toml or [tool.dlcards] in pyproject.toml in the
    current folder; command-line options win over them.

    \b
    Example:
      dlcards init               # a new notes project
      dlcards check              # lint notes/ without writing anything
      dlcards build              # notes/*.md -> decks/*.apkg
    """
    from .config import load_config

    color = False if os.environ.get("NO_COLOR") else None
    try:
        config = load_config(Path.cwd())
    except DlcardsError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    ctx.obj = _Settings(quiet=quiet, verbose=verbose, color=color, config=config)


def _output_options(f: Any) -> Any:
    """-q/-v work after the command too (`dlcards build -q`)."""

    def quiet(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value:
            ctx.ensure_object(_Settings).quiet = True

    def verbose(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value:
            ctx.ensure_object(_Settings).verbose = True

    f = click.option("--verbose", "-v", is_flag=True, expose_value=False, callback=verbose, help="Say more.")(
        f
    )
    return click.option(
        "--quiet", "-q", is_flag=True, expose_value=False, callback=quiet, help="Print only errors."
    )(f)


def _notes_option(f: Any) -> Any:
    return click.option(
        "--notes",
        "notes_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Folder of Markdown notes to read.  [default: notes, or the config's]",
    )(f)


def _decks_option(f: Any) -> Any:
    return click.option(
        "--decks",
        "decks_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Folder for the .apkg files and the lockfile.  [default: decks, or the config's]",
    )(f)


def _fail(settings: _Settings, exc: DlcardsError) -> NoReturn:
    if isinstance(exc, BuildFailed):
        for problem in exc.problems:
            settings.problem(problem)
        settings.say(f"dlcards: {exc}", err=True, fg="red", quiet_ok=True)
    else:
        settings.say(f"error: {exc}", err=True, fg="red", quiet_ok=True)
    raise SystemExit(1)


@main.command("build")
@_output_options
@_notes_option
@_decks_option
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write every deck into this one .apkg instead of one per top-level deck.",
)
@click.option(
    "--source-date-epoch",
    type=click.IntRange(min=0),
    envvar="SOURCE_DATE_EPOCH",
    show_envvar=True,
    metavar="SECONDS",
    default=None,
    help="Package time (Unix seconds) for the collection and the note and card ids, "
    "instead of the newest change; note modification times never follow it.",
)
@_pass_settings
def build_command(
    settings: _Settings,
    notes_dir: Path | None,
    decks_dir: Path | None,
    output: Path | None,
    source_date_epoch: int | None,
) -> None:
    """Build the notes into Anki packages (one per top-level deck).

    Each question keeps its note id in DECKS/dlcards.lock (commit it with your
    notes), so importing a rebuilt deck updates the cards you already study
    instead of duplicating them.

    \b
    Example:
      dlcards build
      dlcards build --notes ~/vault/interview --decks ~/anki
      dlcards build --output all.apkg
      SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) dlcards build
    """
    options = _build_options(settings, notes_dir, decks_dir, output, source_date_epoch)
    if settings.verbose and settings.config is not None and settings.config.origin:
        settings.say(f"settings from {_display(Path(settings.config.origin))}", err=True)
    from .fastpath import replay

    # Nothing changed since a build that wrote nothing: answered before the stages load.
    report, snapshot = replay(options, time.time())
    if report is None:
        from .build import build

        def on_busy() -> None:
            settings.say(f"waiting for another dlcards build in {options.decks_dir}/ to finish...", err=True)

        try:
            with _Progress(settings) as progress, _cycle_collector_paused():
                report = build(
                    options,
                    clock=time.time,
                    wait=_sleep,
                    on_busy=on_busy,
                    progress=progress,
                    snapshot=snapshot,
                )
        except DlcardsError as exc:
            _fail(settings, exc)
    _print_report(
        settings,
        report,
        Path(options.decks_display) if options.output is None else None,
        options.notes_display,
    )


def _build_options(
    settings: _Settings,
    notes_dir: Path | None,
    decks_dir: Path | None,
    output: Path | None = None,
    source_date_epoch: int | None = None,
) -> BuildOptions:
    """Command line first, then the config file, then the defaults."""
    from .model import BuildOptions

    notes, decks = settings.notes(notes_dir), settings.decks(decks_dir)
    config = settings.config
    if output is None and config is not None and config.packaging == "single":
        output = config.output or decks / "all.apkg"
    return BuildOptions(
        notes_dir=notes,
        decks_dir=decks,
        output=output,
        notes_display=_display(notes),
        decks_display=_display(decks),
        source_date_epoch=source_date_epoch,
        cache_dir=_cache_dir(),
        deck_names=dict(config.deck_names) if config is not None else {},
        default_tags=config.tags if config is not None else (),
        attachments=config.attachments if config is not None else (),
        workers=min(os.cpu_count() or 1, 4),
    )


def _cache_dir() -> Path | None:
    """The user's cache folder (rendered cards by content, package digests): out of
    the project, safe to delete. DLCARDS_NO_CACHE=1 turns it off."""
    if os.environ.get("DLCARDS_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dlcards"


def _display(path: Path) -> str:
    """A path as the user would type it: relative to the current folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve())) if path.is_absolute() else str(path)
    except ValueError:
        return str(path)


class _Progress:
    """On a terminal, a build that takes over a second shows a progress bar of the
    files it has read; piped or quiet, nothing."""

    WIDTH = 30

    def __init__(self, settings: _Settings) -> None:
        self.enabled = not settings.quiet and sys.stderr.isatty()
        self.started = time.monotonic()
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or time.monotonic() - self.started < 1.0:
            return
        filled = self.WIDTH * done // max(total, 1)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        sys.stderr.write(f"\rbuilding [{bar}] {done}/{total} files")
        sys.stderr.flush()
        self.shown = True

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


@contextlib.contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """No cyclic garbage collection during one build.

    A build holds every card, note and lockfile entry of the vault until it ends,
    and makes little cyclic garbage: Python's collector would only walk them again
    and again (5% of a rebuild at 10,000 questions; 15% at 50,000 on a busy machine).
    Peak memory measured the same with it off. What the imports made is frozen
    out of its way too; all is as it was afterwards (tests build in one process)."""
    enabled = gc.isenabled()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.unfreeze()


# Young objects a collection waits for: 70 times Python's default, so a rebuild
# triggers a handful of collections instead of hundreds.
_RELAXED_THRESHOLD = 50_000


@contextlib.contextmanager
def _cycle_collector_relaxed() -> Iterator[None]:
    """Fewer cyclic garbage collections for a long-lived process that builds again and
    again (watch): still collecting, so its memory stays bounded."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(_RELAXED_THRESHOLD, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _sleep(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)


def _print_report(
    settings: _Settings, report: BuildReport, decks_dir: Path | None, notes_display: str
) -> None:
    for problem in report.warnings:
        settings.problem(problem)
    for rematch in report.rematches:
        q = rematch.question
        settings.say(
            f"kept note: {q.display_path}:{q.line}: {q.title!r} continues {rematch.old_title!r} "
            f"({rematch.similarity:.0%} alike)"
        )
    for move in report.moves:
        q = move.question
        settings.say(
            f"deck changed: {q.display_path}:{q.line}: {q.title!r} moved from {move.old_deck!r} to "
            f"{q.deck!r}; Anki keeps existing cards in {move.old_deck!r} (move them in the browser)",
            fg="yellow",
        )
    if report.departed:
        from .plan import format_removed_notice

        notice = format_removed_notice(
            report.departed, report.removed_search, notes_display, limit=_MAX_LISTED
        )
        if notice:
            settings.say(notice.rstrip("\n"), fg="yellow")
    for name in report.stale_packages:
        settings.say(f"removed {name}: its deck has no questions left")
    for package in report.packages:
        where = decks_dir / package.filename if decks_dir is not None else Path(package.filename)
        settings.say(
            f"{_display(where)}: {package.notes} note{'s' if package.notes != 1 else ''} "
            f"({package.new} new, {package.updated} updated, {package.unchanged} unchanged"
            + (f", {package.removed} removed" if package.removed else "")
            + ")",
            fg="green" if package.new or package.updated else None,
        )


@main.command("plan")
@_output_options
@_notes_option
@_decks_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json for tools.",
)
@_pass_settings
def plan_command(settings: _Settings, notes_dir: Path | None, decks_dir: Path | None, fmt: str) -> None:
    """Say what the next build and import will do, writing nothing.

    From the notes and the lockfile: per package the new, updated (with the
    fields that change), unchanged and removed notes; questions that moved
    deck (Anki keeps their cards where they are), renamed decks, and questions
    that left the notes, with the Anki search that selects them.

    \b
    Example:
      dlcards plan
      dlcards plan --format json
    """
    import json

    from .plan import format_plan_text, plan_build, plan_to_json

    options = _build_options(settings, notes_dir, decks_dir)
    try:
        plan = plan_build(options, clock=time.time)
    except DlcardsError as exc:
        _fail(settings, exc)
    for problem in plan.warnings:
        settings.problem(problem)
    if fmt == "json":
        click.echo(json.dumps(plan_to_json(plan), indent=2, ensure_ascii=False))
    else:
        click.echo(format_plan_text(plan), nl=False)


@main.command("forget")
@_output_options
@_decks_option
@click.argument("guids", nargs=-1)
@_pass_settings
def forget_command(settings: _Settings, decks_dir: Path | None, guids: tuple[str, ...]) -> None:
    """Drop questions that left the notes from the lockfile, once deleted in Anki.

    A removed question stays in its deck's package, tagged dlcards::removed,
    until you forget it. Delete those notes in Anki first (Browse, search
    tag:dlcards::removed), then forget them; without GUIDS, every removed
    question is forgotten.

    \b
    Example:
      dlcards forget
      dlcards forget 1EVrdjLA06S
    """
    from .lockfile import forget_removed

    decks = settings.decks(decks_dir)

    def on_busy() -> None:
        settings.say(f"waiting for another dlcards build in {_display(decks)}/ to finish...", err=True)

    try:
        dropped = forget_removed(decks, list(guids) or None, decks_display=_display(decks), on_busy=on_busy)
    except DlcardsError as exc:
        _fail(settings, exc)
    for entry in dropped:
        settings.say(f"forgot {entry.guid}: {_display(settings.notes(None))}/{entry.path}: {entry.title}")
    settings.say(f"{_count(len(dropped), 'removed question')} forgotten" if dropped else "nothing to forget")


@main.command("check")
@_output_options
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@_notes_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="text for people, json for tools, github for workflow annotations.",
)
@click.option("--strict", is_flag=True, help="Treat warnings as errors (exit 1 on any).")
@_pass_settings
def check_command(
    settings: _Settings, paths: tuple[Path, ...], notes_dir: Path | None, fmt: str, strict: bool
) -> None:
    """Check the notes without writing anything.

    Prints every problem as `path:line:col: severity: message`, and for each
    file the shape it was read in (labelled, body or bold) and its number of
    questions. Exits 1 on errors (and with --strict on warnings), 0 otherwise.
    PATHS limits the report to those files or folders.

    \b
    Example:
      dlcards check
      dlcards check notes/deep-learning --strict
      dlcards check --format github     # in a CI workflow
    """
    import json

    from .check import check_notes

    notes = settings.notes(notes_dir)
    try:
        config = settings.config
        report = check_notes(notes, _display(notes), config.attachments if config is not None else ())
    except DlcardsError as exc:
        _fail(settings, exc)
    wanted = [_display(p).rstrip("/") for p in paths]

    def selected(display: str) -> bool:
        return not wanted or any(display == w or display.startswith(w + "/") for w in wanted)

    files = [f for f in report.files if selected(f.display_path)]
    problems = [p for p in report.problems if selected(p.path)]
    errors = sum(p.severity is Severity.ERROR for p in problems)
    warnings = len(problems) - errors
    if fmt == "json":
        data = {
            "files": [{"path": f.display_path, "shape": f.shape, "questions": f.questions} for f in files],
            "problems": [
                {
                    "path": p.path,
                    "line": p.line,
                    "col": p.col,
                    "severity": p.severity.value,
                    "message": p.message,
                }
                for p in problems
            ],
        }
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    elif fmt == "github":
        for p in problems:
            kind = "error" if p.severity is Severity.ERROR else "warning"
            message = p.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
            click.echo(f"::{kind} file={p.path},line={p.line},col={p.col}::{message}")
    else:
        for p in problems:
            fg = "red" if p.severity is Severity.ERROR else "yellow"
            settings.say(f"{p.path}:{p.line}:{p.col}: {p.severity.value}: {p.message}", fg=fg, quiet_ok=True)
        for f in files:
            settings.say(f"{f.display_path}: {f.shape}, {_count(f.questions, 'question')}")
        total = sum(f.questions for f in files)
        settings.say(
            f"{_count(len(files), 'file')}, {_count(total, 'question')}, "
            f"{_count(errors, 'error')}, {_count(warnings, 'warning')}"
        )
    if errors or (strict and warnings):
        raise SystemExit(1)


@main.command("show")
@_output_options
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@_notes_option
@_decks_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@_pass_settings
def show_command(
    settings: _Settings, paths: tuple[Path, ...], notes_dir: Path | None, decks_dir: Path | None, fmt: str
) -> None:
    """List the questions as the next build will see them.

    A table of deck, note id (guid, from the lockfile when the question is
    already known), source line and the question's first line; --format json
    gives every field.

    \b
    Example:
      dlcards show
      dlcards show notes/deep-learning/optimization.md --format json
    """
    import json

    from .listing import list_questions

    options = _build_options(settings, notes_dir, decks_dir)
    try:
        rows = list_questions(options)
    except DlcardsError as exc:
        _fail(settings, exc)
    wanted = [_display(p).rstrip("/") for p in paths]
    rows = [
        r
        for r in rows
        if not wanted or any(r.display_path == w or r.display_path.startswith(w + "/") for w in wanted)
    ]
    if fmt == "json":
        click.echo(json.dumps([r.to_json() for r in rows], indent=2, ensure_ascii=False))
        return
    table = [("DECK", "GUID", "SOURCE", "QUESTION")] + [
        (r.deck, r.guid, f"{r.display_path}:{r.line}", r.first_line) for r in rows
    ]
    widths = [min(max(len(row[i]) for row in table), 40) for i in range(3)]
    for row in table:
        cells = [row[i][: widths[i]].ljust(widths[i]) for i in range(3)]
        click.echo("  ".join([*cells, row[3]]).rstrip())


@main.command("preview")
@_output_options
@_notes_option
@_decks_option
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The HTML file to write.  [default: DECKS/preview.html]",
)
@click.option("--open", "open_page", is_flag=True, help="Open the page in a browser once written.")
@_pass_settings
def preview_command(
    settings: _Settings, notes_dir: Path | None, decks_dir: Path | None, output: Path | None, open_page: bool
) -> None:
    """Write one HTML page showing every card's front and back as Anki shows them.

    The page uses the note type's own templates and CSS, switches between light
    and night mode, filters cards as you type, and works offline (math shows as
    its \\(...\\) source; Anki typesets it). It writes nothing else: no decks,
    no lockfile.

    \b
    Example:
      dlcards preview --open
      dlcards preview --notes ~/vault/interview -o /tmp/cards.html
    """
    from .atomic import write_atomic
    from .listing import preview_cards
    from .preview import render_preview

    options = _build_options(settings, notes_dir, decks_dir)
    target = output if output is not None else options.decks_dir / "preview.html"
    try:
        cards = preview_cards(options)
        write_atomic(
            target, render_preview(cards.cards, title=f"{options.notes_display}: dlcards preview").encode()
        )
    except DlcardsError as exc:
        _fail(settings, exc)
    for problem in cards.warnings:
        settings.problem(problem)
    settings.say(f"{_display(target)}: {len(cards.cards)} card{'s' if len(cards.cards) != 1 else ''}")
    if open_page:
        click.launch(str(target))


@main.command("watch")
@_output_options
@_notes_option
@_decks_option
@_pass_settings
def watch_command(settings: _Settings, notes_dir: Path | None, decks_dir: Path | None) -> None:
    """Rebuild the decks whenever a notes file changes (Ctrl-C stops).

    Prints one line per rebuild, and the problems of a rebuild that failed: a
    file saved half-way is reported and rebuilt on its next save.

    \b
    Example:
      dlcards watch
    """
    from .watch import watch_builds

    options = _build_options(settings, notes_dir, decks_dir)
    stop = threading.Event()

    def on_result(outcome: BuildReport | DlcardsError, changed: tuple[str, ...]) -> None:
        stamp = time.strftime("%H:%M:%S")
        if isinstance(outcome, DlcardsError):
            problems = outcome.problems if isinstance(outcome, BuildFailed) else []
            for problem in problems:
                settings.problem(problem)
            settings.say(f"[{stamp}] build failed: {outcome}", err=True, fg="red", quiet_ok=True)
            return
        for problem in outcome.warnings:
            settings.problem(problem)
        counts = [
            sum(getattr(p, k) for p in outcome.packages) for k in ("notes", "new", "updated", "unchanged")
        ]
        settings.say(
            f"[{stamp}] built {len(outcome.packages)} package{'s' if len(outcome.packages) != 1 else ''}: "
            f"{counts[0]} notes ({counts[1]} new, {counts[2]} updated, {counts[3]} unchanged)",
            fg="green",
        )

    settings.say(f"watching {options.notes_display}/ (Ctrl-C stops)")
    try:
        with _cycle_collector_relaxed():
            watch_builds(options, clock=time.time, wait=_sleep, on_result=on_result, stop=stop)
    except KeyboardInterrupt:
        stop.set()


@main.command("init")
@_output_options
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@_pass_settings
def init_command(settings: _Settings, directory: Path) -> None:
    """Start a notes project: notes/example.md, decks/ and dlcards.toml.

    Existing files are never overwritten.

    \b
    Example:
      dlcards init my-notes && cd my-notes && dlcards build
    """
    from .scaffold import scaffold_project

    try:
        result = scaffold_project(directory)
    except DlcardsError as exc:
        _fail(settings, exc)
    for path in result.created:
        settings.say(f"created {_display(path)}")
    for path in result.kept:
        settings.say(f"kept {_display(path)} (already there)")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
