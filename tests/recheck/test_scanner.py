"""Each failure format the text scan knows (see DESIGN.md, "Job output")."""
from __future__ import annotations

import json

import recheck
from recheck import FailureKind


def scan(text: str, name: str = "job-output.txt"):
    return recheck.analyze_stream([text.encode("utf-8")], name=name)


def kinds_ids(analysis):
    return [(f.kind, f.id) for f in analysis.failures]


def test_unittest_fail_and_error_blocks_attach_their_tracebacks():
    log = """\
======================================================================
FAIL: test_create (nova.tests.unit.test_api.ApiTest)
----------------------------------------------------------------------
Traceback (most recent call last):
  File "nova/tests/unit/test_api.py", line 10, in test_create
    self.assertEqual(1, 2)
AssertionError: 1 != 2

======================================================================
ERROR: nova.tests.unit.test_db.DbTest.test_open
----------------------------------------------------------------------
Traceback (most recent call last):
  File "nova/tests/unit/test_db.py", line 3, in test_open
    raise OSError("disk")
OSError: disk

----------------------------------------------------------------------
Ran 2 tests in 0.1s

FAILED (failures=1, errors=1)
"""
    a = scan(log)
    assert kinds_ids(a) == [
        (FailureKind.TEST, "nova.tests.unit.test_api.ApiTest.test_create"),
        (FailureKind.TEST, "nova.tests.unit.test_db.DbTest.test_open"),
    ]
    first, second = a.failures
    assert first.message == "AssertionError: 1 != 2" and first.line == 2
    assert "self.assertEqual(1, 2)" in first.excerpt and "OSError" not in first.excerpt
    assert second.message == "OSError: disk"
    assert "Ran 2 tests" not in second.excerpt


def test_pytest_short_summary_lines():
    log = (
        "=========================== short test summary info ============================\n"
        "FAILED tests/test_x.py::TestX::test_y - AssertionError: assert 1 == 2\n"
        "FAILED tests/test_z.py::test_w\n"
        "========================= 2 failed, 3 passed in 0.12s ==========================\n"
    )
    a = scan(log)
    assert kinds_ids(a) == [
        (FailureKind.TEST, "tests/test_x.py::TestX::test_y"),
        (FailureKind.TEST, "tests/test_z.py::test_w"),
    ]
    assert a.failures[0].message == "AssertionError: assert 1 == 2"


def test_tox_failures_are_tasks():
    a = scan("  py3: FAIL code 1 (12.34=setup[1.00]+cmd[11.34] seconds)\n  evaluation failed :( (12.5 seconds)\n")
    assert kinds_ids(a) == [(FailureKind.TASK, "tox:py3")]
    a = scan("ERROR:   pep8: commands failed\n")
    assert kinds_ids(a) == [(FailureKind.TASK, "tox:pep8")]


def test_zuul_ansible_error_with_json_gives_play_task_host_and_msg(wrap):
    body = "\n".join(
        [
            "PLAY [controller]",
            "TASK [run-tempest : Run Tempest]",
        ]
    )
    log = wrap(body, host=None) + wrap(
        "\n".join(
            [
                "ERROR",
                "{",
                '  "cmd": "tox -e all -- tempest.api",',
                '  "msg": "non-zero return code",',
                '  "rc": 1,',
                '  "stderr": "line one\\nFinal: boom"',
                "}",
            ]
        )
    )
    a = scan(log)
    assert kinds_ids(a) == [(FailureKind.TASK, "run-tempest : Run Tempest/controller")]
    f = a.failures[0]
    assert f.message == "non-zero return code; rc=1; Final: boom"
    assert "tox -e all -- tempest.api" in f.excerpt
    assert f.line == 3


def test_zuul_error_ignoring_errors_is_not_a_failure(wrap):
    a = scan(wrap("ERROR: Ignoring Errors"))
    assert a.failures == ()


