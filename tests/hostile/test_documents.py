"""ostk.documents: hostile JSON and YAML are refused in one line, fast, in bounded memory."""
from __future__ import annotations

import json
import resource
import time

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ostk.documents import load_yaml, parse_json, validate
from ostk.errors import InputError, OstkError, ServiceError


class Message(msgspec.Struct):
    message: str
    _revision_number: int | None = None
    tag: str | None = None


class Change(msgspec.Struct):
    """A sample boundary model, shaped like a Gerrit change."""

    _number: int
    project: str = ""
    messages: list[Message] = []
    current_revision: str | None = None
    revisions: dict[str, dict[str, int | str | None]] = {}


# parse_json --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested deeper than 64"),
        (b'{"a":' * 65 + b"1" + b"}" * 65, "nested deeper than 64"),
        (b'{"a": 1', "not valid JSON"),
        (b"1" + b"0" * 5000, "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"<html>", "not valid JSON"),
    ],
)
def test_bad_json_is_refused_with_the_callers_error(data, needle):
    with pytest.raises(ServiceError) as info:
        parse_json(data, source="reading the Zuul build", error=ServiceError)
    assert str(info.value).startswith("reading the Zuul build: ")
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("unit", "needle"),
    [(b"{},", "objects and arrays"), (b'{"k":"v"},', "objects and arrays"), (b"0,", "values"),
     (b'"a\\"b[",', "values"), (b"[" * 64 + b"]" * 64 + b",", "objects and arrays")],
)
def test_32_mib_of_tiny_values_is_refused_before_it_is_built(unit, needle):
    # Decoded, 32 MiB of '{},' is 11 million dicts: 1.5 GB and 4 s.
    data = b"[" + unit * ((32 * 1024 * 1024) // len(unit)) + b"0]"
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(ServiceError, match=needle):
        parse_json(data, source="answer", error=ServiceError)
    assert time.monotonic() - started < 3
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KB


def test_a_realistic_large_document_is_accepted():
    # A keystone revocation list of 100,000 tokens (~12 MB).
    entry = b'{"id": "%032x", "expires": "2038-01-18T21:14:07Z", "audit_id": "SLIXlXQUQZWUi9VJrqdXqA"}'
    data = b'{"revoked": [' + b", ".join(entry % i for i in range(100_000)) + b"]}"
    assert len(parse_json(data, source="x", error=ServiceError)["revoked"]) == 100_000


@pytest.mark.parametrize(
    "text",
    [b'["' + b"[" * 100 + b'"]', b'{"' + b"{" * 100 + b'": 1}', b'["\\\\", "' + b"[" * 100 + b'\\"' + b"[" * 100 + b'"]'],
)
def test_brackets_inside_strings_do_not_count(text):
    assert parse_json(text, source="x", error=ServiceError)


def test_structure_scan_is_exact_across_chunks(monkeypatch):
    import ostk.documents as documents

    monkeypatch.setattr(documents, "_CHUNK", 3)
    text = b'["[[[[[", "]]]]", {"{{{{": ["x"]}, "\\\"[["]'
    assert parse_json(text, source="x", error=ServiceError, max_depth=3) == json.loads(text)
    with pytest.raises(ServiceError, match="deeper than 2"):
        parse_json(text, source="x", error=ServiceError, max_depth=2)


def test_json_at_the_depth_limit_is_accepted():
    assert parse_json(b"[" * 64 + b"]" * 64, source="x", error=InputError) is not None


# load_yaml ---------------------------------------------------------------------
def _laughs(levels: int, fanout: int = 10) -> str:
    lines = ["l0: &l0 [" + ", ".join(["lol"] * fanout) + "]"]
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * fanout) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_fast_and_small():
    text = _laughs(10)  # 10**10 nodes once expanded
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(InputError, match="expand to more than"):
        load_yaml(text, source="sigs.yaml", error=InputError)
    assert time.monotonic() - started < 0.5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 20_000  # KB


