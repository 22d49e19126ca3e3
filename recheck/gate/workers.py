"""Where build analyses run: here, in local worker processes, or on a Dask cluster.

Downloads and scans are independent per build, so builds are the unit of
work: :func:`run_analyses` hands each :class:`~recheck.gate.classify.BuildTask`
to :func:`~recheck.gate.classify.analyse_build` and yields the typed results
as they finish, in any order. The caller stores each one at once, so an
interrupted run keeps every build that finished.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from ostk.errors import ServiceError, UsageError
from recheck.gate.classify import analyse_build
from recheck.gate.models import BuildAnalysis, BuildTask


def usable_cpus() -> int:
    """The CPUs this process may run on (a container or taskset may allow fewer than exist)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def run_analyses(
    tasks: Sequence[BuildTask], *, workers: int | None = None, dask: str | None = None, connect_timeout: float = 10.0
) -> Iterator[BuildAnalysis]:
    """Analyse every task; yields each result as soon as it is ready.

    ``dask``: a scheduler address (``tcp://host:8786``); otherwise ``workers``
    local processes (default: the usable CPUs; 1 runs in this process).
    """
    if not tasks:
        return iter(())
    if dask:
        return _on_dask(tasks, dask, connect_timeout)
    count = min(workers or usable_cpus(), len(tasks))
    if count <= 1:
        return (_safely(task) for task in tasks)
    return _in_processes(tasks, count)


def _safely(task: BuildTask) -> BuildAnalysis:
    try:
        return analyse_build(task)
    except Exception as exc:
        return _failed(task, exc)


def _failed(task: BuildTask, exc: BaseException) -> BuildAnalysis:
    return BuildAnalysis(
        task.build.uuid,
        complete=False,
        warnings=(f"{task.build.job_name}: analysis failed: {type(exc).__name__}: {exc}",),
    )


def _ignore_sigint() -> None:
    # Ctrl-C is the parent's to handle: it stops handing out work and kills us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _in_processes(tasks: Sequence[BuildTask], count: int) -> Iterator[BuildAnalysis]:
    try:
        context: Any = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["recheck.gate.classify"])
    except ValueError:
        context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=count, mp_context=context, initializer=_ignore_sigint)
    futures: dict[Future[BuildAnalysis], BuildTask] = {pool.submit(analyse_build, task): task for task in tasks}
    try:
        pending = set(futures)
        while pending:
            # A timeout keeps the main thread responsive to Ctrl-C.
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    yield future.result()
                except Exception as exc:
                    yield _failed(futures[future], exc)
    except BaseException:
        # Ctrl-C or the consumer stopped: nothing more is started, and running
        # downloads are killed rather than waited for.
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _on_dask(tasks: Sequence[BuildTask], address: str, connect_timeout: float) -> Iterator[BuildAnalysis]:
    try:
        from distributed import Client, as_completed
    except ImportError as exc:
        raise UsageError("--dask needs Dask: pip install 'ostk[dask]'") from exc
    try:
        client = Client(address, timeout=connect_timeout, set_as_default=False)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise ServiceError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
    try:
        # pure=False: a build analysed twice must run twice (its logs may have appeared).
        futures = client.map(analyse_build, list(tasks), pure=False)
        by_key = {future.key: task for future, task in zip(futures, tasks, strict=True)}
        try:
            # loop=: the client is not the process default (set_as_default=False).
            for future in as_completed(futures, loop=client.loop):  # type: ignore[no-untyped-call]
                try:
                    yield future.result()
                except Exception as exc:
                    yield _failed(by_key[future.key], exc)
        except BaseException:
            client.cancel(futures)  # type: ignore[no-untyped-call]
            raise
    finally:
        client.close()  # type: ignore[no-untyped-call]
