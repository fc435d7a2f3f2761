"""How the packages' size and packing time follow the deflate level.

Takes the packages a build wrote (a decks folder), and zips each one's collection
again the way dlcards does (zipfile, one entry) with no compression (stored) and at
deflate levels 1, 6 and 9, timing each (the best of --repeat runs, CPU time of this
process, so a busy machine disturbs it little). Prints one Markdown table row per
level, summed over the packages. `bench.py` runs it on each vault's decks; by hand:

    python bench/deflate.py DECKS [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import time
import zipfile
from pathlib import Path

LEVELS: tuple[tuple[str, int, int | None], ...] = (
    ("stored", zipfile.ZIP_STORED, None),
    ("deflate 1", zipfile.ZIP_DEFLATED, 1),
    ("deflate 6", zipfile.ZIP_DEFLATED, 6),
    ("deflate 9", zipfile.ZIP_DEFLATED, 9),
)


def measure(collections: list[bytes], repeat: int) -> list[tuple[str, int, float]]:
    """(label, total zip bytes, total seconds) for each level."""
    rows = []
    for label, method, level in LEVELS:
        size, best = 0, 0.0
        for data in collections:
            times = []
            for _ in range(repeat):
                buffer = io.BytesIO()
                start = time.process_time()
                with zipfile.ZipFile(buffer, "w") as zf:
                    zf.writestr("collection.anki2", data, compress_type=method, compresslevel=level)
                times.append(time.process_time() - start)
            size += len(buffer.getvalue())
            best += min(times)
        rows.append((label, size, best))
    return rows


def table(decks: Path, repeat: int) -> list[str]:
    """Markdown lines: the packages in decks zipped at each level, summed."""
    packages = sorted(decks.glob("*.apkg"))
    collections = []
    for package in packages:
        with zipfile.ZipFile(package) as zf:
            collections.append(zf.read("collection.anki2"))
    raw = sum(len(c) for c in collections)
    lines = [
        f"{len(packages)} package{'s' if len(packages) != 1 else ''}, "
        f"collections {raw / 1e6:.1f} MB uncompressed; CPU time, the best of {repeat}",
        "",
        "| zip | size MB | × smaller | CPU s |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, size, seconds in measure(collections, repeat):
        lines.append(f"| {label} | {size / 1e6:.1f} | {raw / size:.1f} | {seconds:.2f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("decks", type=Path, help="a folder of .apkg files written by dlcards")
    parser.add_argument("--repeat", type=int, default=3, help="runs per level; the fastest counts")
    args = parser.parse_args(argv)
    print("\n".join(table(args.decks, args.repeat)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
