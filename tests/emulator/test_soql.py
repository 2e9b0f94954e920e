"""The emulator's SOQL: parsing, Salesforce's comparison and ordering rules, and every query the
connector's builder (`crmsync.salesforce.soql`) can produce. Pure: no emulator, no network."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from crmsync.domain.records import Watermark
from crmsync.salesforce import soql as builder
from simple_salesforce.format import format_soql

from local.salesforce_emulator.soql import (
    And,
    Comparison,
    InList,
    Not,
    Or,
    OrderItem,
    Query,
    SoqlError,
    parse,
)

NOON = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    """A date-time as the store holds it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def lead(record_id: str, **fields: Any) -> dict[str, Any]:
    return {"Id": record_id, "LastName": None, "Email": None, "SystemModstamp": None, **fields}


def ids(records: Sequence[Mapping[str, Any]]) -> list[str]:
    return [str(r["Id"]) for r in records]


def where(condition: str, records: Sequence[Mapping[str, Any]]) -> list[str]:
    return ids(parse(f"SELECT Id FROM Lead WHERE {condition}").apply(records))


def refused(text: str) -> SoqlError:
    with pytest.raises(SoqlError) as raised:
        parse(text)
    assert raised.value.error_code == "MALFORMED_QUERY"
    return raised.value


# --- parsing -------------------------------------------------------------------------------------


def test_a_full_query_parses_into_its_clauses() -> None:
    query = parse(
        "select Id, lastname, Owner.Email from Lead where Email != null "
        "order by LastName desc, Id limit 10 offset 20"
    )

    assert query == Query(
        sobject="Lead",
        fields=("Id", "lastname", "Owner.Email"),
        count_only=False,
        where=Comparison("Email", "!=", None),
        order_by=(OrderItem("LastName", True, True), OrderItem("Id", False, False)),
        limit=10,
        offset=20,
    )


def test_count_selects_no_field() -> None:
    query = parse("SELECT COUNT() FROM Lead WHERE IsDeleted = false")

    assert (query.count_only, query.fields) == (True, ())
    assert query.referenced_fields() == {"IsDeleted"}


def test_referenced_fields_name_every_field_as_written() -> None:
    query = parse(
        "SELECT Id, email FROM Lead WHERE (NOT Title LIKE 'a%') AND Score__c IN (1, 2) "
        "AND Company NOT IN ('x') ORDER BY owner.Email"
    )

    assert query.referenced_fields() == {"Id", "email", "Title", "Score__c", "Company", "owner.Email"}


@pytest.mark.parametrize(
    ("clause", "expected"),
    [
        ("Id", OrderItem("Id", descending=False, nulls_last=False)),
        ("Id ASC", OrderItem("Id", descending=False, nulls_last=False)),
        ("Id DESC", OrderItem("Id", descending=True, nulls_last=True)),
        ("Id ASC NULLS LAST", OrderItem("Id", descending=False, nulls_last=True)),
        ("Id desc nulls first", OrderItem("Id", descending=True, nulls_last=False)),
    ],
)
def test_order_by_defaults_to_nulls_first_ascending_and_nulls_last_descending(
    clause: str, expected: OrderItem
) -> None:
    assert parse(f"SELECT Id FROM Lead ORDER BY {clause}").order_by == (expected,)


def test_and_or_not_and_parentheses_build_the_condition_tree() -> None:
    query = parse("SELECT Id FROM Lead WHERE a = 1 AND (b = 2 OR NOT c = 3) AND d IN (4)")

    assert query.where == And(
        (
            Comparison("a", "=", 1),
            Or((Comparison("b", "=", 2), Not(Comparison("c", "=", 3)))),
            InList("d", (4,), negated=False),
        )
    )