def test_ansible_fatal_failed_and_unreachable():
    log = (
        "TASK [devstack : Run devstack]\n"
        'fatal: [controller]: FAILED! => {"changed": true, "msg": "non-zero return code", "rc": 2}\n'
        'fatal: [compute1]: UNREACHABLE! => {"changed": false, "msg": "Failed to connect to the host via ssh", '
        '"unreachable": true}\n'
    )
    a = scan(log)
    assert kinds_ids(a) == [
        (FailureKind.INFRA, "devstack : Run devstack/compute1"),
        (FailureKind.SETUP, "devstack : Run devstack/controller"),
    ]
    assert a.failures[1].message == "non-zero return code; rc=2"


def test_devstack_error_and_stack_sh_failed_come_before_the_tempest_failures_they_cause(wrap):
    log = wrap(
        "\n".join(
            [
                "{0} tempest.api.compute.servers.test_a.ServersTest.test_b [1.0s] ... FAILED",
                "",
                "Captured traceback:",
                "~~~~~~~~~~~~~~~~~~~",
                "    Traceback (most recent call last):",
                "    tempest.lib.exceptions.TimeoutException: Request timed out",
                "{0} tempest.api.compute.servers.test_a.ServersTest.test_c [0.5s] ... ok",
            ]
        )
    )
    devstack = wrap(
        "\n".join(
            [
                "+ functions-common:die:264               :   echo '[ERROR] /opt/stack/devstack/lib/keystone:456 keystone did not start'",
                "[ERROR] /opt/stack/devstack/lib/keystone:456 keystone did not start",
                "stack.sh failed: full log in /opt/stack/logs/devstacklog.txt.2024-05-14-091234",
            ]
        )
    )
    a = scan(log + devstack)
    assert [f.kind for f in a.failures] == [FailureKind.SETUP, FailureKind.SETUP, FailureKind.TEST]
    assert a.failures[0].message == "[ERROR] /opt/stack/devstack/lib/keystone:456 keystone did not start"
    assert a.failures[1].message.startswith("stack.sh failed")
    assert a.failures[2].message == "tempest.lib.exceptions.TimeoutException: Request timed out"


def test_run_end_banners_timed_out_and_unreachable(wrap):
    log = wrap(
        "RUN END RESULT_NORMAL: [untrusted : opendev.org/openstack/devstack/playbooks/pre.yaml@master]\n"
        "RUN END RESULT_TIMED_OUT: [untrusted : opendev.org/openstack/tempest/playbooks/devstack-tempest.yaml@master]\n"
        "POST-RUN END RESULT_UNREACHABLE: [trusted : opendev.org/opendev/base-jobs/playbooks/base/post.yaml@master]\n",
        host=None,
    )
    a = scan(log)
    assert kinds_ids(a) == [
        (FailureKind.INFRA, "opendev.org/opendev/base-jobs/playbooks/base/post.yaml"),
        (FailureKind.TIMEOUT, "opendev.org/openstack/tempest/playbooks/devstack-tempest.yaml"),
    ]
    assert a.failures[1].message.startswith("RUN END RESULT_TIMED_OUT")


def test_jenkins_console_html_tags_and_entities_are_stripped():
    html_log = (
        "<html><body><pre>\n"
        "<span class=\"timestamp\"><b>2014-01-14 18:31:23.456</b> </span>"
        "FAIL: test_x (nova.tests.T)\n"
        "----------------------------------------------------------------------\n"
        "Traceback (most recent call last):\n"
        "MismatchError: &lt;Response [500]&gt; != &quot;ok&quot; &amp; &#39;more&#39;\n"
        "\n"
        "======================================================================\n"
        "<a href='https://jenkins06.openstack.org/computer/x/log'>Looks like the node went offline during the build. "
        "Check the slave log for the details.</a>FATAL: /var/lib/jenkins/logs/slaves/x/slave.log (No such file or directory)\n"
        "</pre></body></html>\n"
    )
    a = scan(html_log, name="console.html")
    assert kinds_ids(a) == [(FailureKind.INFRA, "job"), (FailureKind.TEST, "nova.tests.T.test_x")]
    assert a.failures[1].message == "MismatchError: <Response [500]> != \"ok\" & 'more'"
    assert "<" not in a.failures[0].message.replace("<Response", "")
    assert a.failures[0].message.startswith("Looks like the node went offline during the build.")


