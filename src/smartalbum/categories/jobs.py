"""The ``categories`` job kind: retrain, re-sort or grow categories in the background.

Params: ``action`` ("retrain", "resort" or "grow") and ``names`` (default: every
category); a retrain of every category (no ``names``, or ``heads: true``) also retrains the
bundle's own heads from the catalog's corrections (categories/builtin.py).

A chunked kind (:func:`smartalbum.jobs.kinds.chunked_kind`): the categories are the items,
spread over the workers (a retrain fits a head over the library's embeddings, seconds per
category; a catalog with dozens of categories is minutes on one worker). Each category is
one transaction and every action is idempotent (a retrain run twice adds at most a version
that is no worse; a re-sort replaces members), so a chunk re-sent after its worker died
leaves the catalog right. The final step, once every category is done, retrains the
bundle's heads (they learn from every correction at once, so they are not split) and
gathers the categories' reports into the job's result.
"""

from __future__ import annotations

from typing import Any

from smartalbum.categories import store
from smartalbum.categories.teach import teacher_for
from smartalbum.jobs import store as job_store
from smartalbum.jobs.kinds import ChunkContext, JobContext, chunked_kind
from smartalbum.library.db import session_scope

KIND = "categories"
ACTIONS = ("retrain", "resort", "grow")
#: Categories per chunk: one is seconds of work, so small chunks spread them best.
SMALLEST_CHUNK, LARGEST_CHUNK = 1, 4


def _action(ctx: JobContext | ChunkContext) -> str:
    action = ctx.params.get("action", "retrain")
    if action not in ACTIONS:
        raise ValueError(f"unknown categories action {action!r} (known: {', '.join(ACTIONS)})")
    return action


def plan_categories(ctx: JobContext) -> list[str]:
    """The categories to work on: ``names``, or every category."""
    _action(ctx)
    with session_scope(ctx.factory) as s:
        return list(ctx.params.get("names") or [c.name for c in store.all_categories(s)])


def gather_reports(ctx: JobContext) -> dict[str, Any]:
    """The final step: the bundle's heads (a full retrain) and every category's report."""
    action = _action(ctx)
    reports = [r for chunk in job_store.chunk_results(ctx.factory, ctx.job_id) for r in chunk]
    if action == "retrain" and ctx.params.get("heads", not ctx.params.get("names")):
        reports += _retrain_builtin_heads(ctx)
    return {"action": action, "reports": reports}


@chunked_kind(
    KIND,
    plan=plan_categories,
    finish=gather_reports,
    smallest=SMALLEST_CHUNK,
    largest=LARGEST_CHUNK,
)
def run_categories(ctx: ChunkContext) -> None:
    """Retrain, re-sort or grow the chunk's categories, one transaction each."""
    action = _action(ctx)
    teacher = teacher_for(ctx.settings, ctx.factory)
    reports = []
    for name in ctx.items:
        with session_scope(ctx.factory) as s:
            category = store.get_category(s, name)
            if action == "retrain":
                from smartalbum.categories.retrain import retrain_category

                reports.append(retrain_category(teacher, s, category).to_dict())
            elif action == "grow":
                from smartalbum.categories.pseudo import grow

                reports.append(grow(teacher, s, category).to_dict())
            else:
                reports.append(teacher.resort(s, category).to_dict())
        ctx.progress(1)
    ctx.result = reports


def _retrain_builtin_heads(ctx: JobContext) -> list[dict[str, Any]]:
    """The bundle's own heads learn from the catalog's corrections too; an accepted head
    re-sorts the catalog at once (its predictions from stored embeddings)."""
    from smartalbum.categories.builtin import retrain_heads
    from smartalbum.library.indexer import predict_missing
    from smartalbum.model import user_heads

    engine = ctx.engine()
    # the store the engine serves from: the catalog's, shared by every machine
    root = (
        engine.user_heads.store
        if engine.user_heads is not None
        else user_heads.directory(ctx.settings.data_dir)
    )
    out = []
    for report in retrain_heads(ctx.factory, engine, root):
        if report.accepted:
            predict_missing(ctx.factory, engine, report.head)
        out.append(report.to_dict())
    return out
