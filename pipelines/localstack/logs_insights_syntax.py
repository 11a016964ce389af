"""The syntax of the Logs Insights subset the local stack evaluates: tokens, commands, predicates (no evaluation here)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_BIN_UNITS_MS = {
    **dict.fromkeys(("ms", "msec", "msecs", "millisecond", "milliseconds"), 1),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1_000),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60_000),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3_600_000),
    **dict.fromkeys(("d", "day", "days"), 86_400_000),
}
# RE2 (the engine Insights uses) has no lookaround and no backreferences: refuse them here too.
_NOT_RE2 = re.compile(r"\(\?<?[=!]|\(\?P=|\\[1-9]")
_TOKEN = re.compile(
    r"""(?P<ws>\s+)|(?P<comment>\#[^\n]*)
    |(?P<regex>/(?:\\.|[^/\\\n])*/)
    |(?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')
    |(?P<number>\d+(?:\.\d+)?[A-Za-z]*)
    |(?P<name>@?[A-Za-z_][A-Za-z0-9_.@]*|`[^`]+`)
    |(?P<op>=~|!=|=|\(|\)|,|\*|\|)""",
    re.X,
)


class InsightsQueryError(ValueError):
    """The query is malformed or outside the supported subset (AWS answers MalformedQueryException)."""


@dataclass(frozen=True)
class Match:
    field: str
    op: str  # like, =, !=
    pattern: re.Pattern[str] | str  # regex, or a string (substring for like, equality otherwise)
    negate: bool = False


@dataclass(frozen=True)
class BoolOp:
    op: str  # and, or
    left: Predicate
    right: Predicate


@dataclass(frozen=True)
class NotOp:
    operand: Predicate


Predicate = Match | BoolOp | NotOp


@dataclass(frozen=True)
class Aggregate:
    func: str  # count, earliest, latest
    arg: str  # "*" or a field
    name: str


@dataclass(frozen=True)
class Group:
    name: str
    field: str | None = None
    bin_ms: int | None = None


@dataclass(frozen=True)
class Fields:
    names: tuple[str, ...]


@dataclass(frozen=True)
class Filter:
    predicate: Predicate


@dataclass(frozen=True)
class Stats:
    aggregates: tuple[Aggregate, ...]
    groups: tuple[Group, ...]


@dataclass(frozen=True)
class Sort:
    keys: tuple[tuple[str, bool], ...]  # (field, descending)


@dataclass(frozen=True)
class Limit:
    count: int


Command = Fields | Filter | Stats | Sort | Limit


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    pos: int


class _Tokens:
    def __init__(self, tokens: Sequence[_Token], command: str) -> None:
        self._tokens, self._at, self.command = list(tokens), 0, command

    def peek(self, offset: int = 0) -> _Token | None:
        index = self._at + offset
        return self._tokens[index] if index < len(self._tokens) else None

    def next(self, expected: str = "a token") -> _Token:
        token = self.peek()
        if token is None:
            raise InsightsQueryError(f"{self.command}: expected {expected} at the end of the command")
        self._at += 1
        return token

    def accept(self, *texts: str) -> bool:
        token = self.peek()
        if token is not None and token.text.lower() in texts and token.kind in ("op", "name"):
            self._at += 1
            return True
        return False

    def expect(self, text: str) -> None:
        token = self.next(repr(text))
        if token.text.lower() != text:
            raise InsightsQueryError(f"{self.command}: expected {text!r} at {token.pos}, found {token.text!r}")

    def done(self) -> bool:
        return self._at >= len(self._tokens)


def tokenize(query: str) -> list[_Token]:
    tokens, at = [], 0
    while at < len(query):
        found = _TOKEN.match(query, at)
        if found is None:
            raise InsightsQueryError(f"unexpected character {query[at]!r} at {at}")
        kind = found.lastgroup or ""
        if kind not in ("ws", "comment"):
            tokens.append(_Token(kind, found.group(), at))
        at = found.end()
    return tokens


def parse_query(query: str) -> tuple[Command, ...]:
    """The commands of `query`; InsightsQueryError names what is outside the subset."""
    commands: list[list[_Token]] = [[]]
    for token in tokenize(query):
        if token.kind == "op" and token.text == "|":
            commands.append([])
        else:
            commands[-1].append(token)
    if any(not tokens for tokens in commands):
        raise InsightsQueryError("empty command (a query must not start or end with '|', nor hold '||')")
    parsed = [_command(tokens) for tokens in commands]
    if sum(isinstance(c, Stats) for c in parsed) > 1:
        raise InsightsQueryError("stats: only one stats command per query is supported")
    return tuple(parsed)


def _command(tokens: list[_Token]) -> Command:
    head = tokens[0].text.lower()
    parsers: dict[str, Callable[[_Tokens], Command]] = {
        "fields": _fields,
        "filter": _filter,
        "stats": _stats,
        "sort": _sort,
        "limit": _limit,
    }
    if tokens[0].kind != "name" or head not in parsers:
        raise InsightsQueryError(f"unsupported command {tokens[0].text!r} (supported: {', '.join(parsers)})")
    stream = _Tokens(tokens[1:], head)
    command = parsers[head](stream)
    if not stream.done():
        extra = stream.next()
        raise InsightsQueryError(f"{head}: unexpected {extra.text!r} at {extra.pos}")
    return command


def _field(stream: _Tokens) -> str:
    token = stream.next("a field name")
    if token.kind != "name":
        raise InsightsQueryError(f"{stream.command}: expected a field name at {token.pos}, found {token.text!r}")
    return token.text.strip("`")


def _fields(stream: _Tokens) -> Fields:
    names = [_field(stream)]
    while stream.accept(","):
        names.append(_field(stream))
    return Fields(tuple(names))


def _filter(stream: _Tokens) -> Filter:
    return Filter(_or(stream))


def _or(stream: _Tokens) -> Predicate:
    left = _and(stream)
    while stream.accept("or"):
        left = BoolOp("or", left, _and(stream))
    return left


def _and(stream: _Tokens) -> Predicate:
    left = _unary(stream)
    while stream.accept("and"):
        left = BoolOp("and", left, _unary(stream))
    return left


def _unary(stream: _Tokens) -> Predicate:
    if stream.accept("not"):
        return NotOp(_unary(stream))
    if stream.accept("("):
        inner = _or(stream)
        stream.expect(")")
        return inner
    return _match(stream)


def _match(stream: _Tokens) -> Match:
    name = _field(stream)
    negate = stream.accept("not")
    op_token = stream.next("like, =~, = or !=")
    op = op_token.text.lower()
    if op not in ("like", "=~", "=", "!=") or (negate and op != "like"):
        raise InsightsQueryError(f"filter: unsupported operator {op_token.text!r} at {op_token.pos}")
    value = stream.next("a /regex/ or a string")
    if value.kind == "regex":
        if op in ("=", "!="):
            raise InsightsQueryError(f"filter: {op} takes a string, not a regex (use like)")
        return Match(name, "like", compile_regex(value.text[1:-1]), negate)
    if value.kind not in ("string", "number"):
        raise InsightsQueryError(f"filter: expected a /regex/ or a string at {value.pos}, found {value.text!r}")
    text = _unquote(value.text) if value.kind == "string" else value.text
    if op == "=~":
        return Match(name, "like", compile_regex(text), negate)
    return Match(name, op, text, negate)


def compile_regex(body: str) -> re.Pattern[str]:
    """A regex literal's body (`\\/` is a slash) as Python compiles it, refusing what RE2 lacks."""
    if _NOT_RE2.search(body):
        raise InsightsQueryError(f"regex /{body}/: lookaround and backreferences are not supported (RE2 syntax)")
    try:
        return re.compile(body)
    except re.error as error:
        raise InsightsQueryError(f"regex /{body}/: {error}") from None


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def _stats(stream: _Tokens) -> Stats:
    aggregates = [_aggregate(stream)]
    while stream.accept(","):
        aggregates.append(_aggregate(stream))
    groups: list[Group] = []
    if stream.accept("by"):
        groups.append(_group(stream))
        while stream.accept(","):
            groups.append(_group(stream))
    names = [a.name for a in aggregates] + [g.name for g in groups]
    if len(names) != len(set(names)):
        raise InsightsQueryError(f"stats: duplicate column names {names}")
    return Stats(tuple(aggregates), tuple(groups))


def _aggregate(stream: _Tokens) -> Aggregate:
    func = stream.next("an aggregation").text.lower()
    if func not in ("count", "earliest", "latest"):
        raise InsightsQueryError(f"stats: unsupported function {func!r} (supported: count, earliest, latest)")
    stream.expect("(")
    arg = "*" if func == "count" and stream.accept("*") else _field(stream)
    stream.expect(")")
    name = _field(stream) if stream.accept("as") else f"{func}({arg})"
    return Aggregate(func, arg, name)


def _group(stream: _Tokens) -> Group:
    token = stream.peek()
    if token is not None and token.text.lower() == "bin" and (after := stream.peek(1)) is not None and after.text == "(":
        stream.next(), stream.next()
        width = stream.next("a bin width such as 1h")
        stream.expect(")")
        group = Group(f"bin({width.text})", bin_ms=_bin_width(width))
    else:
        name = _field(stream)
        group = Group(name, field=name)
    return Group(_field(stream), group.field, group.bin_ms) if stream.accept("as") else group


def _bin_width(token: _Token) -> int:
    found = re.fullmatch(r"(\d+)([A-Za-z]+)", token.text)
    unit = _BIN_UNITS_MS.get(found.group(2).lower()) if found else None
    if found is None or unit is None or int(found.group(1)) < 1:
        raise InsightsQueryError(f"stats: unsupported bin width {token.text!r} (e.g. 5m, 1h, 1d; ms, s, m, h, d)")
    return int(found.group(1)) * unit


def _sort(stream: _Tokens) -> Sort:
    keys = []
    while True:
        name = _field(stream)
        descending = not stream.accept("asc")
        if descending:
            stream.accept("desc")
        keys.append((name, descending))
        if not stream.accept(","):
            return Sort(tuple(keys))


def _limit(stream: _Tokens) -> Limit:
    token = stream.next("a row count")
    if token.kind != "number" or not token.text.isdigit() or int(token.text) < 1:
        raise InsightsQueryError(f"limit: expected a positive integer, found {token.text!r}")
    return Limit(int(token.text))
