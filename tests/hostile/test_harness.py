"""The harness measures what it claims: the child's own peak memory, its exit and its time."""
from __future__ import annotations

from harness import Reply, run_cli

MiB = 1024 * 1024


def test_peak_rss_is_the_childs_own_not_the_parents():
    ballast = bytearray(300 * MiB)
    ballast[:: 4096] = b"\x01" * len(ballast[:: 4096])  # touch every page
    run = run_cli(["--version"])
    assert run.exit_code == 0 and run.stdout.startswith("ostk ")
    assert run.peak_rss_mb < 150, run.describe()
    del ballast


def test_peak_rss_sees_what_the_child_holds(hostile):
    baseline = run_cli(["--version"]).peak_rss_mb
    hostile.route("/changes/", Reply.huge(30 * MiB))  # under the 32 MiB cap: read whole
    run = run_cli(["recheck", "1", "--gerrit", hostile.url, "--timeout", "20"])
    assert run.peak_rss_mb > baseline + 25, (baseline, run.describe())


def test_a_hung_child_is_killed_and_reported(hostile):
    hostile.route("/changes/", Reply.silent())
    run = run_cli(["recheck", "1", "--gerrit", hostile.url, "--timeout", "0"], kill_after=2)
    assert run.killed and run.exit_code is None and 2 <= run.seconds < 5
