"""KCQL parsing: the statements CoAP users have, and errors that point at the spot."""

from __future__ import annotations

import pytest

from streamapp.kcql import FieldPath, KcqlSyntaxError, Selection, caret_excerpt, parse


def one(text: str):
    (statement,) = parse(text)
    return statement


# -- the seed's statements ---------------------------------------------------------------------


def test_seed_quickstart():
    s = one("INSERT INTO unsecure SELECT * FROM coap_topic")
    assert (s.target, s.source, s.select_all, s.fields, s.ignored_fields) == ("unsecure", "coap_topic", True, (), ())
    assert s.is_identity and s.write_mode == "INSERT" and s.index == 1
    assert str(s) == "INSERT INTO unsecure SELECT * FROM coap_topic"


def test_seed_select_all_example():
    s = one("INSERT INTO resourceA SELECT * FROM topicA")
    assert (s.target, s.source) == ("resourceA", "topicA")


def test_seed_rename_example_with_its_typo_is_an_error_at_the_typo():
    text = "INSERT INTO resourceA SELECT x AS a, y AS b and z AS c FROM topicB"
    with pytest.raises(KcqlSyntaxError) as info:
        parse(text)
    assert (info.value.line, info.value.column, info.value.position) == (1, 45, 44)
    assert "expected ',' or FROM after 'y AS b', got 'and'" in str(info.value)


def test_seed_rename_example_corrected():
    s = one("INSERT INTO resourceA SELECT x AS a, y AS b, z AS c FROM topicB")
    assert [(str(f.path), f.alias, f.name) for f in s.fields] == [("x", "a", "a"), ("y", "b", "b"), ("z", "c", "c")]
    assert not s.select_all and not s.is_identity


def test_reference_example_with_a_dash_in_the_topic():
    s = one("INSERT INTO insecure SELECT * FROM coap-topic")
    assert s.source == "coap-topic"


# -- names, fields, keywords --------------------------------------------------------------------


def test_keywords_are_case_insensitive_and_whitespace_free():
    s = one("insert\tinto  r\nSeLeCt a\n,b   aS c from t IgNoRe d")
    assert [str(f) for f in s.fields] == ["a", "b AS c"] and s.ignored_fields == (FieldPath(("d",)),)


@pytest.mark.parametrize(
    "target,expected",
    [
        ("sensors/temp", "sensors/temp"),
        ("/sensors/temp/", "/sensors/temp/"),
        ("a.b/c-d+e:{x}", "a.b/c-d+e:{x}"),
        ("`room 1/temp`", "room 1/temp"),
        ("sensors/`room 1`/t", "sensors/room 1/t"),
        ("'quoted string'", "quoted string"),
    ],
)
def test_resources(target, expected):
    assert one(f"INSERT INTO {target} SELECT * FROM t").target == expected


def test_backticks_make_keywords_and_odd_characters_usable():
    s = one("INSERT INTO `select` SELECT `from`, `a b`.`c.d` AS `as` FROM `my topic`")
    assert s.target == "select" and s.source == "my topic"
    assert [f.path.parts for f in s.fields] == [("from",), ("a b", "c.d")]
    assert s.fields[1].alias == "as"
    assert str(s.fields[1].path) == "`a b`.`c.d`"


def test_nested_fields_and_aliases():
    s = one("INSERT INTO r SELECT a.b.c, a.b.d AS d2, e FROM t IGNORE a.x, f")
    assert s.fields == (
        Selection(FieldPath(("a", "b", "c")), None, 21),
        Selection(FieldPath(("a", "b", "d")), "d2", 28),
        Selection(FieldPath(("e",)), None, 41),
    )
    assert [f.name for f in s.fields] == ["c", "d2", "e"]
    assert s.ignored_fields == (FieldPath(("a", "x")), FieldPath(("f",)))


def test_star_with_renames_and_string_alias():
    s = one("INSERT INTO r SELECT *, name AS 'label' FROM t")
    assert s.select_all and s.fields[0].alias == "label" and not s.is_identity


def test_star_with_a_plain_top_level_field_is_still_identity():
    assert one("INSERT INTO r SELECT *, a FROM t").is_identity


def test_several_statements_one_topic_to_several_resources():
    statements = parse("INSERT INTO a SELECT * FROM t; INSERT INTO b SELECT x FROM t;\nINSERT INTO c SELECT * FROM u;")
    assert [(s.index, s.target, s.source) for s in statements] == [(1, "a", "t"), (2, "b", "t"), (3, "c", "u")]
    assert statements[2].text == "INSERT INTO c SELECT * FROM u"


def test_upsert_is_accepted_and_reported():
    s = one("UPSERT INTO r SELECT * FROM t")
    assert s.write_mode == "UPSERT" and [c.keyword for c in s.ignored_clauses] == ["UPSERT"]


def test_other_clauses_are_kept_as_ignored_with_their_text():
    s = one(
        "INSERT INTO r SELECT * FROM t IGNORE a WITHFORMAT JSON PK id, b STOREAS `x`(a=1, b=c) "
        "WITHCONVERTER=`com.x.Y` PARTITIONBY p LIMIT 10 BATCH = 100 WHERE a > 1 AND b <> 'x;y' "
        "PROPERTIES('k'='v') KEYDELIMITER='.' WITHKEY(a, b) AUTOCREATE"
    )
    assert [(c.keyword, c.text) for c in s.ignored_clauses] == [
        ("WITHFORMAT", "WITHFORMAT JSON"),
        ("PK", "PK id, b"),
        ("STOREAS", "STOREAS `x`(a=1, b=c)"),
        ("WITHCONVERTER", "WITHCONVERTER=`com.x.Y`"),
        ("PARTITIONBY", "PARTITIONBY p"),
        ("LIMIT", "LIMIT 10"),
        ("BATCH", "BATCH = 100"),
        ("WHERE", "WHERE a > 1 AND b <> 'x;y'"),
        ("PROPERTIES", "PROPERTIES('k'='v')"),
        ("KEYDELIMITER", "KEYDELIMITER='.'"),
        ("WITHKEY", "WITHKEY(a, b)"),
        ("AUTOCREATE", "AUTOCREATE"),
    ]
    assert s.ignored_fields == (FieldPath(("a",)),)


