"""recheck.lucene: elastic-recheck's Lucene queries as alternatives of plain conditions."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from recheck.lucene import MAX_ALTERNATIVES, Alternative, QueryError, parse_query


def test_lucene_and_or_not_and_filters():
    q = parse_query(
        '(message:"Unable to lock the administration directory (/var/lib/dpkg/), is another process using it"\n'
        ' OR message:"dpkg: error: dpkg status database is locked by another process")\n AND tags:"console"'
    )
    assert q.alternatives == (
        Alternative(
            phrases=("Unable to lock the administration directory (/var/lib/dpkg/), is another process using it",),
            files=("console",),
        ),
        Alternative(phrases=("dpkg: error: dpkg status database is locked by another process",), files=("console",)),
    )
    q = parse_query(
        "message:\"(OperationalError) (1205, 'Lock wait timeout exceeded')\" AND NOT\n"
        '  message:"Traceback (most recent call last" AND tags:"screen-q-svc.txt" AND\n'
        '  (build_name: gate-a OR build_name: gate-b) AND project:"openstack/neutron"'
    )
    assert [a.builds for a in q.alternatives] == [("gate-a",), ("gate-b",)]
    assert q.alternatives[0].forbidden == ("Traceback (most recent call last",)
    assert q.ignored_fields == ("project",)
    q = parse_query('message:"slave.log \\(No such file or directory\\)" AND filename:logs*screen-c-vol.txt')
    assert q.alternatives[0].phrases == ("slave.log (No such file or directory)",)
    assert q.alternatives[0].files == ("logs*screen-c-vol.txt",)


@pytest.mark.parametrize("bad", ['message:"unterminated', "(message:x", "AND", "message:"])
def test_lucene_errors(bad):
    with pytest.raises(QueryError):
        parse_query(bad)



def test_field_groups_operators_and_negation_spellings():
    q = parse_query('message:("a b" OR "c d") && -tags:"screen-n-api.txt" || build_name:x* AND "e f"')
    assert q.alternatives == (
        Alternative(phrases=("a b",), files_not=("screen-n-api.txt",)),
        Alternative(phrases=("c d",), files_not=("screen-n-api.txt",)),
        Alternative(phrases=("e f",), builds=("x*",)),
    )
    # NOT over a group follows De Morgan: NOT (a OR b) = NOT a AND NOT b.
    q = parse_query('message:"x" AND NOT (message:"y" OR message:"z")')
    assert q.alternatives == (Alternative(phrases=("x",), forbidden=("y", "z")),)


def test_blanks_inside_a_phrase_are_one_blank_and_escapes_are_read():
    q = parse_query('message:"a\\"quoted\\"   \n  word"')
    assert q.alternatives[0].phrases == ('a"quoted" word',)


def test_an_alternative_without_a_message_phrase_is_dropped():
    q = parse_query('tags:"console" OR message:"m"')
    assert q.alternatives == (Alternative(phrases=("m",)),)
    assert parse_query('tags:"console"').alternatives == ()


def test_too_many_alternatives_is_refused():
    ors = " OR ".join(f'message:"p{i}"' for i in range(3))
    query = " AND ".join(f"({ors})" for _ in range(5))  # 3**5 = 243 alternatives
    assert 3**5 > MAX_ALTERNATIVES
    with pytest.raises(QueryError, match="too many alternatives"):
        parse_query(query)


def test_every_shipped_elastic_recheck_query_parses(shared_fixtures: Path):
    queries = sorted((shared_fixtures / "recheck" / "elastic-recheck" / "queries").glob("*.yaml"))
    assert len(queries) == 921
    for path in queries:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        parsed = parse_query(doc["query"])
        assert parsed.alternatives, path.name
        assert all(a.phrases for a in parsed.alternatives), path.name