def test_not_binds_to_the_condition_right_after_it() -> None:
    query = parse("SELECT Id FROM Lead WHERE NOT a = 1 OR b = 2")

    assert query.where == Or((Not(Comparison("a", "=", 1)), Comparison("b", "=", 2)))


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("'plain'", "plain"),
        ("''", ""),
        ("42", 42),
        ("-7", -7),
        ("+7", 7),
        ("3.25", 3.25),
        ("-0.5", -0.5),
        ("1e-05", 1e-05),
        ("TRUE", True),
        ("false", False),
        ("Null", None),
        ("2026-11-22", date(2026, 11, 22)),
        ("2026-11-22T12:00:00Z", NOON),
        ("2026-11-22T12:00:00.000Z", NOON),
        ("2026-11-22T12:00:00+00:00", NOON),
        ("2026-11-22T12:00:00.000+0000", NOON),
        ("2026-11-22T07:00:00-05:00", NOON),
        ("2026-11-23T05:30:00+05:30", NOON + timedelta(hours=12)),
        ("2026-11-22T12:00:00.123Z", NOON + timedelta(milliseconds=123)),
    ],
)
def test_literals(literal: str, value: object) -> None:
    where = parse(f"SELECT Id FROM Lead WHERE Field__c = {literal}").where

    assert isinstance(where, Comparison)
    assert where.value == value
    assert type(where.value) is type(value)


@pytest.mark.parametrize(
    ("written", "value"),
    [
        (r"'o\'brien'", "o'brien"),
        (r"'say \"hi\"'", 'say "hi"'),
        (r"'back\\slash'", "back\\slash"),
        (r"'a\nb\rc\td\be\ff'", "a\nb\rc\td\be\ff"),
        # Outside LIKE the wildcard escapes stand for themselves.
        (r"'100\% \_'", r"100\% \_"),
    ],
)
def test_string_escapes(written: str, value: str) -> None:
    where = parse(f"SELECT Id FROM Lead WHERE Name = {written}").where

    assert where == Comparison("Name", "=", value)


def test_keywords_are_case_insensitive_and_whitespace_is_free() -> None:
    query = parse("\n  SeLeCt Id,Email\tFrOm Lead\nWhErE Email='a'AND(Id!='b')oRdEr  bY Id LiMiT 1 OfFsEt 0")

    assert query.fields == ("Id", "Email")
    assert (query.limit, query.offset) == (1, 0)
    assert query.where == And((Comparison("Email", "=", "a"), Comparison("Id", "!=", "b")))


def test_angle_brackets_mean_not_equal() -> None:
    assert parse("SELECT Id FROM Lead WHERE Email <> 'a'").where == Comparison("Email", "!=", "a")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SELECT Id FORM Lead", "unexpected token: 'FORM'"),
        ("SELECT FROM Lead", "unexpected token: 'FROM'"),
        ("SELECT Id, FROM Lead", "unexpected token: 'FROM'"),
        ("SELECT Id", "unexpected token: '<EOF>'"),
        ("SELECT Id FROM", "unexpected token: '<EOF>'"),
        ("FROM Lead", "unexpected token: 'FROM'"),
        ("", "unexpected token: '<EOF>'"),
        ("SELECT Id FROM Lead WHERE", "unexpected token: '<EOF>'"),
        ("SELECT Id FROM Lead garbage", "unexpected token: 'garbage'"),
        ("SELECT Id FROM Lead;", "unexpected token: ';'"),
        ("SELECT Id FROM Lead WHERE Name = 'open", "mismatched character '<EOF>' expecting '''"),
        ("SELECT Id FROM Lead WHERE Name = 'open\\'", "mismatched character '<EOF>' expecting '''"),
        (
            r"SELECT Id FROM Lead WHERE Name = 'a\qb'",
            r"Invalid string literal 'a\qb'. Illegal character sequence '\q' in string literal.",
        ),
        ("SELECT Id FROM Lead WHERE Name == 'a'", "unexpected token: '='"),
        ("SELECT Id FROM Lead WHERE Name CONTAINS 'a'", "unexpected token: 'CONTAINS'"),
        ("SELECT Id FROM Lead WHERE Name ! 'a'", "unexpected token: '!'"),
        ("SELECT Id FROM Lead WHERE Name = Email", "unexpected token: 'Email'"),
        ("SELECT Id FROM Lead WHERE Name LIKE 5", "unexpected token: '5'"),
        ("SELECT Id FROM Lead WHERE Name IN ()", "unexpected token: ')'"),
        ("SELECT Id FROM Lead WHERE Name IN 'a'", "unexpected token: 'a'"),
        ("SELECT Id FROM Lead WHERE Name NOT 'a'", "unexpected token: 'a'"),
        ("SELECT Id FROM Lead WHERE (Name = 'a'", "unexpected token: '<EOF>'"),
        ("SELECT Id FROM Lead WHERE Name = 'a')", "unexpected token: ')'"),
        ("SELECT Id FROM Lead WHERE a = 1 AND b = 2 OR c = 3", "unexpected token: 'OR'"),
        ("SELECT Id FROM Lead WHERE a = 1 OR b = 2 AND c = 3", "unexpected token: 'AND'"),
        ("SELECT Id FROM Lead WHERE (a = 1 OR b = 2 AND c = 3)", "unexpected token: 'AND'"),
        ("SELECT Id FROM Lead WHERE d > 2026-11-22T12:00:00", "unexpected token: '2026-11-22T12:00:00'"),
        ("SELECT Id FROM Lead WHERE d > 2026-13-22", "unexpected token: '2026-13-22'"),
        ("SELECT Id FROM Lead WHERE d > 2026-11-22T25:00:00Z", "unexpected token: '2026-11-22T25:00:00Z'"),
        ("SELECT Id FROM Lead LIMIT 1.5", "unexpected token: '1.5'"),
        ("SELECT Id FROM Lead LIMIT -1", "unexpected token: '-1'"),
        ("SELECT Id FROM Lead LIMIT ten", "unexpected token: 'ten'"),
        ("SELECT Id FROM Lead LIMIT", "unexpected token: '<EOF>'"),
        ("SELECT Id FROM Lead OFFSET 1 LIMIT 1", "unexpected token: 'LIMIT'"),
        ("SELECT Id FROM Lead ORDER Id", "unexpected token: 'Id'"),
        ("SELECT Id FROM Lead ORDER BY Id NULLS", "unexpected token: '<EOF>'"),
        ("SELECT Id FROM Lead ORDER BY Id DESC ASC", "unexpected token: 'ASC'"),
        ("SELECT COUNT(Id) FROM Lead", "unexpected token: 'Id'"),
        ("SELECT Id, COUNT() FROM Lead", "unexpected token: '('"),
        ("SELECT (SELECT Id FROM Contacts) FROM Account", "unexpected token: '('"),
        ("SELECT Id, Email, id FROM Lead", "duplicate field selected: id"),
    ],
)
def test_malformed_queries_are_refused_naming_the_problem(text: str, message: str) -> None:
    assert refused(text).message == message