def test_statements_are_hashable_values():
    assert parse("INSERT INTO r SELECT a FROM t")[0] == parse("INSERT INTO r SELECT a FROM t")[0]
    assert len({parse("INSERT INTO r SELECT a FROM t")[0], parse("INSERT INTO r SELECT b FROM t")[0]}) == 2


# -- errors with positions ------------------------------------------------------------------------


ERRORS = [
    ("", 0, "no KCQL statement"),
    (" ; ;", 0, "no KCQL statement"),
    ("SELECT * FROM t", 0, "expected INSERT INTO at the start of a statement, got 'SELECT'"),
    ("INSERT r SELECT * FROM t", 7, "expected INTO after INSERT, got 'r'"),
    ("INSERT INTO SELECT * FROM t", 12, "expected the target resource after INTO, got 'SELECT'"),
    ("INSERT INTO r * FROM t", 14, "expected SELECT after the target 'r', got '*'"),
    (
        "INSERT INTO r SELECT FROM t",
        21,
        "expected a field or '*', got the keyword FROM (write `FROM` for a field of that name)",
    ),
    ("INSERT INTO r SELECT a, FROM t", 24, "expected a field or '*', got the keyword FROM"),
    ("INSERT INTO r SELECT a AS FROM t", 26, "expected an alias after 'a AS', got 'FROM' (write `FROM` for an alias"),
    ("INSERT INTO r SELECT a b FROM t", 23, "expected ',', AS or FROM after 'a', got 'b'"),
    ("INSERT INTO r SELECT * t", 23, "expected ',' or FROM after '*', got 't'"),
    ("INSERT INTO r SELECT *, * FROM t", 24, "'*' is selected twice"),
    ("INSERT INTO r SELECT a. FROM t", 24, "expected a field name after 'a.', got the keyword FROM"),
    ("INSERT INTO r SELECT a.* FROM t", 22, "'a.*' (all fields of a nested field) is not supported"),
    ("INSERT INTO r SELECT a, b AS a FROM t", 24, "'b AS a' and 'a' would both be written as field 'a'"),
    ("INSERT INTO r SELECT x.a, y.a FROM t", 26, "'y.a' and 'x.a' would both be written as field 'a'"),
    ("INSERT INTO r SELECT * FROM", 27, "expected the source topic after FROM, got the end of the statement"),
    ("INSERT INTO r SELECT * FROM t IGNORE", 36, "expected a field to ignore, got the end"),
    (
        "INSERT INTO r SELECT * FROM t FOO",
        30,
        "expected IGNORE, a KCQL clause (PK, WITHFORMAT, STOREAS, BATCH, LIMIT, ...)",
    ),
    ("INSERT INTO r SELECT * FROM t PROPERTIES(a=1", 30, "'(' in the PROPERTIES clause is not closed"),
    ("INSERT INTO r SELECT * FROM t LIMIT 1)", 37, "')' without a matching '('"),
    ("INSERT INTO r SELECT * FROM `t", 28, "unterminated backtick"),
    ("INSERT INTO r SELECT a AS 'x FROM t", 26, "unterminated quote"),
    ("INSERT INTO `` SELECT * FROM t", 12, "empty quoted name"),
    ("INSERT INTO r SELECT a > 1 FROM t", 23, "expected ',', AS or FROM after 'a', got '>'"),
    ("INSERT INTO r SELECT * FROM t INSERT INTO s SELECT * FROM t", 30, "expected IGNORE, a KCQL clause"),
]


@pytest.mark.parametrize("text,position,reason", ERRORS, ids=[e[2][:40] for e in ERRORS])
def test_syntax_errors_say_where(text, position, reason):
    with pytest.raises(KcqlSyntaxError) as info:
        parse(text)
    error = info.value
    assert error.position == position, str(error)
    assert reason in error.reason
    assert str(error).startswith(f"KCQL syntax error at line 1, column {position + 1} (character {position + 1}): ")
    assert str(error).endswith("\n" + caret_excerpt(text, position))


def test_error_in_a_later_statement_on_a_later_line():
    text = "INSERT INTO a SELECT * FROM t;\n  INSERT INTO b SELECT x AS FROM t"
    with pytest.raises(KcqlSyntaxError) as info:
        parse(text)
    assert (info.value.line, info.value.column) == (2, 29)
    assert str(info.value).splitlines()[1:] == [
        "    INSERT INTO b SELECT x AS FROM t",
        "                              ^",
    ]


def test_caret_excerpt_of_a_long_line_is_cut_around_the_spot():
    text = "INSERT INTO r SELECT " + ", ".join(f"field{i}" for i in range(60)) + " FROM t oops"
    position = text.index("oops")
    excerpt = caret_excerpt(text, position)
    line, caret = excerpt.splitlines()
    assert line.startswith("  ...") and len(line) <= 2 + 3 + 76 + 3
    assert line[caret.index("^") :].startswith("oops")


def test_non_string_kcql_is_a_type_error():
    with pytest.raises(TypeError):
        parse(None)  # type: ignore[arg-type]
