"""Typed errors of faces and people: the CLI turns them into a message and exit code 2 (bad
input) or 1, the API into a problem document with ``status`` and ``code``."""

from __future__ import annotations

from smartalbum.errors import EXIT_FAILURE, EXIT_USAGE, SmartAlbumError


class FaceError(SmartAlbumError):
    """Base class: ``code`` is stable and machine-readable, ``status`` the HTTP status."""

    code = "face_error"
    title = "Face or person error"
    status = 400
    exit_code = EXIT_USAGE


class PersonNotFoundError(FaceError):
    code = "no_person"
    status = 404


class AmbiguousPersonError(FaceError):
    code = "ambiguous_person"
    status = 400


class FaceNotFoundError(FaceError):
    code = "no_face"
    status = 404


class MergeNotFoundError(FaceError):
    code = "no_merge"
    status = 404


class InvalidCorrectionError(FaceError):
    code = "invalid_correction"
    status = 400


class FacesDisabledError(FaceError):
    """Face processing is switched off (``SMARTALBUM_FACES__ENABLED=false``)."""

    code = "faces_disabled"
    status = 409
    exit_code = EXIT_FAILURE
