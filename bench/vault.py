"""Synthetic vaults for the benchmark: notes folders shaped like real interview notes.

A vault of N questions holds N / 100 files of 100 questions each, in top-level
folders of 100 files (so one package per 10,000 questions, as dlcards names one
package per top-level folder). Each file is what dlcards reads in its labelled
shape: YAML front matter with tags, a title heading, then `### N. Question?`
headings, an `**Answer:**` label, an answer of one to three paragraphs with lists,
bold and inline code (a fenced code block in 10% of answers, math in 5%), and in
some answers `**Discussion Points:**` with a bullet list. About 1,300 bytes a
question: 13 MB for 10,000 questions.

Everything comes from one `random.Random(seed)` and the word lists below, so the
same size and seed give the same bytes on every machine and Python version
(Random's `random`, `randrange` and `choice` are stable across versions for a
given seed). Every question text in a vault is unique, so no two questions
collide on one note.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from pathlib import Path

QUESTIONS_PER_FILE = 100
FILES_PER_DECK = 100  # one top-level folder, so one .apkg, per this many files

CODE_SHARE = 0.10
MATH_SHARE = 0.05
DISCUSSION_SHARE = 0.40


def _words(text: str) -> tuple[str, ...]:
    return tuple(word.strip() for word in text.split(","))


NOUNS = _words(
    "gradient, optimizer, tensor, batch, layer, embedding, attention, kernel, cache, scheduler, "
    "checkpoint, activation, encoder, decoder, transformer, token, vocabulary, loss, regularizer, "
    "dropout, normalization, residual, convolution, pooling, stride, padding, learning rate, "
    "momentum, weight decay, warmup, pipeline, shard, replica, partition, index, query, transaction, "
    "lock, queue, thread, process, socket, buffer, allocator, heap, stack, pointer, hash table, "
    "tree, graph, matrix, vector, eigenvalue, distribution, prior, posterior, likelihood, estimator, "
    "variance, bias, sample, feature, label, classifier, regressor, ensemble, boosting, bagging, "
    "margin, hyperplane, manifold, latent space, autoencoder, discriminator, generator, reward, "
    "policy, value function, replay buffer, environment, agent, trajectory, compiler, interpreter, "
    "runtime, garbage collector, profiler, benchmark, latency, throughput, bandwidth, cluster, node, "
    "leader, follower, consensus, quorum, snapshot, log, schema, migration, replication, "
    "consistency, isolation level"
)
ADJECTIVES = _words(
    "sparse, dense, stochastic, deterministic, adaptive, distributed, parallel, sequential, causal, "
    "bidirectional, quantized, pruned, frozen, pretrained, fine-tuned, multi-head, low-rank, "
    "high-dimensional, convex, non-convex, unbiased, robust, noisy, stale, eventual, strong, weak, "
    "lazy, eager, incremental, hierarchical, recursive, iterative, asynchronous, synchronous, "
    "lock-free, bounded, unbounded, approximate, exact, greedy, optimal, amortized, linear, "
    "quadratic, logarithmic, probabilistic, Bayesian, variational, contrastive, generative"
)
VERBS = _words(
    "reduces, increases, stabilizes, accelerates, limits, bounds, dominates, hides, exposes, "
    "amortizes, smooths, regularizes, approximates, replaces, complements, constrains, normalizes, "
    "shifts, scales, caches, batches, shards, replicates, serializes, invalidates, propagates, "
    "aggregates, samples, estimates, penalizes"
)
GERUNDS = _words(
    "training, serving, scaling, debugging, profiling, sampling, tuning, evaluating, deploying, "
    "sharding, indexing, compressing, distilling, retrying, replicating"
)
FILLER = _words(
    "the, a, each, every, this, that, its, their, in, on, for, with, without, under, over, between, "
    "across, because, so, while, when, which, only, also, often, usually, rarely, much, more, less, "
    "than, and, or, but, not"
)
IDENTIFIERS = _words(
    "step, grad, params, batch_size, lr, loss_fn, model, optimizer, logits, mask, seq_len, hidden, "
    "weights, cache, key, value, index, shard_id, offset, buffer, queue, retries, timeout, epoch, "
    "scale, eps, beta, alpha, state, config"
)
TAGS = _words(
    "deep-learning, interview, systems, databases, statistics, optimization, nlp, vision, "
    "reinforcement-learning, distributed, algorithms, probability, compilers"
)
SYMBOLS = ("x", "y", "z", "w", "\\theta", "\\lambda", "\\mu", "\\sigma", "\\alpha", "\\beta", "\\eta")

QUESTION_TEMPLATES = (
    "How does {adj} {noun} affect {noun2} when {gerund} {adj2} {noun3}?",
    "Why is {adj} {noun} preferred over {noun2} for {gerund} {noun3}?",
    "What is the difference between {adj} {noun} and {adj2} {noun2} in {noun3} {gerund}?",
    "When should you use {noun} instead of {adj} {noun2} while {gerund} {noun3}?",
    "What trade-offs does {adj} {noun} introduce for {noun2} and {adj2} {noun3}?",
    "How would you detect a {adj} {noun} problem in {noun2} {gerund}?",
    "Can you explain how {noun} {verb} the {adj} {noun2} during {gerund}?",
    "What goes wrong if the {noun} {verb} {adj} {noun2} in a {noun3}?",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Vault:
    """A generated notes folder and what it holds."""

    notes_dir: Path
    files: tuple[Path, ...]
    questions: int
    bytes: int


def generate_vault(notes_dir: Path, questions: int, *, seed: int) -> Vault:
    """Write a vault of `questions` questions into notes_dir (replacing it), deterministically."""
    if questions <= 0 or questions % QUESTIONS_PER_FILE:
        raise ValueError(f"vault size must be a positive multiple of {QUESTIONS_PER_FILE}: {questions}")
    if notes_dir.exists():
        shutil.rmtree(notes_dir)
    rng = random.Random(f"dlcards-bench/{seed}/{questions}")
    writer = _Writer(rng)
    files: list[Path] = []
    total = 0
    n_files = questions // QUESTIONS_PER_FILE
    for index in range(n_files):
        folder = notes_dir / _deck_folder(index // FILES_PER_DECK)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{index % FILES_PER_DECK + 1:03d}-{_slug(rng.choice(NOUNS))}.md"
        data = writer.file_text().encode("utf-8")
        path.write_bytes(data)
        files.append(path)
        total += len(data)
    return Vault(notes_dir=notes_dir, files=tuple(files), questions=questions, bytes=total)


def append_to_answer(path: Path, sentence: str, *, question: int = QUESTIONS_PER_FILE // 2) -> None:
    """Append a sentence to the first paragraph of one answer in the file: one note changes."""
    text = path.read_text(encoding="utf-8")
    label = "**Answer:**"
    at = -1
    for _ in range(question):
        found = text.find(label, at + 1)
        if found < 0:
            break
        at = found
    if at < 0:
        raise ValueError(f"{path}: no {label} to change")
    start = at + len(label)
    if text.startswith("\n\n", start):  # the label on its own line: the answer is the next paragraph
        start += 2
    end = text.index("\n\n", start)
    path.write_text(f"{text[:end]} {sentence}{text[end:]}", encoding="utf-8")


def _deck_folder(n: int) -> str:
    return f"topic-{n + 1:02d}"


def _slug(words: str) -> str:
    return words.replace(" ", "-")


class _Writer:
    """Writes files from one random stream; remembers every question so none repeats."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.seen: set[str] = set()

    def file_text(self) -> str:
        rng = self.rng
        title = f"{rng.choice(ADJECTIVES).capitalize()} {rng.choice(NOUNS)}"
        tags = ", ".join(sorted(set(rng.sample(TAGS, rng.randrange(1, 4)))))
        parts = [
            f"---\ntitle: {title}\ntags: [{tags}]\nLast reviewed: 2026-{rng.randrange(1, 13):02d}-"
            f"{rng.randrange(1, 29):02d}\n---\n\n# {title}\n\n{self.paragraph(2, 3)}\n"
        ]
        for number in range(1, QUESTIONS_PER_FILE + 1):
            parts.append(self.question(number))
        if rng.random() < 0.5:
            parts.append(f"{self.paragraph(1, 2)}\n")  # a closing remark about the whole file
        return "\n".join(parts)

    def question(self, number: int) -> str:
        rng = self.rng
        text = self.question_text()
        if rng.random() < 0.2:
            lines = [f"### {number}. {text}\n", f"**Answer:** {self.paragraph(2, 4)}\n"]
        else:
            lines = [f"### {number}. {text}\n", "**Answer:**\n", f"{self.paragraph(2, 4)}\n"]
        paragraphs = rng.randrange(1, 4)
        lines.append(self.bullet_list(rng.randrange(3, 6)))
        if paragraphs >= 2:
            lines.append(f"{self.paragraph(2, 4)}\n")
        if rng.random() < CODE_SHARE:
            lines.append(self.code_block())
        if rng.random() < MATH_SHARE:
            lines.append(self.math())
        if paragraphs >= 3:
            if rng.random() < 0.5:
                lines.append(f"**{rng.choice(('Key points', 'In practice', 'Trade-off', 'Pitfalls'))}:**\n")
            lines.append(f"{self.paragraph(2, 3)}\n")
        if rng.random() < DISCUSSION_SHARE:
            lines.append("**Discussion Points:**\n")
            lines.append(self.bullet_list(rng.randrange(2, 5)))
        return "\n".join(lines)

    def question_text(self) -> str:
        rng = self.rng
        while True:
            text = rng.choice(QUESTION_TEMPLATES).format(
                adj=rng.choice(ADJECTIVES),
                adj2=rng.choice(ADJECTIVES),
                noun=rng.choice(NOUNS),
                noun2=rng.choice(NOUNS),
                noun3=rng.choice(NOUNS),
                verb=rng.choice(VERBS),
                gerund=rng.choice(GERUNDS),
            )
            text = text[0].upper() + text[1:]
            if text not in self.seen:
                self.seen.add(text)
                return text

    def sentence(self) -> str:
        rng = self.rng
        words: list[str] = []
        for _ in range(rng.randrange(9, 19)):
            pick = rng.random()
            if pick < 0.35:
                words.append(rng.choice(FILLER))
            elif pick < 0.7:
                words.append(rng.choice(NOUNS))
            elif pick < 0.85:
                words.append(rng.choice(ADJECTIVES))
            else:
                words.append(rng.choice(VERBS))
        decoration = rng.random()
        spot = rng.randrange(1, len(words))
        if decoration < 0.15:
            words[spot] = f"**{words[spot]}**"
        elif decoration < 0.3:
            words[spot] = f"`{rng.choice(IDENTIFIERS)}()`"
        elif decoration < 0.36:
            words[spot] = f"`{rng.choice(IDENTIFIERS)}={rng.randrange(1, 512)}`"
        if rng.random() < 0.3:
            words[rng.randrange(1, len(words) - 1)] += ","
        text = " ".join(words)
        return f"{text[0].upper()}{text[1:]}."

    def paragraph(self, low: int, high: int) -> str:
        return " ".join(self.sentence() for _ in range(self.rng.randrange(low, high + 1)))

    def bullet_list(self, items: int) -> str:
        marker = "1." if self.rng.random() < 0.25 else "-"
        return "".join(f"{marker} {self.sentence()}\n" for _ in range(items))

    def code_block(self) -> str:
        rng = self.rng
        a, b, c = rng.sample(IDENTIFIERS, 3)
        if rng.random() < 0.7:
            body = (
                f"def {rng.choice(VERBS)}_{a}({b}, {c}=None):\n"
                f"    total = 0.0\n"
                f"    for item in {b}:\n"
                f"        if item.{c} is None:\n"
                f"            continue\n"
                f"        total += item.{a} * {rng.randrange(2, 100)} / len({b})\n"
                f'    return {{"{a}": total, "{c}": {c}}}\n'
            )
            return f"```python\n{body}```\n"
        body = (
            f"SELECT {a}, COUNT(*) AS n\nFROM {b}\nWHERE {c} > {rng.randrange(1, 1000)}\n"
            f"GROUP BY {a}\nORDER BY n DESC\nLIMIT {rng.randrange(5, 50)};\n"
        )
        return f"```sql\n{body}```\n"

    def math(self) -> str:
        rng = self.rng
        s1, s2, s3 = rng.sample(SYMBOLS, 3)
        if rng.random() < 0.5:
            return (
                f"With ${s1}_t = {s2} \\, {s1}_{{t-1}} + (1 - {s2}) \\, {s3}_t$ the estimate stays smooth.\n"
            )
        return (
            f"$$\n{s1}_{{t+1}} = {s1}_t - {s2} \\, \\frac{{1}}{{N}} \\sum_{{i=1}}^{{N}} "
            f"\\nabla_{{{s1}}} \\ell({s3}_i; {s1}_t)\n$$\n"
        )
