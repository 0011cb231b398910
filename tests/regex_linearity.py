"""A shape checker for regular expressions: the constructs that make Python's backtracking `re`
engine take more than linear time (catastrophic backtracking), found in the parse tree.

`findings(pattern, unanchored)` lists every place of a compiled pattern that breaks one of these
rules (an empty list: none found). A repeat is *long* when it allows more than `LONG_REPEAT`
iterations (`*`, `+`, `{1,200}`): a hostile reply can stretch it over a whole run of characters.

- **overlapping neighbours** (R1 ... R2): after a long repeat R1, the pattern can reach another
  long repeat R2 that shares characters with R1 while matching only characters of R1 on the way
  (`\\s*x?\\s*`, `[ \\t]*[:.]?[ \\t]*`). On a run of shared characters the engine tries every
  split of the run between R1 and R2 before failing: quadratic per attempt (cubic with three).
  Allowed when R2 ends the pattern and needs at most one character (it cannot fail once R1 has
  given it one) and the pattern is never full-matched; and when a character on the way is one R2
  cannot match (`[^\\n]*[^ \\t\\n][ \\t]*`: for each split R2 runs only up to the next such
  character, so the runs it tries do not overlap).
- **restart** (unanchored use only: `search`, `finditer`, `findall`, `sub`, `split`): from the
  pattern's start a long repeat R can be reached over characters of R alone, so a failing attempt
  costs the rest of the run and is repeated at every position of it: quadratic. Allowed when R
  ends the pattern and needs at most one character; when the pattern starts with a negative
  lookbehind that excludes every character of R (an attempt can only start where a run starts);
  and after `\\A` or `^` (`^` under MULTILINE when R excludes line breaks: one attempt a line).
- **ambiguous repeat**: the body of a repeat allowing two or more iterations must be a single
  character class, or alternatives that are finite sets of strings or whole words (`\\b(?:is|are)\\b`),
  with pairwise disjoint first characters and no string a prefix of another (a prefix-free code,
  so every run of iterations splits one way only). `(?:a|a)*`, `(?:\\s+x?){0,24}`, `(?:a+)*` and
  `(?:[:.]|[:!]|is){0,24}` break it: exponential (or polynomial of high degree). (Alternatives of
  one character each are one class to the engine: `(?:[:.]|[:!]){0,24}` passes.)

Lookahead bodies are followed too (a lookahead that scans a run after R1 is an R2); lookbehinds
are of fixed width in Python. Back-references and conditionals are reported as unsupported.

The rules are conservative, not exact: a pattern they pass has none of the constructs that make
the engine super-linear (per `match` call, or per text for the unanchored uses), up to the
constant its bounded parts cost; a caller that tries one pattern at many positions of a text
still owes the argument that those attempts scan disjoint stretches. A pattern they flag may
still be fast in practice: rewrite it into a shape they pass rather than loosen a rule.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
from dataclasses import dataclass, field
from functools import cache
from itertools import pairwise
from types import ModuleType

try:
    from re import _constants as sre  # type: ignore[attr-defined]
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # Python 3.10
    import sre_constants as sre  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

LONG_REPEAT = 31  # a repeat allowing more iterations than this is "long"
_ENUMERATION_LIMIT = 5000  # strings: a finite part with more is treated as not finite

# Every character a set test can tell apart: the Basic Multilingual Plane (no surrogates) and a few
# characters beyond it (a negated class holds those too).
_UNIVERSE = "".join(chr(code) for code in range(0x10000) if not 0xD800 <= code <= 0xDFFF) + "\U0001f600\U00020000\U000e0001"

_CATEGORIES = {
    sre.CATEGORY_SPACE: r"\s",
    sre.CATEGORY_NOT_SPACE: r"\S",
    sre.CATEGORY_DIGIT: r"\d",
    sre.CATEGORY_NOT_DIGIT: r"\D",
    sre.CATEGORY_WORD: r"\w",
    sre.CATEGORY_NOT_WORD: r"\W",
}


@cache
def _members(char_class: str, flags: int) -> frozenset[str]:
    """The characters a one-character pattern (a class written out again) matches, by asking `re`."""
    return frozenset(re.findall(char_class, _UNIVERSE, flags & (re.IGNORECASE | re.DOTALL | re.ASCII)))


@cache
def _case_relatives() -> dict[str, set[str]]:
    """Characters grouped by their lower and upper case: where `re` finds a literal's case variants."""
    relatives: dict[str, set[str]] = {}
    for char in _UNIVERSE:
        for key in ("l" + char.lower(), "u" + char.upper(), "l" + char.lower()[0], "u" + char.upper()[0]):
            relatives.setdefault(key, set()).add(char)
    return relatives


