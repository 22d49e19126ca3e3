"""`ostk recheck LOG` imports only the log engine (issue 14: start-up counts in a whole-log scan).

An earlier change made the CLI load only the named command group; imports
added later (URL argument types, the review workflow, rich) brought the whole
tool back into every start. These run the real command in a fresh interpreter
and look at what it imported.
"""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

#: Modules a local log analysis has no use for: the HTTP stack, the review
#: workflow and the gate report, YAML, the terminal renderer, the other commands.
HEAVY = ("requests", "urllib3", "recheck.review", "recheck.gate", "recheck.zuul", "jinja2", "pygal",
         "yaml", "rich", "keystoneauth1", "cryptography", "pki", "stack", "swiftfunc")

_PROBE = """
import json, sys
from ostk.cli import main
rc = main(sys.argv[1:])
print(json.dumps({"rc": rc, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def _run(args: list[str], tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)
    return done, json.loads(done.stderr.strip().splitlines()[-1])


def _loaded(modules: object, names: tuple[str, ...]) -> list[str]:
    assert isinstance(modules, list)
    return [m for m in modules if any(m == n or m.startswith(n + ".") for n in names)]


def test_local_log_imports_only_the_log_engine(tmp_path: Path) -> None:
    log = tmp_path / "job-output.txt.gz"
    lines = [f"2024-05-14 09:32:{i % 60:02d}.000000 | controller | ok line {i}" for i in range(2000)]
    lines.append("2024-05-14 09:33:00.000000 | controller | {0} tempest.api.test_x.T.test_y [1.0s] ... FAILED")
    log.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    done, probe = _run(["recheck", str(log), "--json"], tmp_path)
    assert probe["rc"] == 0, done.stderr
    report = json.loads(done.stdout)
    assert [f["id"] for f in report["jobs"][0]["failures"]] == ["tempest.api.test_x.T.test_y"]
    assert _loaded(probe["modules"], HEAVY) == []
    assert _loaded(probe["modules"], ("recheck.engine", "recheck.signatures")) != []


def test_version_loads_no_command_group(tmp_path: Path) -> None:
    done, probe = _run(["--version"], tmp_path)
    assert probe["rc"] == 0
    assert done.stdout.startswith("ostk ")
    assert _loaded(probe["modules"], ("recheck", *HEAVY)) == []


def test_public_names_still_importable() -> None:
    import recheck

    for name in recheck.__all__:
        assert getattr(recheck, name) is not None
    assert set(recheck.__all__) <= set(dir(recheck))
