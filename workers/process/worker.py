"""The worker process: an RQ worker on whose-key's queues, with the scheduler.

Jobs run inside the worker process (SimpleWorker) so the assumed-role session cache and warm
boto3 clients survive from one lookup to the next. A heartbeat thread keeps a running job's
registry entry fresh with a short TTL, so when a worker dies (even by SIGKILL) another worker
notices within about a minute and RQ retries the job.

Everything here goes through RQ's public extension points: a custom job class (`job_class`)
whose `func` hands the job the worker's runtime and its decoded arguments, the worker's
`execute_job` wrapped (not re-implemented) to run the heartbeat beside it, and a logging filter
that keeps job arguments out of RQ's failure log lines.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.executions import Execution
from rq.job import Job
from rq.serializers import JSONSerializer

from core.data_loss import DataMarker
from core.jobs import BACKGROUND_QUEUE, QUEUES, decode_arguments
from core.settings import Settings
from core.signals import relay_signals_to_main_thread
from workers.process.schedules import start_schedules
from workers.runtime import Runtime, build_runtime
from workers.ticker import ticking

log = logging.getLogger(__name__)

# A running job's registry entry lives this long unless refreshed; refreshed this often.
HEARTBEAT_TTL = 20
HEARTBEAT_EVERY = 5
# How often an idle worker wakes to clean registries (finding jobs of dead workers).
MAINTENANCE_INTERVAL = 15
WORKER_TTL = 35
# How long the thread that listens for RQ's commands (stop-job, shutdown) waits for one message.
# RQ waits 60 s; since redis-py 8.2 stopping that thread joins it, so a warm shutdown (SIGTERM in
# a rolling restart) could hang for up to a minute after the job was done.
COMMAND_POLL = 1.0
# What RQ puts on its failure log records that holds what people typed.
_JOB_ARGUMENT_FIELDS = ("arguments", "kwargs")


class RuntimeJob(Job):
    """A job run by a whose-key worker: its function is called as `job(runtime, args)`, with the
    worker's runtime and the arguments decoded into the type the job table (`core.jobs`) names.

    Each worker makes a subclass of its own that carries its runtime (`for_runtime`), so every
    job the worker fetches, and the failure callbacks RQ calls with that job, reach it.
    """

    runtime: ClassVar[Runtime | None] = None

    @classmethod
    def for_runtime(cls, runtime: Runtime) -> type[RuntimeJob]:
        return type("WorkerJob", (cls,), {"runtime": runtime})

    @property
    def func(self) -> Callable[..., Any] | None:
        target = super().func
        if target is None:
            return None
        runtime = self.runtime
        if runtime is None:
            raise RuntimeError("whose-key jobs run in a whose-key worker, which hands them its runtime")
        func_name = str(self.func_name)

        def call(data: Any) -> Any:
            return target(runtime, decode_arguments(func_name, data))

        return call


class WhoseKeyWorker(SimpleWorker):
    _execution: Execution | None = None
    # This process's memory of Redis's data marker, looked at on every maintenance tick.
    data_marker: DataMarker | None = None

    def run_maintenance_tasks(self) -> None:
        self.check_data_marker()
        super().run_maintenance_tasks()  # type: ignore[no-untyped-call]

    def check_data_marker(self) -> None:
        """Notice a Redis that lost its data (core/data_loss.py); Redis away is RQ's to report."""
        if self.data_marker is None:
            return
        try:
            self.data_marker.check()
        except RedisError as exc:
            log.warning("data marker not checked", extra={"error": type(exc).__name__})

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        return HEARTBEAT_TTL

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        # A Redis that restarted without persistence has forgotten this worker: register again,
        # so monitoring (and RQ's own worker list) sees it, instead of a bare heartbeat hash.
        if pipeline is None and not self.connection.exists(self.key):
            log.warning("worker registration lost (Redis restarted?); registering again")
            self.register_birth()  # type: ignore[no-untyped-call]
        super().heartbeat(timeout, pipeline)

    def subscribe(self) -> None:
        """RQ's command channel, listened to with a short wait (COMMAND_POLL) so shutdown is prompt."""
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]  # RQ annotates it None
            sleep_time=COMMAND_POLL, daemon=True, exception_handler=self._pubsub_exception_handler
        )

    def prepare_execution(self, job: Job) -> Execution:
        # Kept for the heartbeat thread, which refreshes this execution's registry entry.
        self._execution = super().prepare_execution(job)
        return self._execution

    def execute_job(self, job: Job, queue: Queue) -> None:
        with self._heartbeats(job):
            super().execute_job(job, queue)

    @contextmanager
    def _heartbeats(self, job: Job) -> Iterator[None]:
        """Beat every HEARTBEAT_EVERY seconds while the job runs (SimpleWorker has no horse to watch)."""
        self._execution = None

        def beat() -> None:
            if self._execution is None:
                return
            try:
                self.maintain_heartbeats(job, self._execution)
            except Exception:  # noqa: BLE001 - a missed beat must not kill the job
                log.warning("heartbeat failed", extra={"job_id": job.id})

        with ticking(HEARTBEAT_EVERY, beat, name="heartbeat"):
            yield


class HideJobArguments(logging.Filter):
    """RQ logs a failed job's arguments, which hold what people typed: drop them, keep the rest."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name in _JOB_ARGUMENT_FIELDS:
            if hasattr(record, name):
                setattr(record, name, "<hidden>")
        return True


def make_worker(runtime: Runtime, queue_names: tuple[str, ...] = QUEUES, **kwargs: Any) -> WhoseKeyWorker:
    job_class = RuntimeJob.for_runtime(runtime)
    queues = [
        Queue(name, connection=runtime.redis, serializer=JSONSerializer, job_class=job_class) for name in queue_names
    ]
    logging.getLogger("rq.worker").addFilter(HideJobArguments())
    return WhoseKeyWorker(
        queues,
        connection=runtime.redis,
        serializer=JSONSerializer,
        job_class=job_class,
        worker_ttl=WORKER_TTL,
        maintenance_interval=MAINTENANCE_INTERVAL,
        # A description may carry job arguments (RQ's default is the call with its arguments).
        log_job_description=False,
        **kwargs,
    )


def run_worker(settings: Settings, queue_names: tuple[str, ...] = QUEUES, *, burst: bool = False) -> None:
    """One RQ worker process on `queue_names`, served in that order (lookups first)."""
    relay_signals_to_main_thread()  # a SIGTERM caught by any thread starts the warm shutdown at once
    runtime = build_runtime(settings)
    worker = make_worker(runtime, queue_names)
    role = "worker:" + ("all" if BACKGROUND_QUEUE in queue_names else "interactive")
    worker.data_marker = DataMarker(runtime.redis, role, settings.audit_channel)
    worker.check_data_marker()  # remember the marker from the start (writing it on a first start)
    runtime.org.warm()
    if BACKGROUND_QUEUE in queue_names:  # only processes that run background work schedule it
        start_schedules(runtime.redis, settings)
    log.info("worker starting", extra={"queues": list(queue_names), "settings": repr(settings)})
    worker.work(with_scheduler=True, burst=burst, logging_level="WARNING")
