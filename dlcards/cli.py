"""The command line: options in, one library call, a report out.

The only place that prints or exits. Mistakes in notes exit 1 with
`error: notes/x.md:12: ...` lines; Click's usage errors exit 2.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from . import __version__
from .build import BuildOptions, build
from .errors import BuildFailed, DlcardsError
from .model import BuildReport

_MAX_LISTED = 10


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dlcards")
def main() -> None:
    """Turn Markdown study notes into Anki decks that update in place on every re-import.

    \b
    Example:
      dlcards build              # notes/*.md -> decks/*.apkg
    """


@main.command("build")
@click.option(
    "--notes",
    "notes_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default="notes",
    show_default=True,
    help="Folder of Markdown notes to read.",
)
@click.option(
    "--decks",
    "decks_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default="decks",
    show_default=True,
    help="Folder for the .apkg files and the lockfile.",
)
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
def build_command(
    notes_dir: Path, decks_dir: Path, output: Path | None, source_date_epoch: int | None
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
    options = BuildOptions(
        notes_dir=notes_dir,
        decks_dir=decks_dir,
        output=output,
        notes_display=str(notes_dir),
        decks_display=str(decks_dir),
        source_date_epoch=source_date_epoch,
    )

    def on_busy() -> None:
        click.echo(f"waiting for another dlcards build in {decks_dir}/ to finish...", err=True)

    try:
        report = build(options, clock=time.time, wait=_sleep, on_busy=on_busy)
    except BuildFailed as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        click.echo(f"dlcards: {exc}", err=True)
        raise SystemExit(1) from None
    except DlcardsError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    _print_report(report, decks_dir if output is None else None)


def _sleep(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)


def _print_report(report: BuildReport, decks_dir: Path | None) -> None:
    for problem in report.warnings:
        click.echo(str(problem), err=True)
    for rematch in report.rematches:
        q = rematch.question
        click.echo(
            f"kept note: {q.display_path}:{q.line}: {q.title!r} continues {rematch.old_title!r} "
            f"({rematch.similarity:.0%} alike)"
        )
    for move in report.moves:
        q = move.question
        click.echo(
            f"deck changed: {q.display_path}:{q.line}: {q.title!r} moved from {move.old_deck!r} to "
            f"{q.deck!r}; Anki keeps existing cards in {move.old_deck!r} (move them in the browser)"
        )
    if report.departed:
        click.echo(
            f"{len(report.departed)} question{'s' if len(report.departed) != 1 else ''} left the notes; "
            "Anki never deletes on import, so delete their notes in Anki if you no longer want them:"
        )
        for gone in report.departed[:_MAX_LISTED]:
            click.echo(f"  {gone.path}: {gone.title}")
        if len(report.departed) > _MAX_LISTED:
            click.echo(f"  ... and {len(report.departed) - _MAX_LISTED} more")
        click.echo("  Anki search: " + " OR ".join(f'"ID:{g.guid}"' for g in report.departed))
    for name in report.stale_packages:
        click.echo(f"removed {name}: its deck has no questions left")
    for package in report.packages:
        where = decks_dir / package.filename if decks_dir is not None else Path(package.filename)
        click.echo(
            f"{where}: {package.notes} note{'s' if package.notes != 1 else ''} "
            f"({package.new} new, {package.updated} updated, {package.unchanged} unchanged)"
        )
