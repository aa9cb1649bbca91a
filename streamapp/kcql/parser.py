"""The KCQL parser: ``;``-separated statements into :class:`~streamapp.kcql.statement.Statement`.

Grammar (keywords case-insensitive; the core of Stream Reactor's ``ConnectorParser.g4``)::

    kcql       := statement (';' statement)* [';']
    statement  := (INSERT | UPSERT) INTO name SELECT columns FROM name [IGNORE paths] clause*
    columns    := column (',' column)*
    column     := '*' | path [AS alias]
    paths      := path (',' path)*
    path       := part ('.' part)*                 part  := word | `quoted`
    name       := touching words, dots and `quoted` parts: sensors/temp, my.topic, `a b`/c
    alias      := word | `quoted` | 'string'
    clause     := KEYWORD ...    (PK, WITHFORMAT, STOREAS, BATCH = n, PROPERTIES(...), WHERE ...)

A clause is everything from its keyword to the next clause keyword, ``;`` or the end (with
parentheses balanced). Clauses are kept as :class:`IgnoredClause` for the connector to report;
an unknown word where a clause may start is an error, so a typo never passes silently.

Differences from Stream Reactor's KCQL, all refusing what would be silently wrong: a statement
must select something and name its source; two selected fields may not produce the same output
name; ``a.*`` (select all fields of a nested struct) is refused with a message.
"""

from __future__ import annotations

from .errors import KcqlSyntaxError
from .lexer import Kind, Token, tokenize
from .statement import FieldPath, IgnoredClause, Selection, Statement

__all__ = ["CLAUSE_KEYWORDS", "parse"]

# Clauses of Stream Reactor's KCQL that no CoAP feature uses (plus WHERE, which some connectors
# accept). Words of multi-word clauses (DISTRIBUTEBY a INTO 4 BUCKETS) need no entry here.
CLAUSE_KEYWORDS = frozenset(
    [
        "AUTOCREATE",
        "AUTOEVOLVE",
        "WITHSTRUCTURE",
        "PK",
        "WITHTARGET",
        "BATCH",
        "PARTITIONBY",
        "DISTRIBUTEBY",
        "CLUSTERBY",
        "WITHTIMESTAMP",
        "TIMESTAMPUNIT",
        "WITHFORMAT",
        "WITHUNWRAP",
        "STOREAS",
        "WITHTAG",
        "INCREMENTALMODE",
        "WITHTYPE",
        "WITHDOCTYPE",
        "WITHINDEXSUFFIX",
        "TTL",
        "WITHCONVERTER",
        "WITHJMSSELECTOR",
        "WITHKEY",
        "KEYDELIMITER",
        "WITHPIPELINE",
        "WITHPARTITIONER",
        "WITHSUBSCRIPTION",
        "WITHCOMPRESSION",
        "WITHDELAY",
        "WITHREGEX",
        "WITH_FLUSH_SIZE",
        "WITH_FLUSH_INTERVAL",
        "WITH_FLUSH_COUNT",
        "LIMIT",
        "WITH_SESSION",
        "WITH_ACK",
        "WITH_ENCODE_BASE64",
        "WITH_LOCK_TIME",
        "PROPERTIES",
        "WITHGROUP",
        "WHERE",
        "PROJECTTO",
        "EVERY",
    ]
)
# Words that end a field list or a name; a field called like this must be `quoted`.
_RESERVED = frozenset({"INSERT", "UPSERT", "INTO", "SELECT", "FROM", "IGNORE", "AS"}) | CLAUSE_KEYWORDS
_NAME_PARTS = (Kind.WORD, Kind.QUOTED, Kind.DOT)