def test_the_error_carries_its_code_and_message() -> None:
    error = SoqlError("INVALID_FIELD", "No such column 'Shoe__c' on entity 'Lead'")

    assert (error.error_code, error.message, str(error)) == (
        "INVALID_FIELD",
        "No such column 'Shoe__c' on entity 'Lead'",
        "No such column 'Shoe__c' on entity 'Lead'",
    )


# --- evaluation ----------------------------------------------------------------------------------

PEOPLE = [
    lead("1", LastName="Lee", Email="LEE@Example.com", Score__c=10, Rating__c=2.5, IsDeleted=False),
    lead("2", LastName="o'brien", Email=None, Score__c=None, Rating__c=None, IsDeleted=True),
    lead("3", LastName="Zed", Email="zed@example.com", Score__c=-3, Rating__c=10.0, IsDeleted=False),
]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        # Strings compare case-insensitively.
        ("Email = 'lee@example.com'", ["1"]),
        ("email = 'LEE@EXAMPLE.COM'", ["1"]),
        ("LastName = 'O\\'Brien'", ["2"]),
        ("Email IN ('ZED@example.com', 'nobody@example.com')", ["3"]),
        ("LastName > 'm'", ["2", "3"]),
        ("LastName <= 'LEE'", ["1"]),
        # Null: only `= null` and the negative operators keep null values.
        ("Email = null", ["2"]),
        ("Email != null", ["1", "3"]),
        ("Email != 'lee@example.com'", ["2", "3"]),
        ("Email <> 'lee@example.com'", ["2", "3"]),
        ("Email NOT IN ('lee@example.com')", ["2", "3"]),
        ("Email IN ('lee@example.com', null)", ["1", "2"]),
        ("Email NOT IN (null)", ["1", "3"]),
        ("Score__c < 100", ["1", "3"]),
        ("Score__c >= -100", ["1", "3"]),
        ("NOT Score__c > 0", ["2", "3"]),
        # Numbers compare numerically, integers against decimals too.
        ("Score__c > -3", ["1"]),
        ("Score__c >= -3", ["1", "3"]),
        ("Score__c = 10.0", ["1"]),
        ("Rating__c = 10", ["3"]),
        ("Rating__c < 2.75", ["1"]),
        ("Score__c IN (10, -3)", ["1", "3"]),
        # Booleans compare with true and false only.
        ("IsDeleted = true", ["2"]),
        ("IsDeleted = FALSE", ["1", "3"]),
        ("IsDeleted != false", ["2"]),
        ("IsDeleted = 'true'", []),
        ("IsDeleted = 1", []),
        # A value of another type never compares.
        ("Score__c = '10'", []),
        ("LastName > 5", []),
        # AND, OR, NOT and parentheses.
        ("Score__c > 0 OR Email = null", ["1", "2"]),
        ("(Score__c > 0 OR Email = null) AND IsDeleted = false", ["1"]),
        ("NOT (Score__c > 0 OR Email = null)", ["3"]),
        ("Score__c != null AND (LastName = 'zed' OR (LastName = 'lee' AND Score__c = 99))", ["3"]),
        ("NOT NOT IsDeleted = true", ["2"]),
    ],
)
def test_comparisons_follow_salesforce(condition: str, expected: list[str]) -> None:
    assert where(condition, PEOPLE) == expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("'lee%'", ["1"]),
        ("'%EXAMPLE.COM'", ["1", "3"]),
        ("'%@%'", ["1", "3"]),
        ("'_ee@example.com'", ["1"]),
        ("'lee'", []),
        ("'%'", ["1", "3"]),
        ("'z_d@%'", ["3"]),
    ],
)
def test_like_matches_wildcards_case_insensitively_and_never_null(pattern: str, expected: list[str]) -> None:
    assert where(f"Email LIKE {pattern}", PEOPLE) == expected


