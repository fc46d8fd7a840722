"""Chunked job kinds (jobs.kinds.chunked_kind): items planned once (a fixed total), chunks
sized for the live workers, a killed worker's chunk run again with progress that never goes
down, one final step run exactly once; stalled jobs with no ETA; the API's job fields.

A test kind records what it did, so "each item once" is checked directly; jobs run inline
(Celery eager mode) or chunk by chunk by hand where a worker's death is simulated."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from smartalbum.jobs import kinds, store, tasks
from smartalbum.jobs.submit import submit_job
from smartalbum.library.schema import Job, JobChunk, JobWorker

KIND = "test_chunked"
N_ITEMS = 23


class Recorder:
    """The test kind's effects: items done (with the attempt), final steps run."""

    def __init__(self) -> None:
        self.done: list[tuple[str, int]] = []
        self.finals = 0
        self.die_after: int | None = None  # simulate a worker killed after n items

    def plan(self, ctx: kinds.JobContext) -> list[str]:
        return [f"item{i:02d}" for i in range(int(ctx.params.get("n", N_ITEMS)))]

    def chunk(self, ctx: kinds.ChunkContext) -> None:
        for item in ctx.items:
            if (item, 0) in {(d, 0) for d, _ in self.done}:
                ctx.progress(1)  # done by a killed attempt: skipped, still counted
                continue
            if self.die_after is not None and len(self.done) >= self.die_after:
                raise SystemExit("killed")  # the worker dies here, nothing is recorded
            self.done.append((item, ctx.attempts))
            ctx.progress(1)

    def finish(self, ctx: kinds.JobContext) -> dict[str, Any]:
        self.finals += 1
        return {"items": len(self.done)}


@pytest.fixture
def recorder():
    rec = Recorder()
    kinds.chunked_kind(KIND, plan=rec.plan, finish=rec.finish, smallest=1, largest=64)(rec.chunk)
    yield rec
    kinds.CHUNKED.pop(KIND, None)


def _chunks(factory, job_id: str) -> list[JobChunk]:
    with factory() as s:
        return list(
            s.scalars(select(JobChunk).where(JobChunk.job_id == job_id).order_by(JobChunk.seq))
        )


@pytest.mark.parametrize(
    "total, workers, expected",
    [
        (20, 4, 2),  # small job: 20 photos on 4 workers -> 10 chunks, every worker busy
        (20, 1, 5),
        (3, 8, 1),  # never below the smallest
        (100_000, 2, 64),  # never above the largest
        (0, 2, 1),
    ],
)
def test_chunk_size_adapts_to_the_workers(total: int, workers: int, expected: int) -> None:
    assert store.chunk_size(total, workers, 4, 1, 64) == expected


def test_live_workers_come_from_heartbeats_and_age_out(factory) -> None:
    assert store.live_workers(factory) == 0
    store.worker_heartbeat(factory, "host:1", 1)
    store.worker_heartbeat(factory, "host:2", 3)
    store.worker_heartbeat(factory, "host:2", 3)  # again: one row
    assert store.live_workers(factory) == 4
    with factory.begin() as s:  # host:1 was killed a minute ago
        s.execute(
            update(JobWorker)
            .where(JobWorker.name == "host:1")
            .values(heartbeat_at=store.utcnow() - timedelta(seconds=60))
        )
    assert store.live_workers(factory) == 3
    store.worker_gone(factory, "host:2")
    assert store.live_workers(factory) == 0


def test_a_chunked_job_does_each_item_once_then_its_final_step(
    settings, factory, eager_app, recorder
) -> None:
    for i in range(3):  # three live workers: 23 items / (3 x 4) -> chunks of 2
        store.worker_heartbeat(factory, f"host:{i}", 1)
    job_id = submit_job(settings, factory, KIND, {}, app=eager_app)
    job = store.get_job(factory, job_id)
    assert job.status == "done" and job.done == job.total == N_ITEMS
    assert sorted(d for d, _ in recorder.done) == [f"item{i:02d}" for i in range(N_ITEMS)]
    assert recorder.finals == 1 and job.result == {"items": N_ITEMS}
    chunks = _chunks(factory, job_id)
    assert [len(c.items) for c in chunks] == [2] * 11 + [1] + [0]  # + the final step
    assert {c.status for c in chunks} == {"done"}