def test_duplicates_merge_the_failed_line_and_the_output_below_section(subunit_dir, render, wrap):
    text = render("subunit-trace --fails", subunit_dir / "stestr_failure.subunit")
    assert text.count("test_trace_with_all_skips") >= 2  # reported inline and in the section
    a = scan(wrap(text))
    assert len(a.failures) == 1


def test_failures_never_carry_zuul_prefixes(wrap):
    a = scan(wrap("{3} tempest.x.T.test_y [2.0s] ... FAILED\n"))
    assert a.failures[0].id == "tempest.x.T.test_y"
    assert "|" not in a.failures[0].message


def test_test_attributes_are_dropped_from_ids_like_subunit_trace_does():
    a = scan("{0} tempest.api.T.test_y[id-1234,smoke] [2.0s] ... FAILED\n")
    assert a.failures[0].id == "tempest.api.T.test_y"


def test_line_numbers_count_every_line_of_a_big_block():
    lines = [f"{{0}} tempest.x.T.test_{i} [1.0s] ... ok" for i in range(50_000)]
    lines[41_234] = "{0} tempest.x.T.test_bad [1.0s] ... FAILED"
    a = scan("\n".join(lines) + "\n")
    assert a.failures[0].line == 41_235
    assert a.lines == 50_000


def test_job_output_json_gives_exact_failed_tasks_and_tests_from_their_stdout(subunit_dir, render):
    import json

    trace = render("subunit-trace", subunit_dir / "stestr_failure.subunit")
    doc = [
        {
            "phase": "pre",
            "playbook": "opendev.org/opendev/base-jobs/playbooks/base/pre.yaml",
            "plays": [{"play": {"name": "all"}, "tasks": [{"task": {"name": "Gather"}, "hosts": {"controller": {"changed": False}}}]}],
            "stats": {"controller": {"failures": 0, "unreachable": 0}},
        },
        {
            "phase": "run",
            "playbook": "opendev.org/openstack/tempest/playbooks/run.yaml",
            "plays": [
                {
                    "play": {"name": "controller"},
                    "tasks": [
                        {
                            "task": {"name": "Ignored probe"},
                            "hosts": {"controller": {"failed": True, "ignore_errors": True, "msg": "meh"}},
                        },
                        {
                            "task": {"name": "run-tempest : Run Tempest"},
                            "hosts": {
                                "controller": {
                                    "failed": True,
                                    "rc": 1,
                                    "msg": "non-zero return code",
                                    "cmd": ["tox", "-e", "all"],
                                    "stdout": trace,
                                }
                            },
                        },
                    ],
                }
            ],
            "stats": {"controller": {"failures": 1, "unreachable": 0}},
        },
    ]
    a = recheck.analyze_stream([json.dumps(doc).encode()], name="job-output.json")
    assert kinds_ids(a) == [
        (FailureKind.TEST, "stestr.tests.test_subunit_trace.TestSubunitTrace.test_trace_with_all_skips"),
        (FailureKind.TASK, "controller/run-tempest : Run Tempest/controller"),
    ]
    assert a.failures[1].message == "non-zero return code; rc=1"
    assert "tox -e all" in a.failures[1].excerpt


def test_job_output_json_unreachable_host_is_infra():
    import json

    doc = [
        {
            "phase": "run",
            "playbook": "p.yaml",
            "plays": [
                {
                    "play": {"name": "all"},
                    "tasks": [
                        {
                            "task": {"name": "ping"},
                            "hosts": {"compute1": {"unreachable": True, "msg": "Failed to connect to the host via ssh"}},
                        }
                    ],
                }
            ],
        }
    ]
    a = recheck.analyze_stream([json.dumps(doc).encode()], name="job-output.json")
    assert kinds_ids(a) == [(FailureKind.INFRA, "all/ping/compute1")]


def test_invalid_job_output_json_is_a_warning_not_an_error():
    a = recheck.analyze_stream([b'[{"plays": [ broken'], name="job-output.json")
    assert a.failures == ()
    assert any("not valid JSON" in w for w in a.warnings)


