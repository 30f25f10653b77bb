"""Detection started through the API: one at a time, on a background thread; callers poll the job."""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from graph.store import Store
from workbench import alerts, audit
from workbench.auth import User


@dataclass(frozen=True)
class Job:
    job_id: str
    state: str
    started_at: datetime
    params: dict[str, Any] = field(default_factory=dict)
    finished_at: datetime | None = None
    run_id: str | None = None
    error: str | None = None
    rings: int | None = None
    tiers: dict[str, int] | None = None


class Jobs:
    """The API process's detection jobs (newest first when listed); at most one runs at a time."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self.again: Job | None = None          # a run queued because data arrived during the current one
        self.again_user: User | None = None
        self.fast_thread: threading.Thread | None = None   # the fast update (快速更新) under way, if any
        self.fast_again = False                             # data arrived while it ran: once more after it

    def running(self) -> Job | None:
        with self.lock:
            return next((j for j in self.jobs.values() if j.state in ("queued", "running")), None)

    def start(self, user: User, params: dict[str, Any]) -> tuple[Job, bool]:
        """(job, started): a detection already under way is returned instead of starting a second one."""
        with self.lock:
            busy = next((j for j in self.jobs.values() if j.state in ("queued", "running")), None)
            if busy is not None:
                return busy, False
            job = Job(f"job-{secrets.token_hex(6)}", "running", audit.now(), dict(params))
            self.jobs[job.job_id] = job
        self._thread(job, user)
        return job, True

    def _thread(self, job: Job, user: User) -> None:
        t = threading.Thread(target=self._run, args=(job, user), name=f"fapiao-{job.job_id}", daemon=True)
        self.threads.append(t)
        t.start()

    def request(self, user: User) -> Job:
        """Detection with default parameters because data arrived: start it now, or, while a run is under way,
        once more when that run ends (many batches during one run cause one more run, not many). Returns the
        job that will see the new data. A fast update (:mod:`workbench.fast_update`) answers first: provisional
        tiers and new-high alerts of the taxpayers whose invoices changed, within seconds, on its own thread."""
        self.fast(user)
        with self.lock:
            busy = next((j for j in self.jobs.values() if j.state in ("queued", "running")), None)
            if busy is not None:
                if self.again is None:
                    self.again = Job(f"job-{secrets.token_hex(6)}", "queued", audit.now(), {})
                    self.jobs[self.again.job_id] = self.again
                    self.again_user = user
                return self.again
        return self.start(user, {})[0]

    def fast(self, user: User) -> None:
        """Start a fast update on its own thread, or, while one runs, once more after it."""
        with self.lock:
            if self.fast_thread is not None:
                self.fast_again = True
                return
            t = threading.Thread(target=self._fast_loop, args=(user,), name="fapiao-fast-update", daemon=True)
            self.fast_thread = t
            self.threads.append(t)
        t.start()

    def _fast_loop(self, user: User) -> None:
        from workbench import fast_update

        while True:
            with self.lock:
                self.fast_again = False
            try:
                fast_update.run(self.store, actor=user.username)
            except Exception:   # provisional only: the exact run that follows answers anyway; say why in the log
                logging.getLogger(__name__).exception("fast update failed")
            with self.lock:
                if not self.fast_again:
                    self.fast_thread = None
                    return

    def _run(self, job: Job, user: User) -> None:
        from workbench.detect import run_detection

        fast = self.fast_thread
        if fast is not None:          # let the fast update answer before the exact run takes the cores
            fast.join(60)
        try:
            result = run_detection(self.store, **job.params)
            done = replace(job, state="done", finished_at=audit.now(), run_id=result.run.run_id,
                           rings=len(result.rings), tiers=result.tier_counts())
            audit.record(self.store, user, "detect", f"run:{result.run.run_id}", f"api job {job.job_id}")
            alerts.evaluate(self.store)
        except Exception as e:   # the job reports it; the server keeps serving
            done = replace(job, state="failed", finished_at=audit.now(), error=f"{type(e).__name__}: {e}"[:500])
        with self.lock:
            self.jobs[job.job_id] = done
            queued, self.again = self.again, None
            if queued is not None:
                started = replace(queued, state="running", started_at=audit.now())
                self.jobs[queued.job_id] = started
        if queued is not None:
            self._thread(started, self.again_user or user)

    def get(self, job_id: str) -> Job | None:
        with self.lock:
            return self.jobs.get(job_id)

    def all(self) -> list[Job]:
        with self.lock:
            return sorted(self.jobs.values(), key=lambda j: j.started_at, reverse=True)

    def wait(self, timeout: float) -> None:
        """Join the detection threads, including a follow-up run started while waiting."""
        joined: set[threading.Thread] = set()
        while pending := [t for t in list(self.threads) if t not in joined]:
            for t in pending:
                t.join(timeout)
                joined.add(t)