def test_without_heartbeats_a_small_job_is_still_cut_for_a_couple_of_workers(
    settings, factory, eager_app, recorder
) -> None:
    job_id = submit_job(settings, factory, KIND, {"n": 16}, app=eager_app)
    sizes = [len(c.items) for c in _chunks(factory, job_id) if c.items]
    assert sizes == [2] * 8  # 16 / (FALLBACK_WORKERS=2 x 4)


def test_a_killed_chunk_is_run_again_progress_never_goes_down(settings, factory, recorder):
    store.worker_heartbeat(factory, "host:1", 1)  # one worker: 6 items in chunks of 2
    job_id = store.create_job(factory, KIND, {"n": 6})
    sent: list[int] = []
    tasks.plan(settings, factory, job_id, send=sent.append)
    assert store.get_job(factory, job_id).total == 6 and len(sent) == 3  # chunks of 2
    progress = [store.get_job(factory, job_id).done]

    tasks.run_chunk(settings, factory, sent[0])
    progress.append(store.get_job(factory, job_id).done)
    recorder.die_after = 3  # the second chunk's worker dies after its first item
    with pytest.raises(SystemExit):
        tasks.run_chunk(settings, factory, sent[1])
    progress.append(store.get_job(factory, job_id).done)
    recorder.die_after = None
    old = store.utcnow() - timedelta(seconds=settings.jobs.stale_after_s * 2)
    with factory.begin() as s:
        s.execute(update(JobChunk).where(JobChunk.id == sent[1]).values(heartbeat_at=old))
    _, stale = store.stale_work(factory, settings.jobs.stale_after_s)
    assert stale == [sent[1]]  # the sweep sends it again
    tasks.run_chunk(settings, factory, sent[1])
    progress.append(store.get_job(factory, job_id).done)
    tasks.run_chunk(settings, factory, sent[2])  # the last chunk: then the final step
    job = store.get_job(factory, job_id)
    progress.append(job.done)

    assert progress == sorted(progress) and progress == [0, 2, 3, 4, 6]
    assert job.status == "done" and job.done == job.total == 6 and recorder.finals == 1
    items = [d for d, _ in recorder.done]
    assert sorted(items) == [f"item{i:02d}" for i in range(6)]  # each once
    assert ("item03", 2) in recorder.done  # the killed chunk's rest, by its second attempt


def test_the_final_step_is_released_to_one_caller_only(settings, factory, recorder) -> None:
    job_id = store.create_job(factory, KIND, {"n": 2})
    store.start_planning(factory, job_id)
    a, b = store.add_chunks(factory, job_id, [["x"], ["y"]], final=True)
    claims = [store.claim_chunk(factory, c, 60) for c in (a, b)]
    store.finish_chunk(factory, claims[0])
    assert store.release_final(factory, job_id) is None  # b still runs
    store.finish_chunk(factory, claims[1])
    released = [store.release_final(factory, job_id) for _ in range(3)]
    assert released[0] is not None and released[1:] == [None, None]
    assert not store.maybe_finish_job(factory, job_id)  # the final step is still to run


def test_a_cancelled_job_cancels_its_held_final_step(settings, factory, recorder) -> None:
    job_id = store.create_job(factory, KIND, {"n": 2})
    store.start_planning(factory, job_id)
    store.add_chunks(factory, job_id, [["x", "y"]], final=True)
    store.cancel_job(factory, job_id)
    assert {c.status for c in _chunks(factory, job_id)} == {"cancelled"}


def test_a_job_without_progress_is_stalled_and_shows_no_eta(factory) -> None:
    job_id = store.create_job(factory, "index", {"paths": []})
    now = store.utcnow()
    with factory.begin() as s:
        s.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(
                status="running",
                total=120,
                done=89,
                started_at=now - timedelta(seconds=200),
                progress_at=now - timedelta(seconds=160),  # the 160 s stall of issue 14
            )
        )
    job = store.get_job(factory, job_id)
    stalled = store.job_to_dict(job, now=now, stall_after_s=30)
    assert stalled["stalled"] and stalled["eta_s"] is None and stalled["idle_s"] == 160
    assert stalled["rate"]  # the average rate is still shown; the ETA from it is not
    fresh = store.job_to_dict(job, now=now, stall_after_s=300)
    assert not fresh["stalled"] and fresh["eta_s"] is not None
    # progress clears the stall
    claim = store.Claim(0, job_id, ["a"], 1, {})
    with factory.begin() as s:
        s.add(JobChunk(job_id=job_id, seq=0, items=["a"], status="running", done=0, errors=0,
                       attempts=1))  # fmt: skip
    claim.chunk_id = _chunks(factory, job_id)[0].id
    store.chunk_progress(factory, claim, 1)
    again = store.job_to_dict(store.get_job(factory, job_id), stall_after_s=30)
    assert not again["stalled"] and again["done"] == 89  # a sum below 89: never backwards
    for status in ("queued", "done"):
        with factory.begin() as s:
            s.execute(update(Job).where(Job.id == job_id).values(status=status))
        d = store.job_to_dict(store.get_job(factory, job_id), now=now, stall_after_s=1)
        assert not d["stalled"] and d["idle_s"] is None


