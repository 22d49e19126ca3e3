"""Every line against every signature: the Hyperscan engine, its pure-Python twin, and
what they find in real-sized logs."""
from __future__ import annotations

import gzip
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import recheck
from ostk.cli import main
from ostk.environment import Environment
from recheck.engine import LogScanner
from recheck.lucene import Alternative
from recheck.matcher import ENGINE_VARIABLE, Rule, build_engine, words
from recheck.signatures import Signature, SignatureSet, load_signatures

#: A shipped signature restricted to nova-compute's log (tags:"screen-n-cpu.txt").
N_CPU_BUG = 1254872
N_CPU_LINE = (
    b"2024-05-14 09:12:13.123 12345 ERROR nova.compute.manager [req-1 admin admin] [instance: 5d1c] "
    b"libvirtError: Timed out during operation: cannot acquire state change lock (held by monitor=remoteDispatch)\n"
)

VOCAB = ["error", "timed", "out", "lock", "nova", "a", "b1", "x", "failed", "tempest"]


def _env(tmp_path: Path) -> dict[str, str]:
    return {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "XDG_CACHE_HOME": str(tmp_path / "cache")}


def _service_lines(rng: random.Random) -> bytes:
    out = []
    for i in range(2000):
        out.append(
            f"2024-05-14 09:12:{i % 60:02d}.{i:06d} {rng.randint(1000, 9999)} DEBUG nova.compute.manager "
            f"[req-{rng.getrandbits(64):016x} - - - - -] Neutron network cache refreshed for instance "
            f"{rng.getrandbits(32):08x} in {rng.random():.3f}s _heal_instance_info_cache\n"
        )
    return "".join(out).encode()


def _big_log(total: int, bug_at: int, bug_line: bytes) -> Iterator[bytes]:
    """``total`` bytes of nova-compute DEBUG lines, ``bug_line`` after ``bug_at`` bytes; streamed."""
    rng = random.Random(7)
    chunk = _service_lines(rng)
    sent = 0
    placed = False
    while sent < total:
        yield chunk
        sent += len(chunk)
        if not placed and sent >= bug_at:
            yield bug_line
            placed = True


# -- the two engines agree ---------------------------------------------------

_line = st.lists(
    st.one_of(
        st.sampled_from(VOCAB),
        st.sampled_from(["ERROR", "Timed", "LOCK", "FAIL", "Nova"]),
        st.sampled_from([" ", "  ", ": ", "-", "_", "/", ".", "\t", "[", "]", "\x1b[01;31m", "\x1b[0m", "é", "\r"]),
    ),
    max_size=12,
).map("".join)
_phrase = st.lists(st.sampled_from(VOCAB), min_size=1, max_size=3).map(tuple)
_rule = st.builds(
    lambda p, f: Rule(tuple(tuple(w.encode() for w in x) for x in p), tuple(tuple(w.encode() for w in x) for x in f)),
    st.lists(_phrase, min_size=1, max_size=2),
    st.lists(_phrase, max_size=1),
)


def _run(kind: str, rules: list[Rule], blocks: list[bytes]) -> tuple[list[tuple[int, int, bytes]], list[set[int]]]:
    scanner = build_engine(rules, (b"FAIL", b"ERROR"), kind=kind).scanner()
    hits, marker_lines = [], []
    line = 1
    for block in blocks:
        result = scanner.scan(block, 0, len(block), line, (b"FAIL", b"ERROR"))
        hits += [(h.rule, h.line, h.text) for h in result.hits]
        starts = {block.rfind(b"\n", 0, at) + 1 for at in result.markers}
        marker_lines.append(starts)
        line += block.count(b"\n")
    return hits, marker_lines


def _reference(rule: Rule, line: bytes) -> bool:
    """Lucene's phrase semantics, independently: the phrase's words appear consecutively."""
    tokens = words(line)
    text = b" " + b" ".join(tokens) + b" "

    def has(phrase: tuple[bytes, ...]) -> bool:
        return b" " + b" ".join(phrase) + b" " in text

    return all(has(p) for p in rule.phrases) and not any(has(f) for f in rule.forbidden)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(_line, max_size=20), min_size=1, max_size=4), st.lists(_rule, min_size=1, max_size=6))
