"""Typed errors of tags and search: the CLI exits 2 with the message, the API answers 400.

Both stay ``ValueError`` subclasses, so callers that catch ``ValueError`` keep working.
"""

from __future__ import annotations

from smartalbum.errors import EXIT_USAGE, SmartAlbumError


class InvalidTagError(SmartAlbumError, ValueError):
    """A tag that is empty, too long or only control characters."""

    code = "invalid_tag"
    title = "Invalid tag"
    status = 400
    exit_code = EXIT_USAGE


class SearchQueryError(SmartAlbumError, ValueError):
    """The query text is empty, too long or holds control characters."""

    code = "bad_parameter"  # the API answers it as a bad ``q`` parameter
    title = "Bad Request"
    status = 400
    exit_code = EXIT_USAGE
