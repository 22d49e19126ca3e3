"""What the text scan looks for, as data: cheap byte markers and named line rules.

A line without any marker is never looked at in Python. Each marker costs
one ``bytes.find`` pass over every block (C speed, about as much as
decompressing), so the list is as short as the failure formats allow. Some
markers are switched on only once a failure announced them, so that logs
without failures do not pay for them. Both tables are plain data so that a
multi-pattern matcher can compile them together with the signatures.

The formats, and where they come from:

- stestr/subunit-trace (mtreinish/stestr ``stestr/subunit_trace.py``):
  ``{N} test.id [1.23s] ... FAILED``; attachments indented four spaces under
  ``Captured traceback:`` titles; ``Failed N tests - output below:``; ``Totals``.
- unittest: ``FAIL: test (module.Class)`` / ``ERROR:`` between rules.
- pytest: ``FAILED path::test - msg``. tox 4: ``py3: FAIL code 1``; tox 3:
  ``ERROR:   py3: commands failed``.
- Zuul's job-output.txt (zuul/zuul ``zuul/ansible/*/callback/zuul_stream.py``):
  ``<host> | ERROR`` + indented JSON, ``fatal: [host]: FAILED! => {…}``, a loop item's
  ``failed: [host] (item=…) => {…}`` (ansible's default callback), or, with
  ansible's ``yaml`` stdout callback, ``FAILED! =>`` and the result indented below),
  ``PLAY RECAP`` lines ``host | ok: 3 changed: 1 unreachable: 0 failed: 1``, and
  ``RUN END RESULT_NORMAL: [playbook]`` banners (NORMAL even when a task failed).
- devstack (openstack/devstack ``stack.sh``, ``functions-common``): ``die`` prints
  ``[ERROR] file:line msg``; ``err_trap`` prints ``stack.sh failed``; a failure
  inside a function exits through ``exit_trap``, which prints ``Error on exit``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Marker:
    """A byte string whose presence makes a line worth a look."""

    name: str
    needle: bytes
    #: "always"; "html" (Jenkins console.html only); or the trigger that switches it on.
    when: str = "always"


#: Triggers: a failure of this sort switches its markers on for the rest of the log.
AFTER_TEST_FAILURE = "after-test-failure"
AFTER_DEVSTACK_ERROR = "after-devstack-error"

MARKERS: tuple[Marker, ...] = (
    Marker("fail", b"FAIL"),  # FAILED, FAIL:, FAIL code, NODE_FAILURE, fatal: [host]: FAILED!
    Marker("error", b"ERROR"),  # [ERROR], "| ERROR", ERROR: (unittest, tox 3)
    # Longer needles are searched faster (bigger skips): spell these out in full.
    Marker("run-end", b"END RESULT_"),  # RUN END RESULT_TIMED_OUT / RESULT_UNREACHABLE
    Marker("unreachable", b"UNREACHABLE!"),  # ansible's fatal: [host]: UNREACHABLE!
    Marker("zuul-task", b"| TASK ["),  # context: the ansible task a failure belongs to
    Marker("devstack-exit-trap", b"Error on exit"),
    Marker("play-recap", b" unreachable: "),  # Zuul's recap: "failed: 1" is the job's verdict
    Marker("ignoring", b"...ignoring"),  # the failure just above was ignored_errors
    Marker("ansible-item", b"failed: ["),  # a loop item's failure: "failed: [host] (item=…) => {…}"
    Marker("failed-section", b"Failed ", AFTER_TEST_FAILURE),
    Marker("runner-crash", b"Length too long"),  # python-subunit: a worker died reporting a test
    Marker("stack-failed", b"stack.sh failed", AFTER_DEVSTACK_ERROR),
    # Jenkins-era consoles (console.html) say some things only in these words.
    Marker("html-failed", b"ailed", "html"),
    Marker("html-task", b"TASK [", "html"),
    Marker("html-fatal", b"FATAL", "html"),
    Marker("html-offline", b"offline", "html"),
    Marker("html-killed", b"Killed", "html"),
    Marker("html-play", b"PLAY [", "html"),
)


def needles(*, html_input: bool = False, triggers: frozenset[str] = frozenset()) -> tuple[bytes, ...]:
    """The needles to search for, given the input kind and the triggers seen so far."""
    return tuple(
        m.needle
        for m in MARKERS
        if m.when == "always" or (html_input and m.when == "html") or m.when in triggers
    )


def triggered_by(trigger: str) -> tuple[bytes, ...]:
    """The needles that ``trigger`` switches on."""
    return tuple(m.needle for m in MARKERS if m.when == trigger)


#: Every needle: lines handed over outside a marker hit are checked against these.
ANY_MARKER = re.compile(b"|".join(re.escape(m.needle) for m in MARKERS))

#: Named line rules, matched against a marker line with prefixes stripped.
RULES: dict[str, re.Pattern[str]] = {
    "subunit-trace-failed": re.compile(r"^\{\d+\} (.+?)(?: \[[\d.]+s\])? \.\.\. FAILED\b"),
    "subunit-trace-result": re.compile(r"^\{\d+\} "),
    "failed-section": re.compile(r"^Failed (\d+) tests? - output below:"),
    "unittest": re.compile(r"^(FAIL|ERROR): (\S+)(?: \(([\w.]+)\))?\s*$"),
    "pytest": re.compile(r"^FAILED (\S+::\S+|\S+\.py\S*)(?: - (.*))?$"),
    "tox4": re.compile(r"^([\w.-]+): FAIL code (\d+)"),
    "tox3": re.compile(r"^ERROR:\s+([\w.-]+): (commands failed|InvocationError.*)"),
    "ansible-fatal": re.compile(
        r"^(fatal|failed): \[([^\]]+)\](?: \(item=.*?\))?(?:: (FAILED|UNREACHABLE)!)? =>(?: (.*))?$"
    ),
    "devstack-error": re.compile(r"^(?:\+ )?(?:[\w.-]+:\w+:\d+ +: +echo +')?\[ERROR\] (\S+?:\d+) (.*?)'?$"),
    "stack-failed": re.compile(r"stack\.sh failed"),
    "devstack-exit-trap": re.compile(r"^Error on exit\s*$"),
    "run-end": re.compile(r"^((?:PRE-|POST-)?RUN) END RESULT_(\w+): \[([^\]]*)\]"),
    "play-recap": re.compile(r"\bunreachable: (\d+) failed: (\d+)"),
    "ignoring": re.compile(r"^\.\.\.ignoring\s*$"),
    "runner-crash": re.compile(r"^(?:ValueError: )?Length too long: \d+"),
    "task": re.compile(r"^TASK \[(.*)\]"),
    "play": re.compile(r"^PLAY \[(.*)\]"),
    "infra": re.compile(
        r"NODE_FAILURE|RETRY_LIMIT|went offline during the build|Slave went offline|"
        r"Build timed out \(after|Killed\s+timeout -s 9"
    ),
    # Lines that always start something new: they close any open block.
    "starts": re.compile(
        r"^(?:\{\d+\} |FAIL: |ERROR: |Failed \d+ tests? - output below|(?:PRE-|POST-)?RUN (?:START|END)|"
        r"TASK \[|PLAY \[)"
    ),
}