def test_hyperscan_and_python_engines_agree_on_random_logs_and_patterns(blocks, rules):
    data = [("\n".join(b) + "\n").encode("utf-8") if b else b"" for b in blocks]
    data = [d for d in data if d]
    fast = _run("hyperscan", rules, data)
    slow = _run("python", rules, data)
    assert fast == slow
    # Without colour codes, both agree with an independent reading of Lucene's phrase semantics.
    lines = b"".join(data).split(b"\n")[:-1]
    for index, rule in enumerate(rules):
        expected = next((n for n, text in enumerate(lines, 1) if _reference(rule, text)), None)
        found = next((n for r, n, _ in fast[0] if r == index), None)
        if not any(b"\x1b" in text for text in lines):
            assert found == expected


def test_whole_analysis_is_identical_with_and_without_hyperscan(tmp_path, monkeypatch):
    sigs = load_signatures(_env(tmp_path))
    log = (
        b"2024-05-14 09:12:13.1 | controller | + ./stack.sh:main:1234 : run_process\n" * 300
        + b"2024-05-14 09:12:13.2 | controller | E: Unable to lock the administration directory "
        b"(/var/lib/dpkg/), is another process using it?\n"
        + b"2024-05-14 09:12:13.3 | controller | {0} tempest.api.T.test_x [1.0s] ... FAILED\n"
        + b"2024-05-14 09:12:13.4 | controller | Details: No valid host was found. There are not enough hosts\n"
        + b"2024-05-14 09:12:13.5 | controller | ok\n" * 300
    )
    blob = gzip.compress(log)
    fast = recheck.analyze_stream([blob[i : i + 999] for i in range(0, len(blob), 999)], signatures=sigs,
                                  name="job-output.txt.gz")
    monkeypatch.setenv(ENGINE_VARIABLE, "python")
    slow = recheck.analyze_stream([blob], signatures=sigs, name="job-output.txt.gz")
    assert fast == slow
    assert 1097592 in [b.number for b in fast.signature_matches]


# -- service logs ------------------------------------------------------------