def test_like_escapes_take_wildcards_literally() -> None:
    records = [
        lead("1", Name="100% sure"),
        lead("2", Name="1000 sure"),
        lead("3", Name="a_b"),
        lead("4", Name="axb"),
    ]

    assert where(r"Name LIKE '100\%%'", records) == ["1"]
    assert where(r"Name LIKE 'a\_b'", records) == ["3"]
    assert where(r"Name LIKE 'a_b'", records) == ["3", "4"]
    assert where(r"Name LIKE '%.%'", [*records, lead("5", Name="a.b")]) == ["5"]


def test_like_only_matches_strings_and_spans_lines() -> None:
    records = [lead("1", Name="two\nlines"), lead("2", Name=None), lead("3", Name=5)]

    assert where("Name LIKE '%'", records) == ["1"]
    assert where(r"Name LIKE 'two\nlines'", records) == ["1"]


@pytest.mark.parametrize(
    "literal",
    [
        "2026-11-22T12:00:00Z",
        "2026-11-22T12:00:00.000Z",
        "2026-11-22T12:00:00+00:00",
        "2026-11-22T12:00:00.000+0000",
        "2026-11-22T07:00:00-05:00",
        "2026-11-22T13:00:00+0100",
    ],
)
def test_date_times_compare_as_instants(literal: str) -> None:
    records = [lead(str(n), SystemModstamp=stamp(NOON + timedelta(seconds=n - 2))) for n in range(1, 4)]
    records.append(lead("4", SystemModstamp=None))

    assert where(f"SystemModstamp = {literal}", records) == ["2"]
    assert where(f"SystemModstamp > {literal}", records) == ["3"]
    assert where(f"SystemModstamp <= {literal}", records) == ["1", "2"]
    assert where(f"SystemModstamp != {literal}", records) == ["1", "3", "4"]
    assert where(f"SystemModstamp IN ({literal})", records) == ["2"]


def test_fractions_of_a_second_count() -> None:
    records = [lead("1", SystemModstamp="2026-11-22T12:00:00.500+0000")]

    assert where("SystemModstamp > 2026-11-22T12:00:00Z", records) == ["1"]
    assert where("SystemModstamp < 2026-11-22T12:00:00.501Z", records) == ["1"]
    assert where("SystemModstamp = 2026-11-22T12:00:00.5Z", records) == ["1"]


