"""Helpers for the rich-notes tests (test_rich_anki.py and test_card_screens.py).

- The fixture vault: `tests/fixtures/rich/` holds the notes; their pictures and sounds
  are made here with the standard library (tiny PNG, WAV and MP3 files), so no binary
  file is committed and a test can edit a picture by writing new bytes.
- Building with the real command line, importing with Anki's own importer.
- Anki's own web files: the MathJax 3 set-up its reviewer runs and the reviewer's
  stylesheets, taken from the `aqt` wheel of the same version as the installed `anki`
  (`python tests/screens.py install-anki-web DIR`, which `make test` runs). Only these
  files are kept; aqt itself is never installed.
- A headless Chromium driven over the DevTools pipe (one browser for every shot), which
  shows a card the way the reviewer does: the card's HTML in `#qa`, the body classes
  `card card1` (plus `nightMode night_mode` at night), the collection's media folder as
  the base URL, then MathJax typesets it.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import importlib.metadata
import io
import json
import math
import os
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import wave
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anki.collection import Collection, ImportAnkiPackageRequest
from anki_import import DESKTOP_DEFAULTS
from click.testing import CliRunner, Result
from test_preview import CHROMIUM_FLAGS, Png, decode_png

from dlcards.cli import main

CHROMIUM = Path("/usr/bin/chromium")
FIXTURE = Path(__file__).parent / "fixtures" / "rich"
ANKI_WEB = Path(os.environ.get("DLCARDS_ANKI_WEB", Path(sys.prefix) / "anki-web"))

Rgb = tuple[int, int, int]

# ---------------------------------------------------------------- the vault's media

# Colours that no stylesheet of the note type uses, so a screenshot pixel in one of
# them can only come from its picture.
ORANGE: Rgb = (240, 122, 16)
TEAL: Rgb = (16, 178, 150)
PURPLE: Rgb = (122, 46, 214)
YELLOW: Rgb = (212, 225, 31)
BLUE: Rgb = (31, 95, 232)  # the orange diagram after the user repaints it


@dataclass(frozen=True)
class Picture:
    width: int
    height: int
    colour: Rgb


# Paths under the notes root. The two diagram.png differ; the logo is found through
# the notes root (the note embeds it by bare name from a subfolder).
PICTURES = {
    "study/img/diagram.png": Picture(width=60, height=40, colour=ORANGE),
    "study/shapes/diagram.png": Picture(width=150, height=100, colour=TEAL),
    "logo.png": Picture(width=48, height=48, colour=PURPLE),
    "study/img/photos/dot.png": Picture(width=12, height=12, colour=YELLOW),
}


def png(width: int, height: int, colour: Rgb) -> bytes:
    """A valid 8-bit RGB PNG of one colour."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = (b"\0" + bytes(colour) * width) * height
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def wav(seconds: float = 0.2, hertz: float = 880.0, rate: int = 8000) -> bytes:
    """A valid mono 8-bit WAV: a short fading sine."""
    frames = int(seconds * rate)
    samples = bytes(
        128 + round(100 * (1 - i / frames) * math.sin(2 * math.pi * hertz * i / rate)) for i in range(frames)
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(rate)
        w.writeframes(samples)
    return out.getvalue()


def mp3(frames: int = 8) -> bytes:
    """Valid silent MPEG-1 Layer III: 128 kbit/s, 44.1 kHz, mono frames of 417 bytes
    whose side information is all zero (no audio data: silence)."""
    return (bytes([0xFF, 0xFB, 0x90, 0xC4]) + bytes(413)) * frames


def media_files() -> dict[str, bytes]:
    """Every picture and sound of the vault, by path under the notes root."""
    files = {rel: png(p.width, p.height, p.colour) for rel, p in PICTURES.items()}
    files["study/chime.wav"] = wav()
    files["study/silence.mp3"] = mp3()
    return files


def make_vault(notes: Path, only: tuple[str, ...] = ()) -> dict[str, bytes]:
    """The fixture vault in `notes` (every notes file, or `only` these), with its media."""
    for md in sorted(FIXTURE.rglob("*.md")):
        rel = md.relative_to(FIXTURE).as_posix()
        if only and rel not in only:
            continue
        target = notes / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(md, target)
    files = media_files()
    for rel, data in files.items():
        target = notes / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return files


# ---------------------------------------------------------------- build and import


def run_cli(root: Path, *args: str) -> Result:
    """`dlcards ARGS` run in the folder `root`, as a user types it."""
    with contextlib.chdir(root):
        return CliRunner().invoke(main, list(args))


def told(result: Result) -> str:
    """What a command printed, and the traceback of an exception that escaped it."""
    if result.exc_info is None or isinstance(result.exception, SystemExit):
        return result.output
    return result.output + "".join(traceback.format_exception(*result.exc_info))


def build_vault(root: Path) -> list[Path]:
    """`dlcards build` in root (notes/ into decks/); the packages it wrote."""
    result = run_cli(root, "build")
    assert result.exit_code == 0, told(result)
    return sorted((root / "decks").glob("*.apkg"))


@dataclass
class ImportLog:
    """What the importer said, by guid, summed over the packages imported."""

    new: set[str]
    updated: set[str]
    duplicate: set[str]
    trouble: int  # conflicting notes, first-field matches, missing note types or decks, empty first fields


def import_packages(col: Collection, packages: list[Path]) -> ImportLog:
    """Import with the options Anki desktop pre-fills for a new profile."""
    log = ImportLog(set(), set(), set(), 0)

    def guid(nid: int) -> str:
        return str(col.db.scalar("select guid from notes where id = ?", nid))

    for package in packages:
        out = col.import_anki_package(
            ImportAnkiPackageRequest(package_path=str(package), options=DESKTOP_DEFAULTS)
        ).log
        log.new |= {guid(n.id.nid) for n in out.new}
        log.updated |= {guid(n.id.nid) for n in out.updated}
        log.duplicate |= {guid(n.id.nid) for n in out.duplicate}
        log.trouble += (
            len(out.conflicting)
            + len(out.first_field_match)
            + len(out.missing_notetype)
            + len(out.missing_deck)
            + len(out.empty_first_field)
        )
    return log


def find_note_id(col: Collection, words: str) -> int | None:
    """The one note whose fields contain `words` (None when no note does)."""
    found = [int(nid) for nid, flds in col.db.all("select id, flds from notes") if words in str(flds)]
    assert len(found) <= 1, f"{len(found)} notes contain {words!r}"
    return found[0] if found else None


# ---------------------------------------------------------------- Anki's web files

_WEB_PREFIX = "_aqt/data/web/"
_WEB_KEEP = ("js/mathjax.js", "js/vendor/mathjax/", "css/reviewer.css", "css/webview.css")


def install_anki_web(dest: Path) -> None:
    """Anki's MathJax and reviewer stylesheets from the aqt wheel matching `anki`."""
    version = importlib.metadata.version("anki")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "-q",
             "--no-deps", "--only-binary=:all:", "-d", tmp, f"aqt=={version}"],
            check=True,
        )  # fmt: skip
        (wheel,) = Path(tmp).glob("aqt-*.whl")
        staging = Path(tmp) / "web"
        with zipfile.ZipFile(wheel) as zf:
            for name in zf.namelist():
                rel = name.removeprefix(_WEB_PREFIX)
                if name.startswith(_WEB_PREFIX) and rel.startswith(_WEB_KEEP) and not name.endswith("/"):
                    target = staging / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(zf.read(name))
        (staging / "VERSION").write_text(version + "\n", encoding="utf-8")
        shutil.rmtree(dest, ignore_errors=True)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(staging, dest)


