"""The worker process: an RQ worker on whose-key's queues, with the scheduler.

Jobs run inside the worker process (SimpleWorker) so the assumed-role session cache and warm
boto3 clients survive from one lookup to the next. A heartbeat thread keeps a running job's
registry entry fresh with a short TTL, so when a worker dies (even by SIGKILL) another worker
notices within about a minute and RQ retries the job.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from rq import Queue, SimpleWorker
from rq.job import Job
from rq.serializers import JSONSerializer

from core.queue import BACKGROUND_QUEUE, QUEUES
from core.settings import Settings
from workers.hygiene.schedule import start_digest_schedule
from workers.notice_schedule import start_notice_retry_schedule
from workers.runtime import Runtime, build_runtime
from workers.schedule import start_sweep_schedule

log = logging.getLogger(__name__)

# A running job's registry entry lives this long unless refreshed; refreshed this often.
HEARTBEAT_TTL = 20
HEARTBEAT_EVERY = 5
# How often an idle worker wakes to clean registries (finding jobs of dead workers).
MAINTENANCE_INTERVAL = 15
WORKER_TTL = 35


class RuntimeJob(Job):
    """A job whose function takes the worker's runtime first: `job(runtime, args)`.

    The worker sets `runtime` on each job it runs, so jobs get their dependencies passed in
    instead of reaching for a module-level one; RQ's failure callbacks get the same job object.
    """

    runtime: Runtime | None = None

    def _execute(self) -> Any:
        # RQ's one hook between "function resolved" and "function called" (rq 2.x and 3.x).
        if self.runtime is None or self.func is None:
            raise RuntimeError("whose-key jobs run in a whose-key worker, which hands them its runtime")
        return self.func(self.runtime, *self.args, **self.kwargs)


class WhoseKeyWorker(SimpleWorker):
    def __init__(self, *args: Any, runtime: Runtime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.runtime = runtime

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        return HEARTBEAT_TTL

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        # A Redis that restarted without persistence has forgotten this worker: register again,
        # so monitoring (and RQ's own worker list) sees it, instead of a bare heartbeat hash.
        if pipeline is None and not self.connection.exists(self.key):
            log.warning("worker registration lost (Redis restarted?); registering again")
            self.register_birth()  # type: ignore[no-untyped-call]
        super().heartbeat(timeout, pipeline)

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        # RQ's own version logs the job's arguments, which hold what people typed; this one logs
        # the job, its function and the traceback only.
        log.error(
            "job failed",
            exc_info=exc_info if exc_info and exc_info[0] is not None else None,
            extra={"job_id": job.id, "queue": job.origin, "func": _func_name(job)},
        )
        for handler in self._exc_handlers:
            # As RQ does: None means "go on", any other falsy answer stops the chain.
            outcome = handler(job, *exc_info)
            if outcome is not None and not outcome:
                break

    def execute_job(self, job: Job, queue: Queue) -> None:
        if isinstance(job, RuntimeJob):
            job.runtime = self.runtime
        execution = self.prepare_execution(job)
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(HEARTBEAT_EVERY):
                try:
                    self.maintain_heartbeats(job, execution)
                except Exception:  # noqa: BLE001 - a missed beat must not kill the job
                    log.warning("heartbeat failed", extra={"job_id": job.id})

        beater = threading.Thread(target=beat, name="heartbeat", daemon=True)
        beater.start()
        try:
            self.perform_job(job, queue, execution)
        finally:
            stop.set()
            beater.join(timeout=1)
        self.set_state("idle")


def _func_name(job: Job) -> str:
    try:
        return str(job.func_name)
    except Exception:  # noqa: BLE001 - a job that cannot be read still gets its failure logged
        return "<unreadable>"


def make_worker(runtime: Runtime, queue_names: tuple[str, ...] = QUEUES, **kwargs: Any) -> WhoseKeyWorker:
    queues = [
        Queue(name, connection=runtime.redis, serializer=JSONSerializer, job_class=RuntimeJob) for name in queue_names
    ]
    return WhoseKeyWorker(
        queues,
        runtime=runtime,
        connection=runtime.redis,
        serializer=JSONSerializer,
        job_class=RuntimeJob,
        worker_ttl=WORKER_TTL,
        maintenance_interval=MAINTENANCE_INTERVAL,
        # A description may carry job arguments (RQ's default is the call with its arguments).
        log_job_description=False,
        **kwargs,
    )


def run_worker(settings: Settings, queue_names: tuple[str, ...] = QUEUES, *, burst: bool = False) -> None:
    """One RQ worker process on `queue_names`, served in that order (lookups first)."""
    runtime = build_runtime(settings)
    worker = make_worker(runtime, queue_names)
    runtime.finder.org.warm()
    if BACKGROUND_QUEUE in queue_names:  # only processes that run background work schedule it
        start_sweep_schedule(runtime.redis, settings.sweep_interval)
        start_digest_schedule(runtime.redis, settings.report_interval)
        start_notice_retry_schedule(runtime.redis, settings.notice_retry_interval)
    log.info("worker starting", extra={"queues": list(queue_names), "settings": repr(settings)})
    worker.work(with_scheduler=True, burst=burst, logging_level="WARNING")