def test_task_failures_in_a_pre_run_playbook_are_setup_failures(wrap):
    log = wrap(
        "PRE-RUN START: [untrusted : opendev.org/openstack/devstack/playbooks/pre.yaml@master]\n"
        "TASK [configure-swap : Configure swap]\n",
        host=None,
    ) + wrap("ERROR\n{\n  \"msg\": \"mkswap failed\",\n  \"rc\": 1\n}\n") + wrap(
        "PRE-RUN END RESULT_NORMAL: [untrusted : opendev.org/openstack/devstack/playbooks/pre.yaml@master]\n"
        "RUN START: [untrusted : opendev.org/openstack/tempest/playbooks/run.yaml@master]\n"
        "TASK [run-tempest : Run Tempest]\n",
        host=None,
    ) + wrap("ERROR\n{\n  \"msg\": \"non-zero return code\",\n  \"rc\": 1\n}\n")
    a = scan(log)
    assert kinds_ids(a) == [
        (FailureKind.SETUP, "configure-swap : Configure swap/controller"),
        (FailureKind.TASK, "run-tempest : Run Tempest/controller"),
    ]


def test_job_output_json_loop_task_reports_the_failed_item():
    import json

    doc = [{"phase": "run", "playbook": "p.yaml", "plays": [{"play": {"name": "all"}, "tasks": [
        {"task": {"name": "install packages"}, "hosts": {"controller": {
            "failed": True, "msg": "One or more items failed",
            "results": [
                {"item": "git", "failed": False, "rc": 0},
                {"item": "libvirt-dev", "failed": True, "rc": 100, "msg": "No package matching 'libvirt-dev'"},
            ]}}}]}]}]
    a = recheck.analyze_stream([json.dumps(doc).encode()], name="job-output.json")
    assert a.failures[0].message == (
        "One or more items failed; item \"libvirt-dev\": No package matching 'libvirt-dev'; rc=100"
    )


def test_zuul_error_without_json_does_not_swallow_the_following_lines(wrap):
    log = wrap("TASK [run tests]", host=None) + wrap(
        "ERROR\n{0} tempest.a.T.test_b [1.0s] ... FAILED\n    ValueError: x\n{0} tempest.a.T.test_c [1.0s] ... ok\n"
    )
    a = scan(log)
    assert kinds_ids(a) == [(FailureKind.TEST, "tempest.a.T.test_b"), (FailureKind.TASK, "run tests/controller")]
    assert a.failures[1].message == "task failed on controller"


# -- issue 10 items 8-10 ------------------------------------------------------------------


def test_a_tempest_failure_message_is_the_exception_with_its_details_line(wrap):
    # subunit-trace indents attachments four spaces (mtreinish/stestr stestr/subunit_trace.py);
    # tempest adds "Details: …" under the exception (tempest/lib/exceptions.py).
    body = "\n".join(
        [
            "{1} tempest.api.compute.admin.test_aggregates.AggregatesAdminTestJSON.test_x"
            "[id-96be03c7-570d-409c-90f8-e4db3c646996] [0.12s] ... FAILED",
            "",
            "Captured traceback:",
            "~~~~~~~~~~~~~~~~~~~",
            "    Traceback (most recent call last):",
            '      File "/opt/stack/tempest/tempest/lib/common/rest_client.py", line 829, in _error_checker',
            "        message=message)",
            "    tempest.lib.exceptions.ServerFault: Got server fault",
            "    Details: An unexpected error prevented the server from fulfilling your request.",
            "",
            "{1} tempest.api.compute.admin.test_aggregates.AggregatesAdminTestJSON.test_y [0.1s] ... ok",
        ]
    )
    (f,) = scan(wrap(body)).failures
    assert f.id == "tempest.api.compute.admin.test_aggregates.AggregatesAdminTestJSON.test_x"
    assert f.message == (
        "tempest.lib.exceptions.ServerFault: Got server fault "
        "Details: An unexpected error prevented the server from fulfilling your request."
    )