def _literal_members(char: str, flags: int) -> frozenset[str]:
    if not flags & re.IGNORECASE:
        return frozenset(char)
    relatives = _case_relatives()
    candidates = {char}
    for _ in range(2):  # relatives of relatives: i, I, İ and ı are all one class
        candidates |= {
            relative
            for known in candidates
            for key in ("l" + known.lower()[0], "u" + known.upper()[0])
            for relative in relatives.get(key, ())
        }
    pattern = re.compile(re.escape(char), flags & (re.IGNORECASE | re.ASCII))
    return frozenset(candidate for candidate in candidates if pattern.fullmatch(candidate))


def _class_source(op: object, av: object) -> str:
    """A one-character node of the parse tree written back as pattern text."""
    if op is sre.LITERAL:
        return re.escape(chr(av))  # type: ignore[arg-type]
    if op is sre.NOT_LITERAL:
        return "[^" + re.escape(chr(av)) + "]"  # type: ignore[arg-type]
    if op is sre.ANY:
        return "."
    parts = []
    for kind, value in av:  # type: ignore[attr-defined]
        if kind is sre.NEGATE:
            parts.insert(0, "^")
        elif kind is sre.LITERAL:
            parts.append(re.escape(chr(value)))
        elif kind is sre.RANGE:
            parts.append(re.escape(chr(value[0])) + "-" + re.escape(chr(value[1])))
        elif kind is sre.CATEGORY:
            parts.append(_CATEGORIES[value])
        else:
            raise ValueError(f"unsupported class item {kind}")
    return "[" + "".join(parts) + "]"


# --- the parse tree as plain nodes -----------------------------------------------------------


@dataclass(eq=False)
class Node:
    kind: str  # char, seq, alt, rep, assert, at, unsupported
    chars: frozenset[str] = frozenset()  # char: the characters it matches
    items: tuple[Node, ...] = ()  # seq, alt: parts; rep, assert: (body,)
    low: int = 0  # rep: fewest iterations
    high: int = 0  # rep: most iterations (sre.MAXREPEAT: unbounded)
    text: str = ""  # what to call it in a finding
    literal: str = ""  # char: the character as written (lower-cased under IGNORECASE), for listing strings
    lookahead: bool = False  # assert: looks ahead (its body is followed)
    at_boundary: bool = False  # at: \b
    line_start: bool = False  # at: ^ under MULTILINE (a line start)
    text_start: bool = False  # at: ^ or \A (the start of the text)
    negative_lookbehind: bool = False  # assert: (?<!...)
    _cache: dict[str, object] = field(default_factory=dict, repr=False)

    @property
    def long(self) -> bool:
        return self.kind == "rep" and self.high > LONG_REPEAT


def _convert(items: list[tuple[object, object]], flags: int) -> Node:
    return Node("seq", items=tuple(_convert_one(op, av, flags) for op, av in items))


