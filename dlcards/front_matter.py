"""Front matter: the `---` YAML block at the top of a notes file, loaded safely.

Part of the reading stage. Notes files come from anywhere (a shared vault, a
download), so their YAML is treated as hostile: only plain data is ever built
(`!!python/object` and friends are errors, never run), nesting is bounded, and
aliases may not expand into huge or endless values (the "billion laughs"), since
a later stage walking such a value would never finish. Every failure is a
:class:`Problem` on the line it is about; nothing PyYAML raises gets out.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, SequenceNode
from yaml.reader import ReaderError
from yaml.scanner import ScannerError

from .errors import Problem, Severity

MAX_FRONT_MATTER = 64 * 1024  # characters; real front matter is a few lines, PyYAML reads ~40 KB/s
MAX_DEPTH = 64  # nesting levels, counted through aliases too
MAX_ALIAS_VALUES = 10_000  # values aliases may add on top of those written out
_MAX_NUMBER = 256  # characters of one integer (Python refuses to print huge ones)

_FM_OPEN = re.compile(r"---[ \t]*\n")
_FM_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)
FIRST_LINE = 2  # front matter text starts on the file's second line


class _Loader(yaml.SafeLoader):
    """Safe YAML with bounded nesting; dates stay the text the user wrote."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self.node_count = 0

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        # The scanner keeps a pending key per open `[` or `{` (up to 1024 on a line) and
        # visits them all on every token: unbounded, `[[[[...` costs a million steps
        # before the nesting error below is reached.
        if self.flow_level >= MAX_DEPTH:
            mark = self.get_mark()
            raise ScannerError(None, None, f"values are nested more than {MAX_DEPTH} levels deep", mark)
        super().fetch_flow_collection_start(TokenClass)

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        # PyYAML composes recursively: without a bound, `[[[[...` ends in RecursionError.
        if self._depth >= MAX_DEPTH:
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise ComposerError(None, None, f"values are nested more than {MAX_DEPTH} levels deep", mark)
        if not self.check_event(yaml.AliasEvent):
            self.node_count += 1
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except Exception as exc:  # e.g. `!!timestamp nonsense`, `!!int x`: ValueError, AttributeError
            raise ConstructorError(None, None, f"cannot read this value ({exc})", node.start_mark) from None


def _construct_int(loader: yaml.SafeLoader, node: Node) -> Any:
    if len(str(node.value)) > _MAX_NUMBER:
        raise ConstructorError(None, None, f"a number longer than {_MAX_NUMBER} digits", node.start_mark)
    return yaml.SafeLoader.construct_yaml_int(loader, node)  # type: ignore[arg-type]


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def split_front_matter(text: str, display_path: str) -> tuple[str | None, str, int, Problem | None]:
    """Split a leading `---` YAML block from the body, keeping line numbers exact."""
    if not _FM_OPEN.match(text):
        return None, text, 1, None
    start = text.index("\n") + 1
    close = _FM_CLOSE.search(text, start)
    if close is None:
        return (
            None,
            "",
            1,
            _error(
                display_path, 1, "front matter opened with '---' is never closed (add a '---' line after it)"
            ),
        )
    fm_text = text[start : close.start()]
    body_start = text.find("\n", close.end())
    body_start = len(text) if body_start < 0 else body_start + 1
    body_line = text.count("\n", 0, body_start) + 1
    return fm_text, text[body_start:], body_line, None


def load_front_matter(fm_text: str, display_path: str) -> dict[str, Any] | Problem:
    """Load front matter as plain data (safe YAML); any keys, dates kept as text."""
    if len(fm_text) > MAX_FRONT_MATTER:
        return _error(
            display_path,
            FIRST_LINE,
            f"front matter is longer than {MAX_FRONT_MATTER // 1024} KB; keep long text in the notes body",
        )
    try:
        loaded = _load(fm_text)
    except ReaderError as exc:  # a character YAML does not allow, e.g. a control character
        line = FIRST_LINE + fm_text.count("\n", 0, exc.position)
        reason = f"{exc.reason} (U+{exc.character:04X})" if isinstance(exc.character, int) else exc.reason
        return _error(display_path, line, f"invalid YAML in front matter: {reason}")
    except yaml.YAMLError as exc:
        # Not mark.line: YAML also breaks lines at U+2028, U+2029 and NEL, the file does not.
        mark = getattr(exc, "problem_mark", None)
        line = FIRST_LINE + (fm_text.count("\n", 0, mark.index) if mark is not None else 0)
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return _error(display_path, line, f"invalid YAML in front matter: {reason}")
    except Exception as exc:  # PyYAML fed hostile text: a problem in the notes, never a crash
        return _error(display_path, FIRST_LINE, f"invalid YAML in front matter ({type(exc).__name__})")
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        return _error(display_path, FIRST_LINE, "front matter must be a mapping of keys to values")
    return {str(k): v for k, v in loaded.items()}


def _load(fm_text: str) -> Any:
    loader = _Loader(fm_text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        check_aliases(node, loader.node_count)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def check_aliases(root: Node, written: int) -> None:
    """Refuse a node graph whose aliases make it endless, too deep or far larger than written.

    PyYAML shares an aliased value instead of copying it, so loading a billion-laughs
    document is cheap; walking the result (printing it, comparing it) is not. Sizes
    and depths are counted once per node, children first, without recursion.
    """
    limit = written + MAX_ALIAS_VALUES
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    entered: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            entered.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in children)
            depth[key] = 1 + max((depth[id(c)] for c in children), default=0)
            if size[key] > limit:
                raise ConstructorError(
                    None,
                    None,
                    f"aliases here expand to more than {MAX_ALIAS_VALUES} values (a YAML bomb?)",
                    node.start_mark,
                )
            if depth[key] > MAX_DEPTH:
                raise ConstructorError(
                    None, None, f"aliases nest values more than {MAX_DEPTH} levels deep", node.start_mark
                )
            continue
        if key in size:
            continue
        if key in entered:
            raise ConstructorError(
                None, None, "an alias refers to the value that contains it", node.start_mark
            )
        entered.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in size)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _error(path: str, line: int, message: str) -> Problem:
    return Problem(severity=Severity.ERROR, path=path, line=line, message=message)
