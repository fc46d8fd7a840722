"""Reading photos: decode, orientation, preprocessing, quality and hashes (no torch here)."""

from smartalbum.imaging import errors
from smartalbum.imaging.decode import Photo, PhotoFacts, load_photo
from smartalbum.imaging.errors import *  # noqa: F403  (the photo errors: errors.__all__)

__all__ = ["Photo", "PhotoFacts", "load_photo", *errors.__all__]