def _convert_one(op: object, av: object, flags: int) -> Node:
    if op in (sre.LITERAL, sre.NOT_LITERAL, sre.ANY, sre.IN):
        source = _class_source(op, av)
        if op is sre.LITERAL:
            literal = chr(av)  # type: ignore[arg-type]
            chars = _literal_members(literal, flags)
            return Node("char", chars=chars, text=source, literal=literal.lower() if flags & re.IGNORECASE else literal)
        return Node("char", chars=_members(source, flags), text=source)
    if op is sre.BRANCH:
        return Node("alt", items=tuple(_convert(list(alt), flags) for alt in av[1]))  # type: ignore[index]
    if op is sre.SUBPATTERN:
        _group, add_flags, del_flags, body = av  # type: ignore[misc]
        return _convert(list(body), (flags | add_flags) & ~del_flags)
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT) or op is getattr(sre, "POSSESSIVE_REPEAT", None):
        low, high, body = av  # type: ignore[misc]
        high_text = "" if high is sre.MAXREPEAT else str(high)
        return Node("rep", items=(_convert(list(body), flags),), low=low, high=high, text=f"{{{low},{high_text}}}")
    if op is getattr(sre, "ATOMIC_GROUP", None):
        return _convert(list(av), flags)  # type: ignore[arg-type]
    if op in (sre.ASSERT, sre.ASSERT_NOT):
        direction, body = av  # type: ignore[misc]
        return Node(
            "assert",
            items=(_convert(list(body), flags),),
            lookahead=direction == 1,
            negative_lookbehind=op is sre.ASSERT_NOT and direction == -1,
        )
    if op is sre.AT:
        beginning = av in (sre.AT_BEGINNING, sre.AT_BEGINNING_STRING)
        multiline = bool(flags & re.MULTILINE) and av is sre.AT_BEGINNING
        return Node("at", at_boundary=av is sre.AT_BOUNDARY, line_start=multiline, text_start=beginning and not multiline)
    return Node("unsupported", text=str(op))


def parse(pattern: re.Pattern[str]) -> Node:
    return _convert(list(sre_parse.parse(pattern.pattern, pattern.flags)), pattern.flags)


# --- properties of nodes ---------------------------------------------------------------------


def _walk(node: Node) -> list[Node]:
    found = [node]
    for item in node.items:
        found += _walk(item)
    return found


def nullable(node: Node) -> bool:
    if node.kind == "char":
        return False
    if node.kind == "seq":
        return all(nullable(item) for item in node.items)
    if node.kind == "alt":
        return any(nullable(item) for item in node.items)
    if node.kind == "rep":
        return node.low == 0 or nullable(node.items[0])
    return True  # assertions, anchors


def all_chars(node: Node) -> frozenset[str]:
    """Every character a match of `node` can hold."""
    if "chars" not in node._cache:
        if node.kind == "char":
            node._cache["chars"] = node.chars
        elif node.kind in ("seq", "alt", "rep"):
            node._cache["chars"] = frozenset().union(*(all_chars(item) for item in node.items))
        else:
            node._cache["chars"] = frozenset()
    return node._cache["chars"]  # type: ignore[return-value]


def first_chars(node: Node) -> frozenset[str]:
    """The characters a non-empty match of `node` can start with."""
    if node.kind == "char":
        return node.chars
    if node.kind == "alt":
        return frozenset().union(*(first_chars(item) for item in node.items))
    if node.kind == "rep":
        return first_chars(node.items[0])
    if node.kind == "seq":
        found: frozenset[str] = frozenset()
        for item in node.items:
            found |= first_chars(item)
            if not nullable(item):
                break
        return found
    return frozenset()


def strings(node: Node) -> list[str] | None:
    """Every string `node` matches (assertions read as empty), with repetitions, or None when the
    set is infinite or larger than `_ENUMERATION_LIMIT`."""
    if node.kind == "char":
        if node.literal:
            return [node.literal]  # its case variants under IGNORECASE are one string here
        return sorted(node.chars) if len(node.chars) <= 64 else None
    if node.kind in ("at", "assert"):
        return [""]
    if node.kind == "seq":
        found = [""]
        for item in node.items:
            part = strings(item)
            if part is None or len(found) * len(part) > _ENUMERATION_LIMIT:
                return None
            found = [left + right for left in found for right in part]
        return found
    if node.kind == "alt":
        found = []
        for item in node.items:
            part = strings(item)
            if part is None or len(found) + len(part) > _ENUMERATION_LIMIT:
                return None
            found += part
        return found
    if node.kind == "rep" and node.high <= 4:
        body = strings(node.items[0])
        if body is None:
            return None
        found, layer = [""] if node.low == 0 else [], [""]
        for count in range(1, node.high + 1):
            layer = [left + right for left in layer for right in body]
            if len(layer) + len(found) > _ENUMERATION_LIMIT:
                return None
            if count >= node.low:
                found += layer
        return found
    return None


