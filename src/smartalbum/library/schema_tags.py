"""Automatic tags and search: catalog tables (registered on :data:`smartalbum.library.schema.Base`).

Kept in their own module so each feature owns its tables; schema imports this module at
its end, so Base.metadata always holds every table (the migration test compares them).
"""

from __future__ import annotations

from smartalbum.library.schema import Base, utcnow  # noqa: F401
