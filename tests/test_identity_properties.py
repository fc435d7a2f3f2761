"""Property tests for identity: random edit histories never lose, swap or share a note."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from conftest import FakeClock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlcards.build import BuildOptions, build

WORDS = (
    "gradient",
    "momentum",
    "dropout",
    "attention",
    "residual",
    "encoder",
    "decoder",
    "softmax",
    "entropy",
    "kernel",
    "pooling",
    "stride",
    "embedding",
    "token",
    "batch",
    "epoch",
    "schedule",
    "warmup",
    "clipping",
    "precision",
    "tensor",
    "layer",
    "neuron",
    "sigmoid",
    "convolution",
    "recurrent",
    "transformer",
    "optimizer",
    "variance",
    "bias",
)

titles = st.lists(
    st.lists(st.sampled_from(WORDS), min_size=5, max_size=5, unique=True).map(
        lambda ws: "Why does the " + " ".join(ws) + " matter?"
    ),
    min_size=2,
    max_size=6,
    unique_by=lambda t: frozenset(t.split()),
)

# One step edits some questions: (kind, which question, a number for the edit).
step = st.lists(
    st.tuples(st.sampled_from(["answer", "typo", "move", "swap", "renumber", "crlf"]), st.integers(0, 99)),
    min_size=1,
    max_size=3,
)


def render_files(questions: list[dict[str, object]], crlf: bool) -> dict[str, str]:
    files: dict[str, list[str]] = {}
    for number, q in enumerate(questions):
        files.setdefault(str(q["file"]), []).append(
            f"### {number * 3 + 1}. {q['title']}\n\n**Answer:** {q['answer']}\n\n"
        )
    newline = "\r\n" if crlf else "\n"
    return {name: "".join(parts).replace("\n", newline) for name, parts in files.items()}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(titles=titles, steps=st.lists(step, min_size=1, max_size=4))
def test_random_edit_histories_keep_identity(titles: list[str], steps: list[list[tuple[str, int]]]) -> None:
    """Whatever the edits (answers, typos, moves, reorders, renumbering, line endings), each
    question keeps its guid, no two notes share one, and mods change exactly with content
    and never go backwards or past the clock."""
    questions: list[dict[str, object]] = [
        {"key": i, "title": t, "answer": f"answer {i}", "file": f"f{i % 2}.md"} for i, t in enumerate(titles)
    ]
    clock = FakeClock()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        notes, decks = root / "notes", root / "decks"
        options = BuildOptions(notes_dir=notes, decks_dir=decks)
        crlf = False

        def rebuild() -> dict[str, dict[str, object]]:
            if notes.exists():
                for old in notes.iterdir():
                    old.unlink()
            notes.mkdir(exist_ok=True)
            for name, text in render_files(questions, crlf).items():
                (notes / name).write_bytes(text.encode())
            build(options, clock=clock, wait=clock.wait)
            data = json.loads((decks / "dlcards.lock").read_text(encoding="utf-8"))
            live = [n for n in data["notes"] if not n.get("removed")]
            assert len({n["guid"] for n in data["notes"]}) == len(data["notes"])
            by_title = {n["question"]: n for n in live}
            return {str(q["key"]): by_title[str(q["title"])] for q in questions}

        first = rebuild()
        previous = first
        for edits in steps:
            clock.advance(10)
            changed: set[str] = set()
            for kind, n in edits:
                q = questions[n % len(questions)]
                if kind == "answer":
                    q["answer"] = f"{q['answer']} more"
                    changed.add(str(q["key"]))
                elif kind == "typo":
                    title = str(q["title"])
                    pos = 13 + n % 20
                    q["title"] = title[:pos] + "x" + title[pos + 1 :]
                    if q["title"] != title:
                        changed.add(str(q["key"]))
                elif kind == "move":
                    q["file"] = "f0.md" if q["file"] != "f0.md" else "f2.md"
                    changed.add(str(q["key"]))  # the Source field names the file
                elif kind == "swap":
                    i, j = n % len(questions), (n + 1) % len(questions)
                    questions[i], questions[j] = questions[j], questions[i]
                elif kind == "renumber":
                    questions.append(questions.pop(n % len(questions)))
                else:
                    crlf = not crlf
            current = rebuild()
            for key, note in current.items():
                assert note["guid"] == first[key]["guid"]
                before, after = previous[key]["mod"], note["mod"]
                assert isinstance(before, int) and isinstance(after, int)
                assert after <= clock.now
                if key in changed and note["hash"] != previous[key]["hash"]:
                    assert after > before
                else:
                    assert after == before
            previous = current
