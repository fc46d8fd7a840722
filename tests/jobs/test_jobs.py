"""Index jobs run in-process (Celery eager mode) on both catalog backends: chunks, progress,
idempotent re-runs, a photo that crashes the decoder, cancelling, claiming stale chunks."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from smartalbum.jobs import store
from smartalbum.jobs.submit import submit_index
from smartalbum.jobs.tasks import index_chunk
from smartalbum.library.schema import (
    File,
    IndexErrorRecord,
    Job,
    JobChunk,
    JobItemError,
    Photo,
    utcnow,
)


def _count(factory, model) -> int:
    with factory() as s:
        return int(s.scalar(select(func.count()).select_from(model)))


def test_index_job_indexes_every_photo_in_chunks(settings, factory, eager_app, library) -> None:
    job_id = submit_index(settings, factory, [library.root], app=eager_app)
    job = store.get_job(factory, job_id)
    files = len(library.photos) + len(library.bad)
    assert job.status == "done"
    assert job.total == job.done == files
    assert job.errors == len(library.bad)
    assert job.started_at <= job.finished_at
    with factory() as s:
        chunks = s.scalars(select(JobChunk).where(JobChunk.job_id == job_id)).all()
        failed = set(s.scalars(select(JobItemError.item).where(JobItemError.job_id == job_id)))
    assert len(chunks) == -(-files // settings.jobs.chunk_size)
    assert {c.status for c in chunks} == {"done"} and all(c.attempts == 1 for c in chunks)
    assert failed == {str(library.path(rel)) for rel in library.bad}
    assert _count(factory, Photo) == library.distinct
    assert _count(factory, File) == len(library.photos)
    d = store.job_to_dict(job)
    assert d["rate"] > 0 and d["eta_s"] is None and d["params"]["paths"] == [str(library.root)]


def test_rerunning_a_chunk_changes_nothing(settings, factory, eager_app, library) -> None:
    job_id = submit_index(settings, factory, [library.root], app=eager_app)
    before = (_count(factory, Photo), _count(factory, File))
    with factory.begin() as s:  # as if the broker delivered every chunk a second time
        s.execute(update(JobChunk).values(status="queued"))
        s.execute(update(Job).values(status="running"))
        ids = list(s.scalars(select(JobChunk.id)))
    for chunk_id in ids:
        index_chunk(settings, factory, chunk_id)
    assert (_count(factory, Photo), _count(factory, File)) == before
    job = store.get_job(factory, job_id)
    assert job.status == "done" and job.done == job.total


def test_a_photo_that_crashes_the_decoder_fails_alone(
    settings, factory, eager_app, library, monkeypatch: pytest.MonkeyPatch
) -> None:
    import smartalbum.library.indexer as indexer

    poison = str(library.path("2020/blue/img_02.jpg"))
    real = indexer.load_photo

    def crashing(data, *args, name=None, **kwargs):  # noqa: ANN001, ANN002, ANN003
        if name == poison:
            raise RuntimeError("decoder bug")  # not a typed PhotoError
        return real(data, *args, name=name, **kwargs)

    monkeypatch.setattr(indexer, "load_photo", crashing)
    job_id = submit_index(settings, factory, [library.root], app=eager_app)
    job = store.get_job(factory, job_id)
    assert job.status == "done" and job.done == job.total
    errors = {e.item: e.code for e in store.item_errors(factory, job_id)}
    assert errors.get(poison) == "decoder-crash", errors
    assert len(errors) == len(library.bad) + 1
    with factory() as s:
        indexed = set(s.scalars(select(File.path)))
        listed = set(s.scalars(select(IndexErrorRecord.path)))
    assert poison not in indexed and poison in listed
    assert len(indexed) == len(library.photos) - 1


def test_cancel_stops_the_remaining_chunks(
    settings, factory, eager_app, library, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = store.chunk_progress
    seen: list[str] = []

    def cancel_on_first(factory_, claim, done):  # noqa: ANN001
        if not seen:
            seen.append(claim.job_id)
            store.cancel_job(factory_, claim.job_id)
        return real(factory_, claim, done)

    monkeypatch.setattr(store, "chunk_progress", cancel_on_first)
    job_id = submit_index(settings, factory, [library.root], app=eager_app)
    job = store.get_job(factory, job_id)
    assert job.status == "cancelled" and job.finished_at is not None
    assert job.done < job.total
    with factory() as s:
        statuses = set(s.scalars(select(JobChunk.status).where(JobChunk.job_id == job_id)))
    assert statuses == {"cancelled"}
    assert _count(factory, File) < len(library.photos)
    # cancelling again, or a finished job, changes nothing
    assert store.cancel_job(factory, job_id).status == "cancelled"
    assert store.cancel_job(factory, "nope") is None


def test_a_chunk_is_claimed_once_until_its_worker_goes_quiet(factory) -> None:
    job_id = store.create_job(factory, "index", {"paths": []})
    store.start_planning(factory, job_id)
    (chunk_id,) = store.add_chunks(factory, job_id, [["/x/a.jpg", "/x/b.jpg"]])
    first = store.claim_chunk(factory, chunk_id, stale_after_s=60)
    assert first is not None and first.attempts == 1 and first.items == ["/x/a.jpg", "/x/b.jpg"]
    assert store.claim_chunk(factory, chunk_id, stale_after_s=60) is None  # held, alive
    with factory.begin() as s:  # its worker was killed a while ago
        s.execute(update(JobChunk).values(heartbeat_at=utcnow().replace(year=2000)))
    assert store.stale_work(factory, 60) == ([], [chunk_id])
    second = store.claim_chunk(factory, chunk_id, stale_after_s=60)
    assert second is not None and second.attempts == 2
    # progress only grows, and the job's done is the sum of its chunks
    assert store.chunk_progress(factory, second, 2)
    assert store.chunk_progress(factory, second, 1)
    assert store.get_job(factory, job_id).done == 2


def test_a_chunk_that_keeps_killing_its_worker_is_given_up(settings, factory, library) -> None:
    job_id = store.create_job(factory, "index", {"paths": [str(library.root)]})
    store.start_planning(factory, job_id)
    items = [str(library.path(rel)) for rel in library.good[:3]]
    (chunk_id,) = store.add_chunks(factory, job_id, [items])
    with factory.begin() as s:
        s.execute(update(JobChunk).values(attempts=settings.jobs.max_attempts))
    index_chunk(settings, factory, chunk_id)
    job = store.get_job(factory, job_id)
    assert job.status == "done" and job.done == 3 and job.errors == 3
    assert {e.code for e in store.item_errors(factory, job_id)} == {"worker-lost"}


def test_unknown_kind_is_refused(factory) -> None:
    with pytest.raises(ValueError, match="unknown job kind"):
        store.create_job(factory, "nope", {})


def test_a_job_predicts_a_new_head_from_stored_embeddings(
    settings, factory, eager_app, library
) -> None:
    from smartalbum.library.schema import Prediction

    submit_index(settings, factory, [library.root], heads=["colours"], app=eager_app)
    with factory() as s:
        heads = s.execute(select(Prediction.head, func.count()).group_by(Prediction.head)).all()
    assert dict(heads) == {"colours": library.distinct}
    job_id = submit_index(settings, factory, [library.root], app=eager_app)  # every head
    with factory() as s:
        heads = s.execute(select(Prediction.head, func.count()).group_by(Prediction.head)).all()
    assert dict(heads) == {"colours": library.distinct, "strict": library.distinct}
    assert store.get_job(factory, job_id).status == "done"


def test_an_index_job_runs_the_after_index_hooks_per_chunk_then_once_at_its_end(
    settings, factory, eager_app, library, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same registry as ``smartalbum index``: each chunk's photos (final=False, scoped
    to the chunk), then one final event for the job's folders (faces queue their scan)."""
    from smartalbum.library import hooks

    events: list = []
    monkeypatch.setitem(hooks.HOOKS, "tests.record", events.append)
    job_id = submit_index(settings, factory, [library.root], app=eager_app)

    *chunks, end = events
    with factory() as s:  # the face scan queued at the end has chunks of its own
        n_chunks = s.scalar(select(func.count()).where(JobChunk.job_id == job_id))
    assert len(chunks) == n_chunks and all(not e.final for e in chunks)
    assert all(e.job_id == job_id and e.scope and e.engine is not None for e in chunks)
    embedded = [pid for e in chunks for pid in e.photo_ids]
    with factory() as s:
        assert set(embedded) == set(s.scalars(select(Photo.id)))  # every photo, by its chunk
    assert end.final and end.job_id == job_id and end.engine is None and end.photo_ids == ()
    assert end.roots == (str(library.root.resolve()),)
