"""Re-tagging the catalog: the ``tags`` job kind and ``smartalbum tags --all``."""

from __future__ import annotations

import types

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, func, select

from smartalbum.cli import main
from smartalbum.library.schema_tags import PhotoTag, PhotoTagState
from tags.conftest import BACKBONE


def _untag(factory) -> None:
    with factory() as s:
        s.execute(delete(PhotoTag))
        s.execute(delete(PhotoTagState))
        s.commit()


def _count(factory) -> int:
    with factory() as s:
        return s.scalar(select(func.count(PhotoTagState.photo_id)))


@pytest.fixture
def fake_model(monkeypatch, tagger):
    """The shipped bundle's classifier is 1280-d; the test catalog's embeddings are 16-d."""
    from smartalbum.cli.context import AppContext
    from smartalbum.tags import store

    monkeypatch.setattr(store, "tagger_for", lambda bundle: tagger)
    fake = types.SimpleNamespace(bundle=types.SimpleNamespace(backbone_version=BACKBONE))
    monkeypatch.setattr(AppContext, "engine", lambda self, bundle=None, threads=None: fake)
    return fake


def test_tags_all_tags_what_is_missing(tagged_catalog, fake_model):
    url, factory, ids = tagged_catalog
    _untag(factory)
    out = CliRunner().invoke(main, ["tags", "--all", "--database-url", url])
    assert out.exit_code == 0, out.output
    assert out.output.startswith(f"{len(ids)} photos tagged")
    assert _count(factory) == len(ids)
    again = CliRunner().invoke(main, ["tags", "--all", "--database-url", url])
    assert again.output.startswith("0 photos tagged")
    forced = CliRunner().invoke(main, ["tags", "--all", "--force", "--database-url", url])
    assert forced.output.startswith(f"{len(ids)} photos tagged")


def test_the_tags_job_kind_retags_with_progress(tagged_catalog, fake_model, monkeypatch):
    from smartalbum.jobs import kinds, store
    from smartalbum.jobs.kinds import JobContext, load_kinds
    from smartalbum.tags import jobs as tag_jobs

    _, factory, ids = tagged_catalog
    _untag(factory)
    assert "tags" in load_kinds()
    monkeypatch.setattr(JobContext, "engine", lambda self: fake_model)
    from smartalbum.tags import store as tag_store

    # tags.jobs imported tagger_for by name: give it the fixture's tagger too
    monkeypatch.setattr(tag_jobs, "tagger_for", tag_store.tagger_for)
    job_id = store.create_job(factory, "tags", {"force": False})
    kinds.run(None, factory, job_id)
    job = store.get_job(factory, job_id)
    assert job is not None and _count(factory) == len(ids), (job.status, job.message)
    assert (job.status, job.total, job.done) == ("done", len(ids), len(ids))
    assert job.result["tagged"] == len(ids)
