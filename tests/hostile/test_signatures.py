"""Hostile signature files (issue 17 classes 1 and 2): refused by name, skipped, bounded.

A user's ``~/.config/ostk/signatures/`` file is local input: one that cannot be
used is named in one warning line and skipped; the shipped signatures still
apply, the command still answers, in bounded time and memory.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from harness import run_cli

BILLION_LAUGHS = "\n".join(
    ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)},"
       f" *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]" for i in range(9)]
    + ['query: message:"x"']
) + "\n"

CASES = {
    "laughs.yaml": BILLION_LAUGHS,
    "deep.yaml": "query: " + "[" * 5000 + "]" * 5000 + "\n",
    "deep.json": "[" * 100_000 + "]" * 100_000,
    "alternatives-int.json": json.dumps({"signatures": [{"bug": 1, "alternatives": 5}]}),
    "bug-list.json": json.dumps({"signatures": [{"bug": [1, 2], "alternatives": [{"phrases": ["x"]}]}]}),
    "huge-bug.json": '{"signatures": [{"bug": ' + "9" * 5000 + ', "alternatives": [{"phrases": ["x"]}]}]}',
    "phrases-dict.json": json.dumps([{"bug": 3, "alternatives": [{"phrases": {"a": 1}}]}]),
    "query-list.yaml": "query: [1, 2]\n",
    "bug-words.yaml": 'bug: many\nquery: message:"x"\n',
    "resolved-map.yaml": 'query: message:"x"\nresolved_at: {a: 1}\n',
    "binary.yaml": "query: \x00\x01\x02\n",
    "not-utf8.json": b"\xff\xfe{".decode("latin-1"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_hostile_user_signature_file_is_named_and_skipped(tmp_path: Path, name: str) -> None:
    home = tmp_path / "home"
    user = home / ".config" / "ostk" / "signatures"
    user.mkdir(parents=True)
    body = CASES[name]
    (user / name).write_bytes(body.encode("latin-1") if name == "not-utf8.json" else body.encode("utf-8"))
    log = tmp_path / "console.txt"
    log.write_bytes(b"x\nE: Unable to lock the administration directory (/var/lib/dpkg/), is another process using it?\n")
    run = run_cli(["recheck", "signatures", "check", str(log), "--json"], home=home, kill_after=60)
    what = run.describe()
    assert run.exit_code == 0, what  # the shipped signature still matched
    assert "Traceback" not in run.stderr, what
    (line,) = run.stderr_lines
    assert line.startswith("warning: signature file skipped") and name in line, what
    assert run.seconds < 45 and run.peak_rss_mb < 300, what
    assert [m["number"] for m in json.loads(run.stdout)["matches"]] == [1097592]
