"""What tags do after indexing (registered with ``library.hooks``; loaded by
``smartalbum.features``): the automatic tags of the photos an index step embedded.

Tags come from the stored embeddings alone (no decode, no backbone run), so they are
written right after indexing: from the vectors the step still holds in memory, then for
any other photo of the step's scope whose tags are missing or stale (a new vocabulary or
backbone) from the catalog. A chunk of a background job tags its own photos; the job's
end has nothing left to tag.
"""

from __future__ import annotations

from smartalbum.library.hooks import IndexedPhotos, after_index


@after_index
def tag_indexed_photos(event: IndexedPhotos) -> None:
    """Automatic tags for what the index step covered (its scope, or the whole catalog)."""
    if event.engine is None or event.backbone_version is None:
        return  # a job's end: its chunks tagged their photos
    from smartalbum.tags.store import tag_catalog, tag_embedded, tagger_for

    tagger = tagger_for(event.engine.bundle)
    if tagger is None:
        return  # the bundle carries no ImageNet classifier: no tags
    if event.embeddings is not None:
        tag_embedded(
            event.factory, tagger, event.backbone_version, event.photo_ids, event.embeddings
        )
    tag_catalog(event.factory, tagger, event.backbone_version, paths=event.scope)
