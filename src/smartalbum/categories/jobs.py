"""The ``categories`` job kind: retrain, re-sort or grow categories in the background.

Params: ``action`` ("retrain", "resort" or "grow") and ``names`` (default: every
category). Progress counts categories. Each category is one transaction, and every
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
    return {"action": action, "reports": reports}
