"""The object-store endpoint plan shared by stack and swiftfunc."""
from __future__ import annotations

from ostk.catalog import Endpoint, object_store_url, plan_endpoints

URL = object_store_url("http://127.0.0.1:8080/")


def test_the_url_template_is_keystoneauths_per_project_form() -> None:
    assert URL == "http://127.0.0.1:8080/v1/AUTH_%(project_id)s"


def test_an_empty_catalog_gets_all_three_interfaces() -> None:
    plan = plan_endpoints([], URL, "RegionOne", replace_stale=False)
    assert plan.create == ("public", "internal", "admin") and not plan.delete and not plan.kept


def test_a_shared_cloud_keeps_an_endpoint_with_another_url_and_fills_the_gaps() -> None:
    other = Endpoint("e1", "public", "http://swift.example/v1/AUTH_%(project_id)s", "RegionOne")
    plan = plan_endpoints([other], URL, "RegionOne", replace_stale=False)
    assert plan.kept == {"public": other}
    assert plan.create == ("internal", "admin") and plan.delete == ()


def test_a_stack_replaces_stale_endpoints_and_keeps_right_ones() -> None:
    stale = Endpoint("e1", "public", "http://127.0.0.1:9999/v1/AUTH_%(project_id)s", "RegionOne")
    right = Endpoint("e2", "internal", URL, None)
    elsewhere = Endpoint("e3", "admin", URL, "RegionTwo")
    plan = plan_endpoints([stale, right, elsewhere], URL, "RegionOne", replace_stale=True)
    assert plan.delete == (stale,)
    assert plan.create == ("public", "admin")
    assert plan.kept == {"internal": right}