def anki_web_problem() -> str | None:
    """Why the card screens cannot run here (None when they can)."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found: `make test` installs Debian's chromium package"
    if not (ANKI_WEB / "js/vendor/mathjax/tex-chtml-full.js").exists():
        return (
            f"Anki's MathJax is not in {ANKI_WEB}: `make test` puts it there "
            f"(or run `python tests/screens.py install-anki-web {ANKI_WEB}`)"
        )
    return None


# ---------------------------------------------------------------- the browser


class BrowserError(Exception):
    pass


class Browser:
    """Headless Chromium over `--remote-debugging-pipe`: commands go in on its fd 3,
    answers and events come out on its fd 4, each a JSON text ended by a NUL."""

    def __init__(self, profile: Path, width: int = 900, height: int = 1200) -> None:
        profile.mkdir(parents=True, exist_ok=True)
        to_chromium, self._writer = os.pipe()
        self._reader, from_chromium = os.pipe()
        # Above 9 so that moving them to 3 and 4 can never overwrite one of them.
        child_in = fcntl.fcntl(to_chromium, fcntl.F_DUPFD, 10)
        child_out = fcntl.fcntl(from_chromium, fcntl.F_DUPFD, 10)
        os.close(to_chromium)
        os.close(from_chromium)
        flags = [
            *CHROMIUM_FLAGS,
            "--hide-scrollbars",
            "--force-color-profile=srgb",
            "--allow-file-access-from-files",  # MathJax's fonts are files next to its script
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            "about:blank",
        ]
        self.log = profile.parent / f"{profile.name}-chromium.log"
        with self.log.open("wb") as log:
            self._proc = subprocess.Popen(
                ["bash", "-c", f'exec "$0" "$@" 3<&{child_in} 4>&{child_out} {child_in}<&- {child_out}>&-',
                 str(CHROMIUM), *flags],
                pass_fds=(child_in, child_out),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )  # fmt: skip
        os.close(child_in)
        os.close(child_out)
        self._buffer = b""
        self._last_id = 0
        self._session = ""
        try:
            target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self._session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
                "sessionId"
            ]
            self.page("Emulation.setDeviceMetricsOverride", {
                "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False,
            })  # fmt: skip
        except BaseException:
            self.close()
            raise

    def call(self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None,
             timeout: float = 60) -> dict[str, Any]:  # fmt: skip
        self._last_id += 1
        message: dict[str, Any] = {"id": self._last_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._writer, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self._reader], [], [], left)[0]:
                    raise BrowserError(f"Chromium gave no answer to {method} within {timeout} s")
                chunk = os.read(self._reader, 1 << 20)
                if not chunk:
                    tail = self.log.read_text(errors="replace")[-2000:]
                    raise BrowserError(f"Chromium ended during {method}:\n{tail}")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            answer = json.loads(raw)
            if answer.get("id") != self._last_id:
                continue  # an event: nothing here waits for one
            if "error" in answer:
                raise BrowserError(f"{method}: {answer['error']}")
            result: dict[str, Any] = answer["result"]
            return result

    def page(self, method: str, params: dict[str, Any] | None = None, timeout: float = 60) -> dict[str, Any]:
        return self.call(method, params, session=self._session, timeout=timeout)

    def evaluate(self, expression: str, timeout: float = 60) -> Any:
        """The value of a JavaScript expression (awaited when it is a promise)."""
        out = self.page(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            timeout=timeout,
        )
        if "exceptionDetails" in out:
            details = out["exceptionDetails"]
            raise BrowserError(details.get("exception", {}).get("description") or details.get("text"))
        return out["result"].get("value")

    def screenshot(self, width: int, height: int) -> bytes:
        shot = self.page("Page.captureScreenshot", {
            "format": "png", "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        })  # fmt: skip
        return base64.b64decode(shot["data"])

    def close(self) -> None:
        with contextlib.suppress(BrowserError, OSError):
            self.call("Browser.close", timeout=10)
        for fd in (self._writer, self._reader):
            with contextlib.suppress(OSError):
                os.close(fd)
        try:
            self._proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


# What the page knows after a card is shown: the facts the tests check against pixels.
_PAGE_SCRIPT = r"""
const box = e => { const r = e.getBoundingClientRect();
  return {x: r.x, y: r.y, width: r.width, height: r.height}; };
