"""Issue 17: arbitrary JSON into each boundary model gives either the model or the documented
error (a one-line ServiceError naming the service), never anything else."""
from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ostk.errors import ServiceError
from recheck.gerrit import GerritClient
from recheck.launchpad import LaunchpadClient
from recheck.zuul import build_from_json

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
# Documents shaped like the real ones, with any value in any field.
BUILD = st.fixed_dictionaries(
    {"uuid": JSON, "job_name": JSON},
    optional={"result": JSON, "log_url": JSON, "voting": JSON, "final": JSON, "end_time": JSON,
              "artifacts": JSON, "ref": JSON, "change": JSON, "patchset": JSON},
)
CHANGE = st.fixed_dictionaries(
    {"_number": JSON},
    optional={"project": JSON, "messages": JSON, "current_revision": JSON, "revisions": JSON, "status": JSON},
)
SEARCH = st.fixed_dictionaries({"entries": st.lists(st.fixed_dictionaries(
    {}, optional={"bug_link": JSON, "title": JSON, "status": JSON, "date_created": JSON}), max_size=3) | JSON})


def _one_line_or_model(call: Any) -> None:
    try:
        call()
    except ServiceError as exc:
        assert "\n" not in str(exc)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(BUILD, JSON))
def test_zuul_build(document):
    def call() -> None:
        build = build_from_json(document)
        assert isinstance(build.job_name, str) and (build.log_url is None or isinstance(build.log_url, str))
        assert build.change is None or isinstance(build.change, int)

    _one_line_or_model(call)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(CHANGE, JSON))
def test_gerrit_change(document):
    client = GerritClient("http://gerrit.invalid")

    def call() -> None:
        change = client._change_from(document)
        assert isinstance(change.number, int) and isinstance(change.current_patchset, int)
        assert all(isinstance(m.message, str) for m in change.messages)

    _one_line_or_model(call)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(SEARCH, JSON))
def test_launchpad_search(document):
    client = LaunchpadClient("http://launchpad.invalid")
    client._get = lambda *a, **k: document  # type: ignore[method-assign]

    def call() -> None:
        for task in client.search_tasks("nova", "words"):
            assert isinstance(task.number, int) and isinstance(task.title, str)

    _one_line_or_model(call)
