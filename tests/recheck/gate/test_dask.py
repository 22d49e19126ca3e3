"""--dask: each build's analysis on a real Dask cluster (LocalCluster, worker processes, loopback)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from distributed import LocalCluster

from ostk.cli import main
from ostk.environment import Environment
from ostk.errors import ServiceError

from .conftest import Gate
from .test_report import report_json


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    # Real worker processes on 127.0.0.1, as `dask scheduler` + `dask worker` would be.
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
        worker_dashboard_address=None,
    ) as local:
        yield local


def test_dask_workers_give_the_same_report_as_local_analysis(gate: Gate, cluster: LocalCluster) -> None:
    local = report_json(gate, store=gate.store.with_name("local.sqlite3"))
    before = len(gate.sim.log_requests())

    on_dask = report_json(gate, dask=cluster.scheduler_address, workers=None)

    assert on_dask == local
    # The logs were downloaded again, by the Dask workers (the local run's store is another file).
    assert len(gate.sim.log_requests()) > before
    assert on_dask["builds_analysed"] == 30


def test_dask_from_the_cli(gate: Gate, cluster: LocalCluster) -> None:
    env = Environment.for_test(gate.environ)

    status = main(["gate", "report", "--json", "--since", "2026-11-20T12:00:00Z", "--dask", cluster.scheduler_address], env)

    assert status == 0, env.stderr.getvalue()  # type: ignore[attr-defined]
    assert '"builds_analysed": 30' in env.stdout.getvalue()  # type: ignore[attr-defined]


def test_unreachable_scheduler_is_a_service_error(gate: Gate) -> None:
    # Nothing listens on port 9 (discard): connecting fails within the connect timeout.
    with pytest.raises(ServiceError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9"):
        report_json(gate, dask="tcp://127.0.0.1:9", workers=None)
