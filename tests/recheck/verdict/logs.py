"""Job-output.txt excerpts for the verdict scenarios (stestr's subunit-trace lines, Zuul's prefixes)."""
from __future__ import annotations

UNIT_TEST = "nova.tests.unit.compute.test_manager.ComputeManagerUnitTestCase.test_build_and_run_instance"
TEMPEST_TEST = "tempest.api.compute.servers.test_server_actions.ServerActionsTestJSON.test_reboot_server_hard"
OTHER_TEMPEST_TEST = "tempest.api.compute.servers.test_server_rescue.ServerRescueTestJSON.test_rescue_unrescue_instance"


def stestr_failure(test_id: str, message: str = "AssertionError: 'ACTIVE' != 'ERROR'", host: str = "controller") -> bytes:
    """One failed test as subunit-trace prints it inside job-output.txt."""
    module = test_id.rsplit(".", 2)[0].replace(".", "/") + ".py"
    return (
        f"2026-11-20 08:00:00.123456 | {host} | {{0}} {test_id} [12.3s] ... FAILED\n"
        f"2026-11-20 08:00:01.123456 | {host} | Traceback (most recent call last):\n"
        f'2026-11-20 08:00:01.123456 | {host} |   File "{module}", line 120, in {test_id.rsplit(".", 1)[-1]}\n'
        f"2026-11-20 08:00:01.123456 | {host} | {message}\n"
    ).encode()