def parse(text: str) -> tuple[Statement, ...]:
    """Every statement in ``text``; raises :class:`KcqlSyntaxError` at the first problem."""
    if not isinstance(text, str):
        raise TypeError(f"KCQL must be a string, not {type(text).__name__}")
    return _Parser(text).statements()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.last_column = ""  # the last SELECT entry parsed, for messages

    # -- token helpers

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind is not Kind.END:
            self.i += 1
        return tok

    def fail(self, reason: str, tok: Token | None = None) -> KcqlSyntaxError:
        return KcqlSyntaxError(reason, self.text, (tok or self.tok).start)

    def keyword(self, word: str, context: str) -> Token:
        tok = self.tok
        if not tok.is_word(word):
            raise self.fail(f"expected {word} {context}, got {tok.describe()}")
        return self.advance()

    # -- statements

    def statements(self) -> tuple[Statement, ...]:
        result: list[Statement] = []
        while True:
            while self.tok.kind is Kind.SEMICOLON:  # empty statements (a trailing ';') are fine
                self.advance()
            if self.tok.kind is Kind.END:
                break
            result.append(self.statement(len(result) + 1))
            if self.tok.kind not in (Kind.SEMICOLON, Kind.END):
                raise self.fail(f"expected ';' or the end after the statement, got {self.tok.describe()}")
        if not result:
            raise KcqlSyntaxError(
                "no KCQL statement (expected INSERT INTO <resource> SELECT ... FROM <topic>)", self.text, 0
            )
        return tuple(result)

    def statement(self, index: int) -> Statement:
        first = self.tok
        ignored: list[IgnoredClause] = []
        if first.is_word("INSERT"):
            mode = "INSERT"
        elif first.is_word("UPSERT"):
            mode = "UPSERT"
            ignored.append(IgnoredClause("UPSERT", "UPSERT", first.start))
        else:
            raise self.fail(f"expected INSERT INTO at the start of a statement, got {first.describe()}")
        self.advance()
        self.keyword("INTO", f"after {mode}")
        target = self.name("the target resource after INTO")
        self.keyword("SELECT", f"after the target '{target}'")
        select_all, fields = self.columns()
        if not self.tok.is_word("FROM"):
            last = self.last_column
            more = "',' or FROM" if last == "*" or " AS " in last else "',', AS or FROM"
            raise self.fail(f"expected {more} after '{last}', got {self.tok.describe()}")
        self.advance()
        source = self.name("the source topic after FROM")
        ignored_fields: tuple[FieldPath, ...] = ()
        if self.tok.is_word("IGNORE"):
            self.advance()
            ignored_fields = self.paths()
        while self.tok.kind not in (Kind.SEMICOLON, Kind.END):
            ignored.append(self.clause())
        end = self.tokens[self.i - 1].end
        return Statement(
            target=target,
            source=source,
            select_all=select_all,
            fields=fields,
            ignored_fields=ignored_fields,
            ignored_clauses=tuple(ignored),
            write_mode=mode,
            text=self.text[first.start : end],
            index=index,
            position=first.start,
        )

    def name(self, what: str) -> str:
        """Touching words, dots and quoted parts (``sensors/temp``, ``my.topic``), or a 'string'."""
        tok = self.tok
        if tok.kind is Kind.STRING:
            self.advance()
            return tok.value
        if tok.kind not in (Kind.WORD, Kind.QUOTED) or (tok.kind is Kind.WORD and tok.text.upper() in _RESERVED):
            raise self.fail(f"expected {what}, got {tok.describe()}")
        parts = [self.advance()]
        while self.tok.kind in _NAME_PARTS and self.tok.start == parts[-1].end:
            parts.append(self.advance())
        return "".join(p.value for p in parts)

    def columns(self) -> tuple[bool, tuple[Selection, ...]]:
        select_all = False
        fields: list[Selection] = []
        names: dict[str, Selection] = {}
        while True:
            tok = self.tok
            if tok.kind is Kind.STAR:
                if select_all:
                    raise self.fail("'*' is selected twice")
                select_all = True
                self.advance()
                self.last_column = "*"
            else:
                start = tok.start
                path = self.path("a field or '*'")
                alias = None
                if self.tok.is_word("AS"):
                    self.advance()
                    alias = self.alias(path)
                selection = Selection(path, alias, start)
                earlier = names.get(selection.name)
                if earlier is not None:
                    raise KcqlSyntaxError(
                        f"'{selection}' and '{earlier}' would both be written as field '{selection.name}'; "
                        "give one of them another alias",
                        self.text,
                        start,
                    )
                names[selection.name] = selection
                fields.append(selection)
                self.last_column = str(selection)
            if self.tok.kind is not Kind.COMMA:
                return select_all, tuple(fields)
            self.advance()

    def paths(self) -> tuple[FieldPath, ...]:
        result = [self.path("a field to ignore")]
        while self.tok.kind is Kind.COMMA:
            self.advance()
            result.append(self.path("a field to ignore"))
        return tuple(result)

    def path(self, what: str) -> FieldPath:
        parts = [self.part(what)]
        while self.tok.kind is Kind.DOT:
            dot = self.advance()
            if self.tok.kind is Kind.STAR:
                raise self.fail(
                    f"'{FieldPath(tuple(parts))}.*' (all fields of a nested field) is not supported; "
                    "select the nested fields one by one",
                    dot,
                )
            parts.append(self.part(f"a field name after '{FieldPath(tuple(parts))}.'"))
        return FieldPath(tuple(parts))

    def part(self, what: str) -> str:
        tok = self.tok
        if tok.kind is Kind.QUOTED:
            self.advance()
            return tok.value
        if tok.kind is Kind.WORD:
            if tok.text.upper() in _RESERVED:
                raise self.fail(
                    f"expected {what}, got the keyword {tok.text.upper()} (write `{tok.text}` for a field of that name)"
                )
            self.advance()
            return tok.value
        raise self.fail(f"expected {what}, got {tok.describe()}")

    def alias(self, path: FieldPath) -> str:
        tok = self.tok
        if tok.kind in (Kind.QUOTED, Kind.STRING) or (tok.kind is Kind.WORD and tok.text.upper() not in _RESERVED):
            self.advance()
            return tok.value
        hint = f" (write `{tok.text}` for an alias of that name)" if tok.kind is Kind.WORD else ""
        raise self.fail(f"expected an alias after '{path} AS', got {tok.describe()}{hint}")

    def clause(self) -> IgnoredClause:
        tok = self.tok
        if not (tok.kind is Kind.WORD and tok.text.upper() in CLAUSE_KEYWORDS):
            raise self.fail(
                f"expected IGNORE, a KCQL clause (PK, WITHFORMAT, STOREAS, BATCH, LIMIT, ...), ';' or the end, "
                f"got {tok.describe()}"
            )
        self.advance()
        depth = 0
        while True:
            cur = self.tok
            if cur.kind is Kind.END or (depth == 0 and cur.kind is Kind.SEMICOLON):
                break
            if depth == 0 and cur.kind is Kind.WORD and cur.text.upper() in CLAUSE_KEYWORDS:
                break
            if cur.kind is Kind.LPAREN:
                depth += 1
            elif cur.kind is Kind.RPAREN:
                if depth == 0:
                    raise self.fail("')' without a matching '('")
                depth -= 1
            self.advance()
        if depth:
            raise self.fail(f"'(' in the {tok.text.upper()} clause is not closed", tok)
        end = self.tokens[self.i - 1].end
        return IgnoredClause(tok.text.upper(), self.text[tok.start : end], tok.start)
