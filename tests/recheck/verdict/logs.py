"""Job-output.txt excerpts for the verdict scenarios: stestr's subunit-trace output under Zuul's prefixes.

The layout (``... FAILED``, ``Captured traceback:``, ``Failed N tests - output
below:``, ``Totals``) is subunit-trace's (mtreinish/stestr ``stestr/subunit_trace.py``).
"""
from __future__ import annotations

UNIT_TEST = "nova.tests.unit.compute.test_manager.ComputeManagerUnitTestCase.test_build_and_run_instance"
TEMPEST_TEST = "tempest.api.compute.servers.test_server_actions.ServerActionsTestJSON.test_reboot_server_hard"
OTHER_TEMPEST_TEST = "tempest.api.compute.servers.test_server_rescue.ServerRescueTestJSON.test_rescue_unrescue_instance"


def stestr_failure(*test_ids: str, message: str = "AssertionError: 'ACTIVE' != 'ERROR'", host: str = "controller") -> bytes:
    """A test run in which ``test_ids`` failed, as subunit-trace prints it inside job-output.txt."""
    lines: list[str] = []
    for test_id in test_ids:
        module = test_id.rsplit(".", 2)[0].replace(".", "/") + ".py"
        lines += [
            f"{{0}} {test_id} [12.3s] ... FAILED",
            "",
            "Captured traceback:",
            "~~~~~~~~~~~~~~~~~~~",
            "    Traceback (most recent call last):",
            f'      File "{module}", line 120, in {test_id.rsplit(".", 1)[-1]}',
            f"    {message}",
            "",
        ]
    lines += ["", "==============================", f"Failed {len(test_ids)} tests - output below:", "==============================", ""]
    for test_id in test_ids:
        lines += [test_id, "-" * len(test_id), ""]
    lines += [
        "======", "Totals", "======", "Ran: 10 tests in 20.0000 sec.", f" - Passed: {10 - len(test_ids)}",
        " - Skipped: 0", " - Expected Fail: 0", " - Unexpected Success: 0", f" - Failed: {len(test_ids)}",
    ]
    return "".join(f"2026-11-20 08:00:00.123456 | {host} | {line}\n" for line in lines).encode()