const css = e => getComputedStyle(e);
// The background colours from an element out to the page: what shows behind its text.
const layers = e => {
  const out = [];
  for (let n = e; n; n = n.parentElement) out.push(css(n).backgroundColor);
  return out;
};
function facts(qa) {
  const sides = ['Top', 'Right', 'Bottom', 'Left'];
  return {
    text: qa.innerText,
    height: Math.ceil(document.documentElement.getBoundingClientRect().height),
    body: {color: css(document.body).color, background: css(document.body).backgroundColor,
           layers: layers(document.body)},
    math: [...qa.querySelectorAll('mjx-container')].map(e => ({
      box: box(e), display: e.getAttribute('display') === 'true',
      error: e.querySelector('mjx-merror') !== null, inCloze: e.closest('.cloze') !== null})),
    images: [...qa.querySelectorAll('img')].map(e => ({
      src: e.getAttribute('src'), loaded: e.complete && e.naturalWidth > 0,
      natural: [e.naturalWidth, e.naturalHeight], box: box(e)})),
    code: [...qa.querySelectorAll('.dlc-code')].map(e => ({
      box: box(e), background: css(e).backgroundColor, layers: layers(e),
      color: css(e.querySelector('pre') || e).color,
      colours: [...new Set([...e.querySelectorAll('span')].map(s => css(s).color))]})),
    callouts: [...qa.querySelectorAll('.dlc-callout')].map(e => ({
      tag: e.tagName.toLowerCase(), classes: e.className, open: e.tagName === 'DETAILS' ? e.open : null,
      box: box(e), background: css(e).backgroundColor, layers: layers(e), color: css(e).color,
      text: e.innerText,
      borders: sides.map(s => ({width: parseFloat(css(e)['border' + s + 'Width']),
                                colour: css(e)['border' + s + 'Color']}))})),
    marks: [...qa.querySelectorAll('mark')].map(e => ({
      text: e.innerText, color: css(e).color, layers: layers(e), box: box(e)})),
    cloze: [...qa.querySelectorAll('.cloze')].map(e => ({
      text: e.innerText, color: css(e).color, layers: layers(e), box: box(e)})),
  };
}
async function show(html, bodyClass, night) {
  // What Anki's reviewer does: new classes, the card into #qa, then MathJax.
  document.documentElement.className = night ? 'night-mode' : '';
  document.body.className = bodyClass;
  const qa = document.getElementById('qa');
  qa.innerHTML = html;
  await MathJax.startup.promise;
  MathJax.typesetClear();
  await MathJax.typesetPromise([qa]);
  await Promise.all([...qa.querySelectorAll('img')].map(i => i.decode().catch(() => null)));
  await document.fonts.ready;
  window.scrollTo(0, 0);
  return facts(qa);
}
"""


def reviewer_page(media_dir: Path, web: Path = ANKI_WEB) -> str:
    """An empty reviewer page: Anki's stylesheets and MathJax set-up, media as base URL."""
    base = web.resolve().as_uri()
    return f"""<!doctype html>
<html><head><meta charset="utf-8">
<base href="{media_dir.resolve().as_uri()}/">
<link rel="stylesheet" href="{base}/css/webview.css">
<link rel="stylesheet" href="{base}/css/reviewer.css">
<script src="{base}/js/mathjax.js"></script>
<script>MathJax.loader.paths.mathjax = "{base}/js/vendor/mathjax";</script>
<script src="{base}/js/vendor/mathjax/tex-chtml-full.js"></script>
<script>{_PAGE_SCRIPT}</script>
</head>
<body class="card card1 isLin"><div id="qa"></div></body></html>
"""


