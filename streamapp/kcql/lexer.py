"""KCQL tokens, each with its character offset in the whole ``connect.*.kcql`` value.

The token classes follow Stream Reactor's ANTLR lexer (``ConnectorLexer.g4``): words made of
letters, digits and ``_ @ - + / { } : $`` (one class for KCQL's FIELD and TOPICNAME, told apart by
the parser from their position), backtick-quoted names, single-quoted strings, and the
punctuation ``, * . = ( ) ;``. Whitespace separates tokens; :attr:`Token.start`/:attr:`Token.end`
let the parser see whether two tokens touch (``sensors/room.1`` is one resource name, ``a . b``
is not). Any other character becomes an ``OTHER`` token, so clauses this connector ignores (a
``WHERE a > 1``) still lex; the parser refuses ``OTHER`` wherever it matters.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .errors import KcqlSyntaxError

__all__ = ["WORD_CHARS", "Kind", "Token", "tokenize"]

WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@-+/{}:$")


class Kind(enum.Enum):
    WORD = "a name"
    QUOTED = "a `quoted` name"
    STRING = "a 'string'"
    COMMA = "','"
    STAR = "'*'"
    DOT = "'.'"
    EQUALS = "'='"
    LPAREN = "'('"
    RPAREN = "')'"
    SEMICOLON = "';'"
    OTHER = "a character"
    END = "the end"


_PUNCTUATION = {
    ",": Kind.COMMA,
    "*": Kind.STAR,
    ".": Kind.DOT,
    "=": Kind.EQUALS,
    "(": Kind.LPAREN,
    ")": Kind.RPAREN,
    ";": Kind.SEMICOLON,
}


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str  # as written (quotes included)
    value: str  # unquoted for QUOTED and STRING, else the text
    start: int
    end: int

    def is_word(self, *words: str) -> bool:
        """True for an unquoted word equal to one of ``words`` (keywords are case-insensitive)."""
        return self.kind is Kind.WORD and self.text.upper() in words

    def describe(self) -> str:
        if self.kind is Kind.END:
            return "the end of the statement"
        if self.kind is Kind.WORD:
            return f"'{self.text}'"
        if self.kind in (Kind.QUOTED, Kind.STRING):
            return self.text if len(self.text) <= 40 else self.text[:37] + "..."
        return f"'{self.text}'"


def tokenize(text: str) -> list[Token]:
    """All tokens of ``text``, ending with one END token; raises :class:`KcqlSyntaxError`."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in WORD_CHARS:
            j = i + 1
            while j < n and text[j] in WORD_CHARS:
                j += 1
            tokens.append(Token(Kind.WORD, text[i:j], text[i:j], i, j))
            i = j
        elif ch == "`" or ch == "'":
            close = text.find(ch, i + 1)
            line_end = text.find("\n", i + 1)
            if close < 0 or (ch == "'" and 0 <= line_end < close):
                what = "backtick" if ch == "`" else "quote"
                raise KcqlSyntaxError(f"unterminated {what}: no closing {ch} for the {ch} here", text, i)
            if close == i + 1:
                raise KcqlSyntaxError(f"empty {'quoted name' if ch == '`' else 'string'} {ch}{ch}", text, i)
            kind = Kind.QUOTED if ch == "`" else Kind.STRING
            tokens.append(Token(kind, text[i : close + 1], text[i + 1 : close], i, close + 1))
            i = close + 1
        elif ch in _PUNCTUATION:
            tokens.append(Token(_PUNCTUATION[ch], ch, ch, i, i + 1))
            i += 1
        else:
            tokens.append(Token(Kind.OTHER, ch, ch, i, i + 1))
            i += 1
    tokens.append(Token(Kind.END, "", "", n, n))
    return tokens