def test_dates_compare_as_days_and_never_with_date_times() -> None:
    records = [
        lead("1", CloseDate="2026-11-21"),
        lead("2", CloseDate="2026-11-22"),
        lead("3", CloseDate=None),
        lead("4", CloseDate=stamp(NOON)),
    ]

    assert where("CloseDate = 2026-11-22", records) == ["2"]
    assert where("CloseDate < 2026-11-22", records) == ["1"]
    assert where("CloseDate >= 2026-11-21", records) == ["1", "2"]
    assert where("CloseDate < 2026-11-23T00:00:00Z", records) == ["4"]


def test_field_names_resolve_case_insensitively_and_through_relationships() -> None:
    records = [
        lead("1", Owner={"Email": "a@example.com", "Manager": {"Name": "Boss"}}),
        lead("2", Owner=None),
        lead("3"),
    ]

    assert where("owner.email = 'A@example.com'", records) == ["1"]
    assert where("Owner.Manager.Name = 'boss'", records) == ["1"]
    assert where("Owner.Email = null", records) == ["2", "3"]
    assert where("Owner.Email.Domain = null", records) == ["1", "2", "3"]
    assert where("LASTNAME = null AND systemmodstamp = null", records) == ["1", "2", "3"]
    assert where("Unknown__c = null", records) == ["1", "2", "3"]


def test_ids_compare_case_sensitively_and_15_characters_name_the_18_character_id() -> None:
    # The emulator's Ids count in base 62 in ASCII order: digits, then upper, then lower case.
    upper, lower = "00Q8d000000000AAAA", "00Q8d000000000aAAA"
    records = [lead(upper), lead(lower)]

    assert where(f"Id = '{upper}'", records) == [upper]
    assert where(f"Id = '{upper[:15]}'", records) == [upper]
    assert where(f"Id > '{upper}'", records) == [lower]
    assert where(f"Id IN ('{lower.upper()}')", records) == []
    assert where(f"MasterRecordId = '{lower}'", [lead("x", MasterRecordId=lower)]) == ["x"]


# --- ordering, offset, limit ---------------------------------------------------------------------


def sort(order_by: str, records: list[Mapping[str, Any]]) -> list[str]:
    return ids(parse(f"SELECT Id FROM Lead ORDER BY {order_by}").sort(records))


SCORES: list[Mapping[str, Any]] = [
    lead("a", Score__c=2, LastName="beta"),
    lead("b", Score__c=None, LastName="Alpha"),
    lead("c", Score__c=1, LastName="alpha"),
    lead("d", Score__c=2, LastName=None),
    lead("e", Score__c=None, LastName="Gamma"),
]


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        ("Score__c", ["b", "e", "c", "a", "d"]),
        ("Score__c ASC NULLS LAST", ["c", "a", "d", "b", "e"]),
        ("Score__c DESC", ["a", "d", "c", "b", "e"]),
        ("Score__c DESC NULLS FIRST", ["b", "e", "a", "d", "c"]),
        # Strings sort case-insensitively; ties keep the input order in both directions.
        ("LastName", ["d", "b", "c", "a", "e"]),
        ("LastName DESC", ["e", "a", "b", "c", "d"]),
        ("lastname desc nulls first", ["d", "e", "a", "b", "c"]),
        ("Score__c DESC, LastName", ["d", "a", "c", "b", "e"]),
        ("Score__c, LastName DESC", ["e", "b", "c", "a", "d"]),
    ],
)
def test_order_by(order_by: str, expected: list[str]) -> None:
    assert sort(order_by, SCORES) == expected


def test_sorting_leaves_its_input_alone() -> None:
    records = list(SCORES)

    sort("Score__c", records)

    assert records == SCORES


def test_date_times_sort_by_instant() -> None:
    records: list[Mapping[str, Any]] = [
        lead("late", SystemModstamp="2026-11-22T12:00:00.000+0000"),
        lead("early", SystemModstamp="2026-11-22T12:00:00.000+0100"),
        lead("same", SystemModstamp="2026-11-22T11:00:00Z"),
        lead("none", SystemModstamp=None),
    ]

    assert sort("SystemModstamp", records) == ["none", "early", "same", "late"]
    assert sort("SystemModstamp DESC", records) == ["late", "early", "same", "none"]


def test_ids_sort_case_sensitively() -> None:
    records: list[Mapping[str, Any]] = [
        lead("00Q8d000000000aAAA"),
        lead("00Q8d000000000BAAA"),
        lead("00Q8d0000000009AAA"),
    ]

    assert sort("Id", records) == ["00Q8d0000000009AAA", "00Q8d000000000BAAA", "00Q8d000000000aAAA"]