@dataclass(frozen=True)
class Shot:
    """One card side shown in one mode: what the page said and what the screen showed."""

    name: str
    night: bool
    facts: dict[str, Any]
    png: Png
    path: Path


class Reviewer:
    """One browser, one reviewer page; `show` puts a card on it and screenshots it."""

    def __init__(self, browser: Browser, page: Path, shots: Path, width: int = 900) -> None:
        self.browser = browser
        self.shots = shots
        self.width = width
        browser.page("Page.navigate", {"url": page.as_uri()})
        ready = (
            "new Promise(r => document.readyState === 'complete' ? r() : addEventListener('load', () => r()))"
            ".then(() => MathJax.startup.promise).then(() => typeof show)"
        )
        deadline = time.monotonic() + 60
        while True:  # the navigation may not have replaced about:blank yet
            with contextlib.suppress(BrowserError):
                if self.browser.evaluate(ready) == "function":
                    break
            if time.monotonic() > deadline:
                raise BrowserError("the reviewer page never got ready (MathJax did not start)")
            time.sleep(0.05)

    def show(self, name: str, html: str, *, night: bool, card_ord: int = 0) -> Shot:
        body_class = f"card card{card_ord + 1} isLin" + (" nightMode night_mode" if night else "")
        facts = self.browser.evaluate(
            f"show({json.dumps(html)}, {json.dumps(body_class)}, {json.dumps(night)})"
        )
        height = max(100, min(int(facts["height"]), 1200))
        data = self.browser.screenshot(self.width, height)
        path = self.shots / f"{name}-{'night' if night else 'light'}.png"
        path.write_bytes(data)
        print(f"screenshot: {path}")
        return Shot(name=name, night=night, facts=facts, png=decode_png(data), path=path)


