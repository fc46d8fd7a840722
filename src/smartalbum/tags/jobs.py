"""The ``tags`` job kind: (re-)tag the catalog in the background, with progress.

Registered with :func:`smartalbum.jobs.kinds.job_kind` when the jobs system has whole-job
kinds (this module is listed in ``KIND_MODULES``). Idempotent: tagging writes per chunk of
photos in one transaction and skips photos already current, so a re-sent job resumes.
Params: ``{"force": bool}`` (re-tag photos already tagged with this vocabulary).
"""

from __future__ import annotations

from typing import Any

from smartalbum.jobs.kinds import JobContext, job_kind
from smartalbum.tags.store import tag_catalog, tagger_for, untagged_ids

KIND = "tags"


@job_kind(KIND)
def run_tags(ctx: JobContext) -> dict[str, Any]:
    engine = ctx.engine()
    tagger = tagger_for(engine.bundle)
    if tagger is None:
        return {"tagged": 0, "message": "the model bundle has no ImageNet classifier"}
    version = engine.bundle.backbone_version
    force = bool(ctx.params.get("force"))
    with ctx.factory() as s:
        total = len(untagged_ids(s, tagger, version, force=force, limit=10**9))
    ctx.total(total)
    tagged = tag_catalog(ctx.factory, tagger, version, force=force, on_progress=ctx.progress)
    return {"tagged": tagged, "vocabulary_version": tagger.version}
