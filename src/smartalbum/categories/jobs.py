"""The ``categories`` job kind: retrain, re-sort or grow categories in the background.

Params: ``action`` ("retrain", "resort" or "grow") and ``names`` (default: every
category); a retrain of every category (no ``names``, or ``heads: true``) also retrains the
bundle's own heads from the catalog's corrections (categories/builtin.py). Progress counts categories. Each category is one transaction, and every
action is idempotent (a retrain run twice adds at most a version that is no worse; a
re-sort replaces members), so a re-sent job leaves the catalog right.
"""

from __future__ import annotations

from typing import Any

from smartalbum.categories import store
from smartalbum.categories.teach import teacher_for
from smartalbum.jobs.kinds import JobContext, job_kind
from smartalbum.library.db import session_scope

KIND = "categories"
ACTIONS = ("retrain", "resort", "grow")


@job_kind(KIND)
def run_categories(ctx: JobContext) -> dict[str, Any]:
    action = ctx.params.get("action", "retrain")
    if action not in ACTIONS:
        raise ValueError(f"unknown categories action {action!r} (known: {', '.join(ACTIONS)})")
    teacher = teacher_for(ctx.settings, ctx.factory)
    with session_scope(ctx.factory) as s:
        names = list(ctx.params.get("names") or [c.name for c in store.all_categories(s)])
    ctx.total(len(names))
    reports = []
    for name in names:
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
    if action == "retrain" and ctx.params.get("heads", not ctx.params.get("names")):
        reports += _retrain_builtin_heads(ctx)
    return {"action": action, "reports": reports}


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