def test_a_runner_traceback_inside_a_test_block_is_its_own_failure():
    log = "\n".join(
        [
            "{0} nova.tests.unit.test_a.T.test_one [0.5s] ... FAILED",
            "",
            "Captured traceback:",
            "~~~~~~~~~~~~~~~~~~~",
            "    Traceback (most recent call last):",
            '      File "nova/tests/unit/test_a.py", line 3, in test_one',
            "    AssertionError: 1 != 2",
            "",
            "Traceback (most recent call last):",
            '  File "/usr/lib/python3/site-packages/subunit/v2.py", line 232, in _write_packet',
            '    raise ValueError("Length too long: %r" % base_length)',
            "ValueError: Length too long: 4194500",
            "{0} nova.tests.unit.test_a.T.test_two [0.1s] ... ok",
        ]
    )
    a = scan(log)
    assert kinds_ids(a) == [
        (FailureKind.TEST, "nova.tests.unit.test_a.T.test_one"),
        (FailureKind.TASK, "test runner"),
    ]
    test, crash = a.failures
    assert test.message == "AssertionError: 1 != 2" and "Length too long" not in test.excerpt
    assert crash.message == "the test runner crashed: ValueError: Length too long: 4194500"
    assert "subunit/v2.py" in crash.excerpt and crash.line == 9


def test_a_runner_crash_alone_is_not_a_pass():
    a = scan("Ran: 12 tests in 3.0 sec.\nValueError: Length too long: 4194500\n - Worker 0 (12 tests) => N/A\n")
    assert kinds_ids(a) == [(FailureKind.TASK, "test runner")]


def test_err_trap_line_is_replaced_by_the_exit_trap_cause(wrap):
    body = "\n".join(
        [
            "+lib/glance:upload_image:120    openstack image create cirros",
            "Error finding address for http://10.0.0.1/image/v2/images: HTTPConnectionPool: Max retries exceeded",
            "stack.sh failed: full log in /opt/stack/logs/stack.sh.log",
            "+functions:upload_image:1   exit_trap",
            "+./stack.sh:exit_trap:549   local r=1",
            "Error on exit",
            "+./stack.sh:exit_trap:584   exit 1",
        ]
    )
    a = scan(wrap(body))
    (f,) = a.failures
    assert f.kind is FailureKind.SETUP and f.id == "devstack"
    assert f.message.startswith("Error finding address for http://10.0.0.1/image/v2/images")
    assert f.excerpt.splitlines()[0] == "stack.sh failed in functions:upload_image (exit 1)"


def test_ignored_task_failures_are_taken_back():
    log = (
        "TASK [ensure-foo : Try]\n"
        'fatal: [controller]: FAILED! => {"changed": true, "msg": "non-zero return code", "rc": 1}\n'
        "...ignoring\n"
    )
    assert scan(log).failures == ()


def test_a_playbook_result_other_than_normal_is_a_failed_job():
    a = scan("2024-01-01 10:00:00 | RUN END RESULT_FAILURE: [untrusted : x/playbooks/run.yaml@master]\n")
    (f,) = a.failures
    assert f.id == "job" and "RUN END RESULT_FAILURE" in f.message


def test_job_output_json_keeps_the_head_and_tail_of_a_huge_stdout():
    import json as _json

    from recheck import jobjson

    stdout = "first line\n" + "middle\n" * 600_000 + "Failed 1 tests - output below:\n"
    doc = [{"plays": [{"play": {"name": "p"}, "tasks": [{"task": {"name": "t"},
            "hosts": {"h": {"failed": True, "stdout": stdout}}}]}]}]
    (entry,) = list(jobjson.walk(_json.dumps(doc).encode()))
    assert isinstance(entry, jobjson.HostResult)
    kept = entry.result["stdout"]
    assert isinstance(kept, str) and len(kept) <= jobjson.MAX_STRING
    assert kept.startswith("first line\n") and kept.endswith("Failed 1 tests - output below:\n")
    assert "bytes omitted" in kept


def test_job_output_json_whose_stats_say_a_task_failed_is_never_a_pass():
    # zuul/zuul zuul_json.py: each playbook ends with ansible's per-host stats.
    doc = [{"phase": "run", "playbook": "playbooks/run.yaml", "plays": [{"play": {"name": "p"}, "tasks": []}],
            "stats": {"controller": {"ok": 3, "failures": 1, "unreachable": 0}}}]
    a = recheck.analyze_stream([json.dumps(doc).encode()], name="job-output.json")
    (f,) = a.failures
    assert f.id == "job" and "controller: failures=1" in f.message