def test_a_bug_line_buried_in_a_100mb_service_log_is_found_and_named(tmp_path):
    sigs = load_signatures(_env(tmp_path))
    scanner = LogScanner(name="controller/logs/screen-n-cpu.txt", signatures=sigs, signatures_only=True)
    scanner.consume(_big_log(100 * 1024 * 1024, 61 * 1024 * 1024, N_CPU_LINE), threaded=False)
    analysis = scanner.finish()
    assert analysis.bytes > 100 * 1024 * 1024
    (bug,) = analysis.signature_matches
    assert bug.number == N_CPU_BUG and bug.score == 1.0
    chunk = _service_lines(random.Random(7))
    chunks_before = -(-61 * 1024 * 1024 // len(chunk))
    line = int(re.search(r"line (\d+)\)", bug.why[0]).group(1))
    assert line == chunks_before * chunk.count(b"\n") + 1
    assert "controller/logs/screen-n-cpu.txt" in bug.why[0]
    assert "cannot acquire state change lock" in bug.why[1]
    assert analysis.failures == ()  # a service log is read for signatures only


def test_the_match_reports_the_exact_line_number(tmp_path):
    sigs = load_signatures(_env(tmp_path))
    body = b"".join(_big_log(300_000, 150_000, N_CPU_LINE))
    expected = body[: body.index(N_CPU_LINE)].count(b"\n") + 1
    analysis = recheck.analyze_stream([gzip.compress(body)], signatures=sigs, name="logs/n-cpu.log.gz")
    (bug,) = [b for b in analysis.signature_matches if b.number == N_CPU_BUG]
    assert f"line {expected})" in bug.why[0]


@pytest.mark.parametrize(
    "name, fires",
    [
        ("controller/logs/screen-n-cpu.txt.gz", True),
        ("logs/screen-n-cpu.txt", True),
        ("compute1/logs/n-cpu.log", True),
        ("controller/logs/screen-n-api.txt.gz", False),
        ("job-output.txt.gz", False),
        ("controller/logs/syslog.txt", False),
    ],
)
def test_a_file_restricted_signature_fires_only_on_its_file(tmp_path, name, fires):
    sigs = load_signatures(_env(tmp_path))
    analysis = recheck.analyze_stream([b"x\n" * 50 + N_CPU_LINE + b"y\n" * 50], signatures=sigs, name=name)
    assert (N_CPU_BUG in [b.number for b in analysis.signature_matches]) is fires


# -- user signatures -----------------------------------------------------------


def test_user_signatures_are_compiled_in_and_a_malformed_one_is_named_and_skipped(tmp_path):
    env = _env(tmp_path)
    user = tmp_path / "cfg" / "ostk" / "signatures"
    user.mkdir(parents=True)
    (user / "7777777.yaml").write_text('query: >-\n  message:"flux capacitor overheated"\n')
    (user / "broken.yaml").write_text('query: message:"unclosed AND (\n')
    (user / "shape.json").write_text(json.dumps({"signatures": [{"bug": [1], "alternatives": 5}]}))
    sigs = load_signatures(env)
    assert any("broken.yaml" in w for w in sigs.warnings)
    assert any("shape.json" in w for w in sigs.warnings)
    assert len(sigs) == 922
    log = b"+ boring\n" * 5000 + b"2024-05-14 | controller | the Flux-Capacitor  overheated!\n" + b"+ boring\n" * 10
    analysis = recheck.analyze_stream([log], signatures=sigs, name="job-output.txt")
    (bug,) = [b for b in analysis.signature_matches if b.number == 7777777]
    assert "(line 5001)" in bug.why[0]


def test_unmatchable_alternatives_are_listed():
    sig = Signature(1, "t", (Alternative(phrases=("::",)), Alternative(phrases=("real words",))))
    assert SignatureSet([sig]).unmatchable() == ((1, 'no word to look for in "::"'),)


# -- the job's other files -----------------------------------------------------


def test_needed_files_picks_what_signatures_name_under_todays_names(tmp_path):
    from recheck.logdir import manifest_paths, needed_files

    sigs = load_signatures(_env(tmp_path))
    manifest = {"tree": [
        {"name": "job-output.txt", "mimetype": "text/plain"},
        {"name": "zuul-info", "mimetype": "application/directory", "children": [{"name": "inventory.yaml"}]},
        {"name": "controller", "mimetype": "application/directory", "children": [
            {"name": "logs", "mimetype": "application/directory", "children": [
                {"name": "screen-n-cpu.txt.gz"}, {"name": "screen-q-svc.txt"}, {"name": "etc.tar.gz"},
                {"name": "syslog.txt"}, {"name": "dstat-csv.log"},
            ]},
        ]},
    ]}
    paths = manifest_paths(manifest)
    assert "controller/logs/screen-n-cpu.txt.gz" in paths and "zuul-info/inventory.yaml" in paths
    # tags:"screen" (7 alternatives) meant every service log: dstat's too.
    assert needed_files(paths, sigs) == (
        "controller/logs/screen-n-cpu.txt.gz", "controller/logs/screen-q-svc.txt", "controller/logs/syslog.txt",
        "controller/logs/dstat-csv.log",
    )
    assert needed_files(paths, sigs, limit=1) == ("controller/logs/screen-n-cpu.txt.gz",)


def test_recheck_on_a_log_directory_checks_the_service_logs_signatures_name(tmp_path, log_server, serve):
    console = b"2024-05-14 09:00:00.000001 | controller | {0} tempest.api.T.test_x [1.0s] ... FAILED\n"
    manifest = {"tree": [
        {"name": "job-output.txt.gz"},
        {"name": "controller", "children": [{"name": "logs", "children": [
            {"name": "screen-n-cpu.txt.gz"}, {"name": "screen-n-api.txt.gz"},
        ]}]},
    ]}
    base = "/t/check/tempest-full/0123abcd/"
    serve(base + "job-output.txt.gz", gzip.compress(console))
    serve(base + "zuul-manifest.json", json.dumps(manifest).encode())
    serve(base + "controller/logs/screen-n-cpu.txt.gz", gzip.compress(b"a\n" * 10 + N_CPU_LINE))
    # The same line in the API log is not the compute bug.
    serve(base + "controller/logs/screen-n-api.txt.gz", gzip.compress(N_CPU_LINE))
    env = Environment.for_test(_env(tmp_path))
    env.cwd = tmp_path
    rc = main(["recheck", log_server.url + base, "--json"], env=env)
    assert rc == 0, env.stderr.getvalue()
    (job,) = json.loads(env.stdout.getvalue())["jobs"]
    assert job["failures"][0]["id"] == "tempest.api.T.test_x"
    (bug,) = [b for b in job["bugs"] if b["number"] == N_CPU_BUG]
    assert "controller/logs/screen-n-cpu.txt.gz, line 11" in bug["why"][0]


def test_a_compiled_matcher_is_cached_under_the_xdg_cache_dir(tmp_path):
    env = _env(tmp_path)
    sigs = load_signatures(env)
    recheck.analyze_stream([b"x\n"], signatures=sigs, name="job-output.txt")
    cached = list((tmp_path / "cache" / "ostk" / "recheck" / "matchers").glob("*.hsdb"))
    assert cached and all(p.stat().st_mode & 0o077 == 0 for p in cached)
