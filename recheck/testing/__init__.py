"""A CI simulator for tests: Gerrit, Zuul, a log server and Launchpad on 127.0.0.1.

``ostk recheck`` talks to four services. :class:`CISimulator` serves all four
over real HTTP on a free loopback port, speaking their real API shapes
(Gerrit's ``)]}'`` prefix and ``/a/`` Basic auth, Zuul's build API, a log
server with gzip and faults, Launchpad's ``searchTasks``), so tests of
recheck — and of your own scripts built on it — exercise the real client
code end to end::

    import recheck
    from recheck.testing import CISimulator, SimBug, SimJob

    with CISimulator() as sim:
        sim.add_change(123456, project="openstack/nova")
        sim.add_buildset(123456, 1, pipeline="check", jobs=[
            SimJob("tempest-full", "FAILURE", log=b"2026-11-20 08:00:00.1 | {0} tempest.api.x.T.test_y [1.0s] ... FAILED\\n"),
            SimJob("openstack-tox-pep8", "SUCCESS"),
        ])
        sim.add_bug(SimBug(1900001, "tempest.api.x.T.test_y fails", projects=("nova",)))
        report = recheck.check_review("123456", gerrit=sim.gerrit_url, zuul=sim.zuul_url,
                                      launchpad=sim.launchpad_url)
        assert sim.posted_messages(123456) == []    # nothing posted without post=True

Real data: :meth:`CISimulator.load_gerrit_events` replays real Jenkins
comments, :meth:`CISimulator.load_logstash_hits` rebuilds the failed builds
behind real elastic-recheck hits, and every Launchpad task is shaped on a
real ``bug_task`` resource.

Faults: :meth:`CISimulator.fail_next` (503 bursts per service),
``launchpad_down``, and per-log ``expired`` (404), ``rate`` (bytes/s per
connection), ``truncate_at`` (connection closed mid-body).
"""
from recheck.testing.replay import load_gerrit_events, load_logstash_hits
from recheck.testing.simulator import CISimulator, SimBug, SimJob, SimLog, gzip_bytes

__all__ = ["CISimulator", "SimBug", "SimJob", "SimLog", "gzip_bytes", "load_gerrit_events", "load_logstash_hits"]
