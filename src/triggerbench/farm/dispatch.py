"""Fan a plan's jobs out over a Dask cluster and write each record as it comes back.

Dask does the scheduling: a job is submitted with the resources it needs (``farm.resources``)
and runs only on a worker that has them; a worker that dies mid-job has its job run again
elsewhere until the scheduler's ``allowed-failures``, after which the job is ``KilledWorker`` and
its record says so. The driver validates every record against the schema on arrival and writes
it atomically, once: a job's record is written when its future completes, and each future
completes once, however many times its task ran.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dask
from pydantic import ValidationError

from triggerbench.errors import UserInputError
from triggerbench.farm.contexts import driver_context, share_all
from triggerbench.farm.plan import FarmJob
from triggerbench.farm.resources import format_resources
from triggerbench.measure.session import unmeasured_record
from triggerbench.results.store import write_record
from triggerbench.runners.base import one_line
from triggerbench.schema import BenchmarkRecord, ErrorInfo, Status

#: The address that starts a cluster on this host instead of connecting to a scheduler.
LOCAL = "local"
#: Seconds to reach a scheduler before giving up with one line.
CONNECT_TIMEOUT_S = 10.0
#: Seconds a job may wait for a worker with its resources once none is left (a backstop: a plan
#: needing a resource no worker has is refused before anything is submitted).
NO_WORKERS_TIMEOUT_S = 60.0


@dataclass
class FarmSummary:
    """What a farm run did: records written (and how many say failed), and jobs left unrecorded."""

    n_jobs: int
    written: int = 0
    failed: int = 0
    duplicates: int = 0
    unrecorded: list[str] = field(default_factory=list)


OnRecord = Callable[[FarmJob, BenchmarkRecord], None]


def scheduler_config(retries: int) -> dict[str, object]:
    """The scheduler settings a farm run needs (applied to a local cluster; see README for remote)."""
    return {
        # A worker dying with the job on it counts against the job; beyond this it is KilledWorker.
        "distributed.scheduler.allowed-failures": retries,
        "distributed.scheduler.no-workers-timeout": f"{NO_WORKERS_TIMEOUT_S:g}s",
    }


@contextlib.contextmanager
def connect(
    scheduler: str, resources: dict[str, float], n_workers: int = 1, retries: int = 2
) -> Iterator[object]:
    """A ``distributed.Client`` on ``scheduler``, or on a new cluster here for ``local``.

    ``scheduler`` is a ``tcp://`` or ``tls://`` address, or ``local``: a cluster of ``n_workers``
    processes on this host, each advertising ``resources``, listening on loopback only.

    TLS comes from Dask's own configuration (``distributed.comm.tls.*``), as for any client.
    """
    from distributed import Client, LocalCluster

    with contextlib.ExitStack() as stack:
        if scheduler == LOCAL:
            stack.enter_context(dask.config.set(scheduler_config(retries)))
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=n_workers,
                    # A thread per device resource: jobs on different devices may overlap.
                    threads_per_worker=max(1, len(resources)),
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    resources=resources,
                    silence_logs=logging.ERROR,
                )
            )
            yield stack.enter_context(Client(cluster))
            return
        if "://" not in scheduler:
            raise UserInputError(
                f"--scheduler {scheduler!r}: give tcp://HOST:PORT, tls://HOST:PORT or 'local'"
            )
        try:
            client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S:g}s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise UserInputError(
                f"cannot reach the Dask scheduler at {scheduler} within {CONNECT_TIMEOUT_S:g} s: "
                f"{one_line(exc)}"
            ) from None
        yield stack.enter_context(client)


def worker_hosts(client) -> list[str]:
    """The host names of the workers (each asked for its own: a scheduler may see only addresses)."""
    return sorted(set(client.run(socket.gethostname).values()))


def worker_resources(client) -> dict[str, dict[str, float]]:
    """Each worker's advertised resources, by worker address."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    return {addr: dict(info.get("resources") or {}) for addr, info in workers.items()}


def check_resources(jobs: list[FarmJob], workers: dict[str, dict[str, float]]) -> None:
    """Refuse (one line) a plan with a job no worker can take: it would wait forever."""
    if not workers:
        raise UserInputError("the Dask scheduler has no workers; start one per host with `dask worker ...`")
    missing: dict[str, list[str]] = {}
    for fj in jobs:
        if not any(all(have.get(k, 0) >= v for k, v in fj.resources.items()) for have in workers.values()):
            missing.setdefault(format_resources(fj.resources), []).append(fj.job.runner)
    if missing:
        needs = "; ".join(f"{res} (runner {', '.join(sorted(set(r)))})" for res, r in missing.items())
        offered = sorted({format_resources(have) or "none" for have in workers.values()})
        raise UserInputError(
            f"no worker has the resources these jobs need: {needs}; the workers offer: {' | '.join(offered)}"
        )