def test_a_rerun_whole_job_keeps_its_total_and_never_counts_down(settings, factory) -> None:
    """A re-sent whole job finds fewer items left: it used to end 'done 89/89' of 120."""
    job_id = store.create_job(factory, "rehead", {})
    kinds.start(factory, job_id)
    first = kinds.JobContext(settings, factory, job_id, {})
    first.total(120)
    first.progress(31)
    kinds.start(factory, job_id)  # the worker died; the job is sent again
    second = kinds.JobContext(settings, factory, job_id, {}, rerun=True)
    second.total(89)  # what is left
    seen = []
    for _ in range(89):
        second.progress(1)
        seen.append(store.get_job(factory, job_id).done)
    assert seen == sorted(seen) and seen[0] == 31 and store.get_job(factory, job_id).total == 120
    kinds.finish(factory, job_id, {})
    job = store.get_job(factory, job_id)
    assert job.status == "done" and job.done == job.total == 120


def test_the_api_gives_times_stalled_and_a_stable_newest_first_order(app_settings) -> None:
    from smartalbum.library.db import open_catalog
    from smartalbum.web import create_app

    settings = app_settings(jobs={"stall_after_s": 30})
    client = create_app(settings).test_client()
    _, factory = open_catalog(settings)
    now = store.utcnow()
    same = now - timedelta(minutes=5)
    ids = [store.create_job(factory, "index", {"paths": []}) for _ in range(4)]
    created = [same, same, now - timedelta(minutes=1), now - timedelta(hours=1)]
    with factory.begin() as s:
        for job_id, when in zip(ids, created, strict=True):
            s.execute(update(Job).where(Job.id == job_id).values(created_at=when))
        s.execute(
            update(Job)
            .where(Job.id == ids[3])
            .values(status="running", started_at=same, progress_at=same, total=9, done=3)
        )
    orders = {
        tuple(j["id"] for j in client.get("/api/v1/jobs").get_json()["jobs"]) for _ in range(5)
    }
    assert len(orders) == 1  # the same order every poll
    (order,) = orders
    tied = sorted(ids[:2])
    assert list(order) == [ids[2], *tied, ids[3]]  # newest first; equal times by id
    stalled = client.get(f"/api/v1/jobs/{ids[3]}").get_json()
    assert stalled["stalled"] and stalled["eta_s"] is None and stalled["idle_s"] >= 299
    assert stalled["started_at"].endswith("Z") and stalled["finished_at"] is None
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 4


def test_smartalbum_jobs_prints_stalled_and_no_eta(
    app_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from smartalbum.cli import main
    from smartalbum.library.db import open_catalog

    settings = app_settings(jobs={"stall_after_s": 30})
    _, factory = open_catalog(settings)
    job_id = store.create_job(factory, "faces", {})
    long_ago = store.utcnow() - timedelta(seconds=160)
    with factory.begin() as s:
        s.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(
                status="running", total=120, done=89, started_at=long_ago, progress_at=long_ago
            )  # fmt: skip
        )
    for key, value in {
        "SMARTALBUM_DATA_DIR": str(settings.data_dir),
        "SMARTALBUM_DATABASE_URL": settings.database_url,
        "SMARTALBUM_JOBS__STALL_AFTER_S": "30",
    }.items():
        monkeypatch.setenv(key, value)
    from smartalbum import config

    config.get_settings.cache_clear()  # an earlier test may have cached other settings
    try:
        result = CliRunner().invoke(main, ["jobs"])
    finally:
        config.get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    (line,) = [ln for ln in result.output.splitlines() if job_id in ln]
    assert " stalled " in line and "89/120" in line and "eta - (no progress for 16" in line