def test_booleans_sort_false_first() -> None:
    records: list[Mapping[str, Any]] = [lead("t", IsDeleted=True), lead("f", IsDeleted=False)]

    assert sort("IsDeleted", records) == ["f", "t"]


@pytest.mark.parametrize(
    ("clauses", "expected"),
    [
        ("", ["a", "b", "c", "d", "e"]),
        ("LIMIT 2", ["a", "b"]),
        ("LIMIT 0", []),
        ("OFFSET 3", ["d", "e"]),
        ("LIMIT 2 OFFSET 1", ["b", "c"]),
        ("LIMIT 10 OFFSET 4", ["e"]),
        ("OFFSET 9", []),
        ("ORDER BY LastName DESC LIMIT 2 OFFSET 1", ["a", "b"]),
        ("WHERE Score__c != null ORDER BY Score__c DESC LIMIT 2", ["a", "d"]),
    ],
)
def test_apply_filters_then_sorts_then_offsets_then_limits(clauses: str, expected: list[str]) -> None:
    assert ids(parse(f"SELECT Id FROM Lead {clauses}").apply(iter(SCORES))) == expected


def test_count_applies_the_same_filter() -> None:
    assert len(parse("SELECT COUNT() FROM Lead WHERE Score__c = 2").apply(SCORES)) == 2


# --- what the connector sends --------------------------------------------------------------------


def test_format_soql_values_round_trip() -> None:
    values = [
        "plain",
        "o'brien@example.com",
        'say "hi"',
        "back\\slash",
        "tab\tnew\nline\rfeed\fbell\b",
        "100%_sure",
        "x' OR Name != '",
        "",
    ]
    query = parse(format_soql("SELECT Id FROM Lead WHERE Name IN {}", values))

    assert query.where == InList("Name", tuple(values), negated=False)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (5, 5),
        (-12, -12),
        (2.5, 2.5),
        (1e-05, 1e-05),
        (1e20, 1e20),
        (True, True),
        (False, False),
        (None, None),
        (datetime(2026, 11, 22, 7, 0, 0, 999, tzinfo=timezone(timedelta(hours=-5))), NOON),
        (date(2026, 11, 22), date(2026, 11, 22)),
    ],
)
def test_format_soql_scalars_parse_back(value: object, expected: object) -> None:
    text = format_soql("SELECT Id FROM Lead WHERE Field__c = {}", value)

    assert parse(text).where == Comparison("Field__c", "=", expected)  # type: ignore[arg-type]


def test_format_soql_like_escapes_match_literally() -> None:
    records = [lead("1", Name="50%_off"), lead("2", Name="50% off"), lead("3", Name="50%_off now")]
    text = format_soql("SELECT Id FROM Lead WHERE Name LIKE '{:like}%'", "50%_off")

    assert ids(parse(text).apply(records)) == ["1", "3"]


def test_the_examples_from_the_brief() -> None:
    keyset = parse(
        "SELECT Id, LastName, Email, SystemModstamp, IsDeleted, MasterRecordId FROM Lead WHERE "
        "((SystemModstamp > 2026-11-22T12:00:00+00:00) OR (SystemModstamp = 2026-11-22T12:00:00+00:00 "
        "AND Id > '00Q000000000001AAA')) AND SystemModstamp < 2026-11-22T12:05:00+00:00 "
        "ORDER BY SystemModstamp, Id"
    )
    emails = parse(r"SELECT Id, Email FROM Lead WHERE Email IN ('o\'brien@example.com', 'x\' OR Name != \'')")

    assert keyset.where == And(
        (
            Or(
                (
                    Comparison("SystemModstamp", ">", NOON),
                    And(
                        (Comparison("SystemModstamp", "=", NOON), Comparison("Id", ">", "00Q000000000001AAA"))
                    ),
                )
            ),
            Comparison("SystemModstamp", "<", NOON + timedelta(minutes=5)),
        )
    )
    assert emails.where == InList("Email", ("o'brien@example.com", "x' OR Name != '"), negated=False)