def _lost_record(fj: FarmJob, error: ErrorInfo) -> BenchmarkRecord:
    """The failed record of a job that came back with no record (its worker died, its task raised)."""
    ctx = driver_context(fj.workload, fj.job.settings.model_dump_json())
    return unmeasured_record(ctx, fj.job, Status.FAILED, error)


def _error_of(exc: BaseException, fj: FarmJob) -> ErrorInfo:
    from distributed.scheduler import KilledWorker, NoValidWorkerError

    if isinstance(exc, KilledWorker):
        died = exc.allowed_failures + 1
        message = (
            f"the worker running it died {died} time(s) (last {exc.last_worker.address}); "
            "Dask's allowed-failures is spent"
        )
    elif isinstance(exc, NoValidWorkerError):
        message = f"no worker with {format_resources(fj.resources)} left to run it"
    else:
        message = one_line(exc) or type(exc).__name__
    return ErrorInfo(type=type(exc).__name__, message=message)


def _record_of(future, fj: FarmJob) -> BenchmarkRecord:
    """The job's record from its finished future: the worker's, validated, or a failed one."""
    if future.status == "finished":
        try:
            record = BenchmarkRecord.model_validate_json(future.result())
        except ValidationError as exc:
            error = ErrorInfo(
                type="InvalidRecord", message=f"the worker's record fails the schema: {one_line(exc)}"
            )
            return _lost_record(fj, error)
        if record.run_id != fj.job.run_id:
            error = ErrorInfo(type="InvalidRecord", message=f"the worker answered with run {record.run_id}")
            return _lost_record(fj, error)
        return record
    if future.status == "cancelled":
        return _lost_record(fj, ErrorInfo(type="Cancelled", message="the scheduler cancelled the job"))
    return _lost_record(fj, _error_of(future.exception(), fj))


def run_jobs(
    client,
    jobs: list[FarmJob],
    out_dir: Path,
    retries: int = 2,
    on_record: OnRecord | None = None,
    shared_dir: Path | None = None,
) -> FarmSummary:
    """Submit every job, write each record to ``out_dir`` as it arrives; return what was done.

    ``retries``: times a job whose task raised is run again (Dask's ``retries``); a worker that
    dies is the scheduler's ``allowed-failures`` (set to the same number on a local cluster).
    ``shared_dir``: a folder every worker reads; the driver builds each workload there once
    (``farm.contexts``). None: each worker builds its own.
    """
    from distributed import as_completed

    from triggerbench.farm.task import measure_job

    check_resources(jobs, worker_resources(client))
    keys = {(fj.workload, fj.job.settings.model_dump_json()) for fj in jobs}
    shared = share_all(keys, shared_dir) if shared_dir is not None else {}
    summary = FarmSummary(n_jobs=len(jobs))
    by_key: dict[str, FarmJob] = {}
    futures = []
    for fj in jobs:
        key = f"triggerbench-{fj.label.replace(' ', '-')}-{fj.job.run_id}"
        by_key[key] = fj
        futures.append(
            client.submit(
                measure_job,
                fj.workload,
                fj.job.model_dump_json(),
                shared.get((fj.workload, fj.job.settings.model_dump_json())),
                key=key,
                resources=fj.resources,
                retries=retries,
                pure=False,
            )
        )
    written: set[str] = set()
    try:
        for future in as_completed(futures):
            fj = by_key[future.key]
            try:
                record = _record_of(future, fj)
            except Exception as exc:  # the driver cannot even describe the job (its workload fails here)
                summary.unrecorded.append(f"{fj.label}: {one_line(exc)}")
                continue
            finally:
                future.release()
            if record.run_id in written:  # cannot happen with one future per job; never written twice
                summary.duplicates += 1
                continue
            write_record(record, out_dir)
            written.add(record.run_id)
            summary.written += 1
            summary.failed += record.status == Status.FAILED
            if on_record is not None:
                on_record(fj, record)
    except BaseException:
        client.cancel(futures)  # Ctrl-C or a write error: nothing keeps measuring for no one
        raise
    return summary
