"""What every command gets through ``click.pass_obj``: settings, and the engine and catalog
built lazily (a command that needs neither never loads the model or opens the database)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from smartalbum.cli.errors import bundle_is_usage_error, disk_full_error
from smartalbum.config import Settings, get_settings


@dataclass
class AppContext:
    """Per-invocation state; the engine comes from the one factory, ``Engine.from_settings``."""

    settings: Settings = field(default_factory=get_settings)
    #: The catalog a group chose for its subcommands (``people --database-url``).
    database_url: str | None = None
    _catalogs: dict[str | None, tuple[Any, Any]] = field(default_factory=dict, repr=False)

    def engine(self, bundle: Path | None = None, threads: int | None = None) -> Any:
        """The process's engine for ``bundle``; an unreadable bundle is a usage error.

        Its head versions come from the catalog (where every machine reads them) when there
        is one: a configured ``database_url`` or an existing default catalog. A first
        ``smartalbum classify`` on a machine without a catalog creates none.
        """
        from smartalbum.model.engine import Engine

        with bundle_is_usage_error():
            return Engine.from_settings(
                self.settings, bundle=bundle, threads=threads, heads=self.head_store()
            )

    def head_store(self) -> Any:
        """The catalog's head store (None without a catalog: the engine uses the files)."""
        from smartalbum.library.db import CATALOG_FILENAME
        from smartalbum.library.head_store import catalog_head_store

        url = self.database_url or self.settings.database_url
        if not url and not (Path(self.settings.data_dir).expanduser() / CATALOG_FILENAME).exists():
            return None
        return catalog_head_store(self.catalog(), self.settings.data_dir)

    def catalog_engine(self, database_url: str | None = None) -> Any:
        """The SQLAlchemy engine of the catalog (schema upgraded)."""
        return self._open(database_url or self.database_url)[0]

    def catalog(self, database_url: str | None = None) -> Any:
        """The catalog's session factory: ``database_url`` or the configured catalog."""
        return self._open(database_url or self.database_url)[1]

    def _open(self, url: str | None) -> tuple[Any, Any]:
        from sqlalchemy.exc import SQLAlchemyError

        from smartalbum.library.db import default_url, open_catalog, safe_url

        if url not in self._catalogs:
            target = url or default_url(self.settings)
            try:
                self._catalogs[url] = open_catalog(url=target)
            except (SQLAlchemyError, OSError) as exc:
                full = disk_full_error(exc)
                if full is not None:  # the request was fine: a failure, not a usage error
                    raise full from exc
                raise click.UsageError(
                    f"cannot open the catalog at {safe_url(target)}: {exc}"
                ) from exc
        return self._catalogs[url]


pass_app = click.make_pass_decorator(AppContext, ensure=True)
