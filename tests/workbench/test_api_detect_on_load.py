"""FAPIAO_API_DETECT_ON_LOAD: a batch that stores invoices starts detection; a batch during a run queues one more
run, which sees it (its run id equals a full run's on the final data); a batch that stores nothing starts nothing."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.api_env import Api, running_api
from workbench.detect import run_detection

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def _wait(api: Api, job_id: str) -> dict[str, Any]:
    with api.client("supervisor") as c:
        deadline = time.monotonic() + 300
        while True:
            job: dict[str, Any] = c.get(f"/runs/{job_id}").json()
            if job["state"] in ("done", "failed") or time.monotonic() > deadline:
                return job
            time.sleep(0.3)


@pytest.mark.slow   # a real API server and detection runs
def test_batches_trigger_detection_once_per_run(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in (FIX / "invoices.jsonl").read_text(encoding="utf-8").splitlines()]
    later = [dict(r, invoice_number=str(r["invoice_number"])[:-3] + f"{700 + i}") for i, r in enumerate(rows)]
    with running_api(tmp_path / "ws", detect_on_load=True) as api, api.client("admin") as c:
        first = c.post("/invoices", json={"invoices": rows}).json()
        second = c.post("/invoices", json={"invoices": later}).json()
        third = c.post("/invoices", json={"invoices": later}).json()      # nothing new: no detection
        assert first["loaded"] == len(rows) and second["loaded"] == len(later) and third["loaded"] == 0
        assert first["detection_job"] and second["detection_job"] and third.get("detection_job") is None
        one, two = _wait(api, first["detection_job"]), _wait(api, second["detection_job"])
        assert one["state"] == two["state"] == "done", (one, two)
        # the job named for the second batch saw it: its run is the run of all the data (same data, same run id;
        # the first job may have read the store after the second batch landed, then both ids are equal)
        assert api.store.runs()[0].run_id == two["run_id"] == run_detection(api.store).run.run_id
        detects = {e.target for e in api.store.audit_events(0) if e.action == "detect"}
        assert {f"run:{one['run_id']}", f"run:{two['run_id']}"} <= detects


def test_jobs_queue_exactly_one_more_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    from types import SimpleNamespace

    from tests.helpers.g_case_data import open_embedded, seed
    from workbench import detect
    from workbench.api.jobs import Jobs

    store = open_embedded(tmp_path / "ws")
    admin = seed(store)["admin"]
    release, calls = threading.Event(), []

    def slow_run(_store: object, **_params: object) -> SimpleNamespace:
        calls.append(1)
        release.wait(30)
        return SimpleNamespace(run=SimpleNamespace(run_id=f"run-{len(calls)}"), rings=[], tier_counts=dict)

    monkeypatch.setattr(detect, "run_detection", slow_run)
    try:
        jobs = Jobs(store)
        first = jobs.request(admin)
        queued = [jobs.request(admin) for _ in range(3)]                 # three batches during the first run
        assert first.state == "running" and {q.job_id for q in queued} == {queued[0].job_id} != {first.job_id}
        assert queued[0].state == "queued"
        release.set()
        jobs.wait(30)
        done = jobs.get(first.job_id), jobs.get(queued[0].job_id)
        assert [(j.state, j.run_id) for j in done if j] == [("done", "run-1"), ("done", "run-2")] and len(calls) == 2
    finally:
        store.close()
