"""Build ``examples/job-output.txt.gz``: a Zuul job log made from real test results.

The test output is genuine: the real subunit streams in
``../shared/fixtures/recheck/subunit/`` rendered by stestr's own
``subunit-trace``. Around it we write the frame a Zuul job log has
(timestamps, ``| host |`` prefixes, playbook/task banners, the ansible
``ERROR`` + JSON of the task that ran the tests). Reproducible: fixed clock,
gzip mtime 0. Run from the repository root::

    .venv/bin/python examples/build_job_output.py [--fixtures ../shared/fixtures]
"""
from __future__ import annotations

import argparse
import gzip
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_FIXTURES = HERE.parent.parent / "shared" / "fixtures"

# stestr's subunit_trace module forgets to import subunit.test_results itself
# (the ``subunit-trace`` console script is gone from recent stestr).
SUBUNIT_TRACE = (
    "import subunit.test_results, sys; from stestr import subunit_trace; "
    "sys.argv = ['subunit-trace'] + sys.argv[1:]; sys.exit(subunit_trace.main())"
)


def subunit_trace(stream: Path, *args: str) -> str:
    """Render ``stream`` with stestr's subunit-trace, as a CI job prints it."""
    with stream.open("rb") as stdin:
        done = subprocess.run(
            [sys.executable, "-c", SUBUNIT_TRACE, *args], stdin=stdin, capture_output=True, check=False
        )
    return done.stdout.decode("utf-8")


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 5, 14, 9, 12, 3, 115004)

    def tick(self, ms: int = 7) -> str:
        self.now += timedelta(milliseconds=ms)
        stamp = self.now.strftime("%Y-%m-%d %H:%M:%S.%f")
        # Zuul omits the fraction when it is zero.
        return stamp[:-7] if stamp.endswith(".000000") else stamp


def build(fixtures: Path) -> bytes:
    subunit_dir = fixtures / "recheck" / "subunit"
    tempest = subunit_trace(subunit_dir / "neutron-tempest-plugin.subunit")
    unit = subunit_trace(subunit_dir / "stestr_failure.subunit", "--fails")
    clock = _Clock()
    out: list[str] = []

    def line(text: str = "", host: str | None = None, ms: int = 7) -> None:
        prefix = f"{clock.tick(ms)} | "
        out.append(prefix + (f"{host} | " if host else "") + text)

    line("Job console starting")
    line("Updating git repos")
    line("Cloning repos into workspace")
    line("Running Ansible setup")
    line("PRE-RUN START: [trusted : opendev.org/opendev/base-jobs/playbooks/base/pre.yaml@master]")
    line()
    line("PLAY [all]")
    line()
    line("TASK [Gathering Facts]")
    line("ok: Runtime: 0:00:02.125187", "controller", 2125)
    line()
    line("TASK [ensure-output-dirs : Ensure log directory exists]")
    line("changed", "controller")
    line()
    line("PLAY RECAP")
    line("controller                 : ok=2    changed=1    unreachable=0    failed=0    skipped=0", ms=1)
    line()
    line("PRE-RUN END RESULT_NORMAL: [trusted : opendev.org/opendev/base-jobs/playbooks/base/pre.yaml@master]")
    line("RUN START: [untrusted : opendev.org/openstack/neutron-tempest-plugin/playbooks/run.yaml@master]")
    line()
    line("PLAY [controller]")
    line()
    line("TASK [run-tempest : Run Tempest]")
    for text in tempest.splitlines():
        line(text, "controller", 40)
    line("ok: Runtime: 0:00:54.306118", "controller")
    line()
    line("TASK [Run unit tests]")
    for text in unit.splitlines():
        line(text, "controller", 30)
    line("ERROR", "controller")
    for text in (
        "{",
        '  "cmd": "stestr --test-path ./stestr/tests run",',
        '  "delta": "0:00:02.245913",',
        '  "end": "2024-05-14 09:14:31.904211",',
        '  "msg": "non-zero return code",',
        '  "rc": 1,',
        '  "start": "2024-05-14 09:14:29.658298"',
        "}",
    ):
        line(text, "controller", 1)
    line()
    line("PLAY RECAP")
    line("controller                 : ok=3    changed=1    unreachable=0    failed=1    skipped=0", ms=1)
    line()
    line("RUN END RESULT_NORMAL: [untrusted : opendev.org/openstack/neutron-tempest-plugin/playbooks/run.yaml@master]")
    line("POST-RUN START: [trusted : opendev.org/opendev/base-jobs/playbooks/base/post-logs.yaml@master]")
    line()
    line("PLAY [localhost]")
    line()
    line("TASK [upload-logs-swift : Upload logs to swift]")
    line("ok: Runtime: 0:00:04.117003", "localhost", 4117)
    line()
    line("POST-RUN END RESULT_NORMAL: [trusted : opendev.org/opendev/base-jobs/playbooks/base/post-logs.yaml@master]")
    text = "\n".join(out) + "\n"
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build examples/job-output.txt.gz from the real fixtures.")
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    parser.add_argument("-o", "--output", type=Path, default=HERE / "job-output.txt.gz")
    args = parser.parse_args(argv)
    data = build(args.fixtures)
    args.output.write_bytes(data)
    print(f"wrote {args.output} ({len(data)} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
