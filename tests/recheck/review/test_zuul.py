"""Zuul's build API: both build shapes, build pages, the builds list."""
from __future__ import annotations

from recheck.testing import SimJob
from recheck.zuul import ZuulClient, build_from_json, parse_build_page


def test_build_page_urls():
    page = parse_build_page("https://zuul.opendev.org/t/openstack/build/" + "b" * 32)
    assert (page.base, page.tenant, page.uuid) == ("https://zuul.opendev.org", "openstack", "b" * 32)
    assert parse_build_page("http://logs.openstack.org/31/64831/1/check/job/287c655") is None


def test_ref_and_flat_shapes_are_both_read():
    nested = build_from_json({"uuid": "u", "job_name": "j", "ref": {"project": "p", "change": 5, "patchset": "2"}})
    flat = build_from_json({"uuid": "u", "job_name": "j", "project": "p", "change": "5", "patchset": 2})
    assert (nested.project, nested.change, nested.patchset) == ("p", 5, 2)
    assert (flat.project, flat.change, flat.patchset) == ("p", 5, 2)


def test_client_reads_builds_from_the_simulator(sim):
    sim.add_change(10)
    sim.zuul_flat_builds = True
    [job, _] = sim.add_buildset(10, 1, jobs=[SimJob("tempest-full", log=b"x", subunit=b"y"), SimJob("pep8", "SUCCESS")])
    zuul = ZuulClient.from_url(f"{sim.zuul_url}/t/openstack")
    build = zuul.build(job.uuid)
    assert build.change == 10 and build.log_url.startswith(sim.logs_url)
    # What zuul-jobs publishes: the manifest and subunit2html's report, not the subunit stream.
    assert [(a.name, a.type) for a in build.artifacts] == [
        ("Zuul Manifest", "zuul_manifest"), ("Unit Test Report", "unit_test_report")
    ]
    assert build.artifacts[0].url == build.log_url + "zuul-manifest.json"
    failed = zuul.builds(10, 1, result="FAILURE")
    assert [b.job_name for b in failed] == ["tempest-full"]