# ---------------------------------------------------------------- pixels and colours


def parse_css_colour(value: str) -> tuple[int, int, int, float]:
    """`rgb(1, 2, 3)` or `rgba(1, 2, 3, 0.5)` as computed styles give them."""
    inside = value[value.index("(") + 1 : value.rindex(")")].replace("/", " ").replace(",", " ").split()
    r, g, b = (round(float(v)) for v in inside[:3])
    alpha = float(inside[3]) if len(inside) > 3 else 1.0
    return r, g, b, alpha


def over(colour: tuple[int, int, int, float], background: Rgb) -> Rgb:
    """A translucent colour painted over a background."""
    r, g, b, a = colour
    return tuple(round(a * c + (1 - a) * bg) for c, bg in zip((r, g, b), background, strict=True))  # type: ignore[return-value]


def painted(layers: list[str]) -> Rgb:
    """The colour behind an element: its background and its ancestors', innermost
    first, painted one over the other on the browser's white canvas."""
    colour: Rgb = (255, 255, 255)
    for layer in reversed(layers):
        colour = over(parse_css_colour(layer), colour)
    return colour


def luminance(colour: Rgb) -> float:
    """WCAG relative luminance, 0 (black) to 1 (white)."""

    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: Rgb, b: Rgb) -> float:
    """WCAG contrast ratio: 1 (none) to 21 (black on white); 4.5 is readable body text."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def region(png: Png, box: dict[str, float]) -> Counter[Rgb]:
    """How many pixels of each colour lie inside a box (CSS pixels = screenshot pixels)."""
    x0, y0 = max(0, int(box["x"])), max(0, int(box["y"]))
    x1 = min(png.width, math.ceil(box["x"] + box["width"]))
    y1 = min(png.height, math.ceil(box["y"] + box["height"]))
    colours: Counter[Rgb] = Counter()
    for row in png.rows[y0:y1]:
        part = row[3 * x0 : 3 * x1]
        colours.update(zip(part[0::3], part[1::3], part[2::3], strict=True))
    return colours


def near(a: Rgb, b: Rgb, tolerance: int) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def count_near(colours: Counter[Rgb], colour: Rgb, tolerance: int = 24) -> int:
    return sum(n for c, n in colours.items() if near(c, colour, tolerance))


def bounding_box(png: Png, colour: Rgb) -> tuple[int, int, int, int] | None:
    """(x, y, width, height) of the pixels of exactly this colour, or None when there is none."""
    pattern = bytes(colour)
    left, right, top, bottom = png.width, -1, -1, -1
    for y, row in enumerate(png.rows):
        at = row.find(pattern)
        while at != -1 and at % 3:
            at = row.find(pattern, at + 1)
        if at == -1:
            continue
        end = row.rfind(pattern)
        while end % 3:
            end = row.rfind(pattern, 0, end + 2)
        left, right = min(left, at // 3), max(right, end // 3)
        top = y if top < 0 else top
        bottom = y
    if right < 0:
        return None
    return left, top, right - left + 1, bottom - top + 1


def _main() -> None:
    parser = argparse.ArgumentParser(description="Test set-up for the card screenshots.")
    sub = parser.add_subparsers(dest="command", required=True)
    web = sub.add_parser("install-anki-web", help="put Anki's MathJax and reviewer CSS (from aqt) in DIR")
    web.add_argument("dir", type=Path)
    args = parser.parse_args()
    install_anki_web(args.dir)
    print(f"{args.dir}: Anki {importlib.metadata.version('anki')} web files")


if __name__ == "__main__":
    _main()
