"""Smart Album: a self-hosted, fully offline smart photo-album classifier."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("smart-album")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"