def test_billion_laughs_within_the_alias_count_is_refused_by_its_expansion():
    # 2 aliases per level, 40 levels: 80 aliases (under the limit) but 2**40 nodes.
    text = "a0: &a0 [x, x]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]\n" for i in range(1, 40))
    with pytest.raises(InputError, match=r"expand to more than|nested deeper"):
        load_yaml(text, source="sigs.yaml", error=InputError)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("a: &a [*a]\n", "refers to its own parent"),
        ("[" * 100 + "]" * 100, "nested deeper than 64"),
        ("- " * 200 + "x", "nested deeper than 64"),
        ("".join(f"k{i}: &k{i} x\n" for i in range(150)) + "v: [" + ", ".join(f"*k{i}" for i in range(150)) + "]",
         "more than 100 YAML aliases"),
        ("a: b: c\n", "not valid YAML at line 1"),
        ("a: !!python/object/apply:os.system [echo]\n", "not valid YAML"),
        ("\x00\x01binary", "not valid YAML"),
        ("when: 2020-99-99\n", "bad YAML value"),
    ],
)
def test_bad_yaml_is_refused_in_one_line(text, needle):
    with pytest.raises(InputError) as info:
        load_yaml(text, source="clouds.yaml", error=InputError)
    assert str(info.value).startswith("clouds.yaml: ")
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_ordinary_yaml_with_a_few_aliases_still_loads():
    text = "base: &base {auth_url: http://k/v3, region_name: R}\nclouds:\n  a: *base\n  b: {<<: *base, x: 1}\n"
    data = load_yaml(text, source="clouds.yaml", error=InputError)
    assert data["clouds"]["b"] == {"auth_url": "http://k/v3", "region_name": "R", "x": 1}


# validate ----------------------------------------------------------------------
def test_shape_errors_name_the_source_and_the_path():
    with pytest.raises(ServiceError) as info:
        validate({"_number": "abc"}, Change, source="Gerrit change 1", error=ServiceError)
    assert str(info.value) == "Gerrit change 1: Expected `int`, got `str` - at `$._number`"
    with pytest.raises(ServiceError, match=r"at `\$.messages`"):
        validate({"_number": 1, "messages": {"a": 1}}, Change, source="g", error=ServiceError)
    with pytest.raises(ServiceError, match=r"at `\$.messages\[0\]`"):
        validate({"_number": 1, "messages": [1, 2]}, Change, source="g", error=ServiceError)


def test_valid_documents_become_models_and_unknown_fields_are_ignored():
    change = validate(
        {"_number": 7, "messages": [{"message": "hi", "_revision_number": 2}], "new_field": [1]},
        Change, source="g", error=ServiceError,
    )
    assert change._number == 7 and change.messages[0]._revision_number == 2


def test_huge_integers_are_refused_by_both_parsers():
    # A 5,000-digit number cannot even be printed by Python (4,300-digit limit).
    with pytest.raises(ServiceError, match="not valid JSON"):
        parse_json(b'{"_number": 1' + b"0" * 5000 + b"}", source="g", error=ServiceError)
    with pytest.raises(InputError, match="bad YAML value"):
        load_yaml("n: 1" + "0" * 5000, source="f.yaml", error=InputError)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)
# Documents close to the model's shape, so hypothesis also explores near misses.
NEAR = st.fixed_dictionaries(
    {"_number": JSON},
    optional={"messages": st.lists(st.fixed_dictionaries({"message": JSON}, optional={"tag": JSON}) | JSON),
              "revisions": JSON, "current_revision": JSON, "project": JSON},
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(JSON, NEAR))
def test_any_json_becomes_a_model_or_the_documented_error(document):
    try:
        change = validate(document, Change, source="Gerrit change", error=ServiceError)
    except ServiceError as exc:
        assert str(exc).startswith("Gerrit change: ")
        assert "\n" not in str(exc)
    else:
        assert isinstance(change, Change) and isinstance(change._number, int)
        assert all(isinstance(m.message, str) for m in change.messages)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes_parse_or_raise_the_documented_error(data):
    try:
        parse_json(data, source="answer", error=ServiceError)
    except ServiceError as exc:
        assert str(exc).startswith("answer: ") and "\n" not in str(exc)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_loads_as_yaml_or_raises_the_documented_error(text):
    try:
        load_yaml(text, source="f.yaml", error=InputError)
    except OstkError as exc:
        assert isinstance(exc, InputError)
        assert str(exc).startswith("f.yaml: ") and "\n" not in str(exc)