def test_where_in_finds_records_by_key_whatever_the_quoting() -> None:
    records = [
        lead("1", Email="o'brien@example.com"),
        lead("2", Email="x' OR Name != '"),
        lead("3", Email="plain@example.com"),
        lead("4", Email='back\\slash"@example.com'),
        lead("5", Email=None),
    ]
    text = builder.where_in(
        "Lead", ["Email"], "Email", ["O'Brien@example.com", "x' OR Name != '", 'back\\slash"@example.com']
    )

    query = parse(text)

    assert (query.sobject, query.fields) == ("Lead", ("Id", "Email"))
    assert ids(query.apply(records)) == ["1", "2", "4"]


def test_where_in_with_numbers() -> None:
    records = [lead("1", Score__c=1), lead("2", Score__c=2.5), lead("3", Score__c=3)]

    query = parse(builder.where_in("Lead", ["Score__c"], "Score__c", [1, 2.5]))

    assert ids(query.apply(records)) == ["1", "2"]


CHANGES = [
    # Stored in Id order; stamps deliberately out of it, and shared.
    lead("00Q8d0000000001AAA", SystemModstamp=stamp(NOON + timedelta(seconds=2)), LastName="a"),
    lead("00Q8d0000000002AAA", SystemModstamp=stamp(NOON), LastName="b"),
    lead("00Q8d0000000003AAA", SystemModstamp=stamp(NOON + timedelta(seconds=1)), LastName="c"),
    lead("00Q8d0000000004AAA", SystemModstamp=stamp(NOON), LastName="d"),
    lead("00Q8d000000000aAAA", SystemModstamp=stamp(NOON + timedelta(seconds=1)), LastName="e"),
    lead("00Q8d000000000BAAA", SystemModstamp=stamp(NOON + timedelta(seconds=1)), LastName="f"),
    lead("00Q8d0000000005AAA", SystemModstamp=stamp(NOON + timedelta(seconds=5)), LastName="g"),
]


def changed(since: Watermark | None, until: datetime) -> list[str]:
    text = builder.changed_since("Lead", ["LastName", "Email", "Id"], since, until)
    query = parse(text)
    assert query.fields == ("Id", "SystemModstamp", "LastName", "Email")
    return [str(r["LastName"]) for r in query.apply(CHANGES)]


def test_changed_since_the_beginning_reads_in_stamp_then_id_order_up_to_until() -> None:
    assert changed(None, NOON + timedelta(seconds=5)) == ["b", "d", "c", "f", "e", "a"]
    assert changed(None, NOON + timedelta(seconds=1)) == ["b", "d"]
    assert changed(None, NOON) == []


def test_changed_since_a_stamp_alone_includes_that_stamp() -> None:
    assert changed(Watermark(NOON + timedelta(seconds=1)), NOON + timedelta(seconds=9)) == [
        "c",
        "f",
        "e",
        "a",
        "g",
    ]


def test_changed_since_a_watermark_resumes_after_its_id_within_the_same_stamp() -> None:
    until = NOON + timedelta(seconds=9)
    second = NOON + timedelta(seconds=1)

    assert changed(Watermark(NOON, "00Q8d0000000002AAA"), until) == ["d", "c", "f", "e", "a", "g"]
    assert changed(Watermark(second, "00Q8d0000000003AAA"), until) == ["f", "e", "a", "g"]
    assert changed(Watermark(second, "00Q8d000000000BAAA"), until) == ["e", "a", "g"]
    assert changed(Watermark(second, "00Q8d000000000aAAA"), until) == ["a", "g"]


def test_changed_since_accepts_watermarks_in_any_zone() -> None:
    local = timezone(timedelta(hours=-8))

    assert changed(
        Watermark(NOON.astimezone(local), "00Q8d0000000004AAA"), NOON.astimezone(local) + timedelta(seconds=2)
    ) == [
        "c",
        "f",
        "e",
    ]


def test_paging_by_watermark_visits_every_record_once() -> None:
    until = NOON + timedelta(seconds=9)
    seen: list[str] = []
    since: Watermark | None = None
    while True:
        query = parse(builder.changed_since("Lead", ["LastName"], since, until) + " LIMIT 2")
        page = query.apply(CHANGES)
        if not page:
            break
        seen.extend(str(r["LastName"]) for r in page)
        last = page[-1]
        since = Watermark(
            datetime.strptime(str(last["SystemModstamp"]), "%Y-%m-%dT%H:%M:%S.%f%z"), str(last["Id"])
        )

    assert seen == ["b", "d", "c", "f", "e", "a", "g"]
