"""Typed errors of the categories feature: the CLI maps them to exit code 2, the API to a
problem document with :attr:`CategoryError.status`."""

from __future__ import annotations

from smartalbum.errors import EXIT_USAGE, SmartAlbumError


class CategoryError(SmartAlbumError):
    """Base class; ``code`` names the problem, ``status`` is its HTTP status."""

    code = "category_error"
    title = "Category error"
    status = 400
    exit_code = EXIT_USAGE


class CategoryNotFound(CategoryError, LookupError):
    code = "category_not_found"
    status = 404


class CategoryExists(CategoryError):
    code = "category_exists"
    status = 409


class InvalidCategory(CategoryError, ValueError):
    """A bad name, an unreadable export file, a head for another backbone."""

    code = "invalid_category"
    status = 400


class NotEnoughExamples(CategoryError, ValueError):
    code = "not_enough_examples"
    status = 422


class PhotoNotInCatalog(CategoryError, LookupError):
    code = "photo_not_found"
    status = 404


class VersionNotFound(CategoryError, LookupError):
    code = "version_not_found"
    status = 404


class ExplainUnavailable(CategoryError):
    """The bundle cannot give the backbone's last feature map (no features model)."""

    code = "explain_unavailable"
    status = 501