# --- the rules -------------------------------------------------------------------------------


def _describe(node: Node) -> str:
    body = node.items[0]
    inner = body.items[0] if body.kind == "seq" and len(body.items) == 1 else body
    what = inner.text if inner.kind == "char" else f"<{inner.kind}>"
    return what + node.text


class _Reach:
    """Long repeats reachable from a point of the pattern over characters of `allowed` alone.

    Every character node a path passes is remembered: a long repeat reached after one whose
    characters it does not share is no hit (R1 [x] R2 with x outside R2: for each split of R1's
    run R2 runs only up to the next such x, so the runs R2 tries do not overlap).
    From the start of the pattern (`restart`), a start anchor ends the path: attempts begin only at
    the text start, or at line starts for a run without line breaks.
    """

    def __init__(self, allowed: frozenset[str], fullmatched: bool, restart: bool = False) -> None:
        self.allowed = allowed
        self.fullmatched = fullmatched
        self.restart = restart
        self.seen: set[tuple[object, ...]] = set()
        self.hits: list[Node] = []

    def run(self, continuation: tuple[Node, ...]) -> list[Node]:
        stack: list[tuple[tuple[Node, ...], frozenset[Node]]] = [(continuation, frozenset())]
        while stack:
            rest, passed = stack.pop()
            if not rest:
                continue
            key = (tuple(id(node) for node in rest), frozenset(id(node) for node in passed))
            if key in self.seen:
                continue
            self.seen.add(key)
            node, rest = rest[0], rest[1:]
            if node.kind == "char":
                if node.chars & self.allowed:
                    stack.append((rest, passed | {node}))
            elif node.kind == "seq":
                stack.append((node.items + rest, passed))
            elif node.kind == "alt":
                stack += [((item,) + rest, passed) for item in node.items]
            elif node.kind == "assert":
                if node.lookahead:
                    stack.append((node.items, passed))  # it scans ahead from here, then the pattern goes on
                stack.append((rest, passed))
            elif node.kind == "rep":
                body = node.items[0]
                if node.long and all_chars(body) & self.allowed:
                    final = not rest and node.low <= 1 and not self.fullmatched
                    separated = any(not (char.chars & all_chars(body)) for char in passed)
                    if not (final or separated):
                        self.hits.append(node)
                    continue
                if node.low == 0 or nullable(body):
                    stack.append((rest, passed))
                if not node.long:
                    stack.append(((body,) + rest, passed))
            elif node.kind == "at" and self.restart and (node.text_start or (node.line_start and "\n" not in self.allowed)):
                continue
            else:  # anchors, unsupported
                stack.append((rest, passed))
        return self.hits


def _continuations(node: Node, rest: tuple[Node, ...], out: list[tuple[Node, tuple[Node, ...]]]) -> None:
    """Every long repeat with what follows it (up to the end of the pattern)."""
    if node.kind == "seq":
        for index, item in enumerate(node.items):
            _continuations(item, node.items[index + 1 :] + rest, out)
    elif node.kind == "alt":
        for item in node.items:
            _continuations(item, rest, out)
    elif node.kind == "rep":
        if node.long:
            out.append((node, rest))
        again = (node,) if node.high > 1 else ()
        _continuations(node.items[0], again + rest, out)
    elif node.kind == "assert":
        _continuations(node.items[0], (), out)


def _is_one_char(node: Node) -> bool:
    return node.kind == "char" or (node.kind == "seq" and len(node.items) == 1 and _is_one_char(node.items[0]))


def _is_whole_word(node: Node) -> bool:
    """`\\b(?:is|are)\\b`: a finite set of distinct letter strings between two word boundaries."""
    if node.kind != "seq" or len(node.items) < 3:
        return False
    first, last = node.items[0], node.items[-1]
    if not (first.kind == "at" and first.at_boundary and last.kind == "at" and last.at_boundary):
        return False
    words = strings(Node("seq", items=node.items[1:-1]))
    return bool(words) and all(word.isalpha() for word in words) and len(set(words)) == len(words)  # type: ignore[union-attr]


def _alternatives(body: Node) -> list[Node]:
    """The top-level alternatives of a repeat's body (through groups of one part)."""
    while body.kind == "seq" and len(body.items) == 1:
        body = body.items[0]
    return list(body.items) if body.kind == "alt" else [body]


def _code_problem(body: Node) -> str | None:
    """Why the iterations of `body` may split one text in more than one way, or None."""
    if nullable(body):
        return "its body can match the empty string"
    alternatives = _alternatives(body)
    finite: list[str] = []
    for alternative in alternatives:
        if _is_one_char(alternative) or _is_whole_word(alternative):
            continue  # one character; a whole word (it takes the whole run of letters)
        listed = strings(alternative)
        if listed is None:
            return "an alternative of its body is neither one character, a finite set of strings nor a whole word"
        finite += listed
    for index, one in enumerate(alternatives):
        for other in alternatives[index + 1 :]:
            shared = first_chars(one) & first_chars(other)
            if shared:
                return f"two alternatives of its body can start with {min(shared)!r}"
    if len(set(finite)) != len(finite):
        return "an alternative string of its body is listed twice"
    ordered = sorted(finite)
    for shorter, longer in pairwise(ordered):
        if longer.startswith(shorter):
            return f"{shorter!r} is a prefix of {longer!r} in its body"
    return None


def findings(pattern: re.Pattern[str], unanchored: bool = True, fullmatched: bool = True) -> list[str]:
    """Where `pattern` breaks the rules (module docstring); empty when it passes.

    `unanchored`: the pattern is used with search, finditer, findall, sub or split (the restart
    rule applies); `fullmatched`: with fullmatch (a repeat at its end is followed by the end).
    """
    root = parse(pattern)
    found: list[str] = []
    for node in _walk(root):
        if node.kind == "unsupported":
            found.append(f"unsupported construct {node.text}")
        if node.kind == "rep" and node.high > 1:
            problem = _code_problem(node.items[0])
            if problem:
                found.append(f"ambiguous repeat {_describe(node)}: {problem}")
    repeats: list[tuple[Node, tuple[Node, ...]]] = []
    _continuations(root, (), repeats)
    for repeat, rest in repeats:
        for hit in _Reach(all_chars(repeat.items[0]), fullmatched).run(rest):
            found.append(f"overlapping neighbours {_describe(repeat)} ... {_describe(hit)}")
    if unanchored:
        start = root.items
        guard = start[0] if start and start[0].kind == "assert" and start[0].negative_lookbehind else None
        for repeat, _rest in repeats:
            allowed = all_chars(repeat.items[0])
            if guard is not None and allowed <= all_chars(guard.items[0]):
                continue  # attempts start only where a run of its characters starts
            if repeat in _Reach(allowed, fullmatched, restart=True).run(start):
                found.append(f"restart: {_describe(repeat)} can be reached from the start over its own characters")
    return sorted(set(found))


def module_patterns(module: ModuleType) -> dict[str, tuple[re.Pattern[str], bool, bool]]:
    """{name: (pattern, unanchored, fullmatched)} for every compiled pattern at the top level of
    `module`, with how its source uses it: `unanchored` unless every use is `NAME.match(...)` or
    `NAME.fullmatch(...)` (a name passed on, or given another name, counts as unanchored);
    `fullmatched` when one use is `NAME.fullmatch(...)` or the name is passed on."""
    tree = ast.parse(inspect.getsource(module))
    patterns = {name: value for name, value in vars(module).items() if isinstance(value, re.Pattern)}
    methods: dict[str, set[str]] = {name: set() for name in patterns}
    method_owners: set[int] = set()  # the names in NAME.method: not a bare use
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in methods:
            methods[node.value.id].add(node.attr)
            method_owners.add(id(node.value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in methods and isinstance(node.ctx, ast.Load) and id(node) not in method_owners:
            methods[node.id].add("passed on")
    return {
        name: (
            pattern,
            not methods[name] <= {"match", "fullmatch", "pattern", "flags"},
            bool(methods[name] & {"fullmatch", "passed on"}),
        )
        for name, pattern in patterns.items()
    }


if __name__ == "__main__":  # python tests/regex_linearity.py 'PATTERN'...
    for source in sys.argv[1:]:
        print(source, findings(re.compile(source)) or "passes")
