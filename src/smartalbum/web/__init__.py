"""The web app: Flask application factory, JSON API and the classification page.

Flask is imported inside :func:`create_app`, so ``smartalbum.web.server.register`` (run for
every CLI invocation) does not pay for it when the command is not ``serve``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from smartalbum.config import Settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app; loads the model once, to be shared by every request thread.

    Raises :class:`smartalbum.model.bundle.BundleError` when the bundle cannot be loaded
    and ``ValueError`` for an unknown configured head, so a bad setup fails at start-up.
    """
    from flask import Flask

    from smartalbum.config import get_settings
    from smartalbum.features import load_features
    from smartalbum.library.catalog import CatalogResultCache
    from smartalbum.model.engine import Engine
    from smartalbum.web import (
        api,
        gallery,
        jobs_api,
        library_api,
        search_api,
        selection_api,
        ui,
    )
    from smartalbum.web.cache import LRUResultCache, ResultCache
    from smartalbum.web.i18n import install_i18n
    from smartalbum.web.problems import register_error_handlers
    from smartalbum.web.security import (
        install_api_key,
        install_host_check,
        install_json_depth_limit,
        install_origin_check,
        install_rate_limit,
        install_security_headers,
    )
    from smartalbum.web.state import EXTENSION_KEY, WebState
    from smartalbum.web.uploads import make_upload_dir, private_request_class

    settings = settings or get_settings()
    load_features()  # the features' after-index hooks (index jobs run in this process too)
    web = settings.web
    app = Flask(__name__)
    app.json.sort_keys = False  # keep probabilities in the head's label order
    app.config.update(
        MAX_CONTENT_LENGTH=int(web.max_upload_mb * 1024 * 1024),
        # Bounds the parsing work of a hostile request; the exact file count is checked
        # (with a clearer message) by the API.
        MAX_FORM_PARTS=web.max_files + 16,
    )
    from smartalbum.web.metrics import install_metrics

    install_metrics(app, settings)  # first: its timer starts before any other hook runs
    upload_dir = make_upload_dir(app)
    app.request_class = private_request_class(upload_dir)
    # The catalog (created or upgraded here) backs the gallery, and answers uploads of
    # photos it has already indexed with this model; others go to the in-memory cache.
    library = library_api.init_library(app, settings)
    # The user's head versions live in the catalog, shared by every node (issue 14);
    # without a catalog, the filesystem store under the data dir.
    heads = None
    if library.factory is not None:
        from smartalbum.library.head_store import catalog_head_store

        heads = catalog_head_store(library.factory, settings.data_dir)
    engine = Engine.from_settings(settings, heads=heads)
    default_head = settings.model.head or engine.bundle.default_head
    if default_head not in engine.bundle.heads:
        raise ValueError(
            f"configured head {default_head!r} is not in bundle {engine.bundle.name!r} "
            f"(available: {', '.join(engine.bundle.heads)})"
        )
    cache: ResultCache = LRUResultCache(web.cache_size)
    if library.factory is not None:
        cache = CatalogResultCache(library.factory, engine, fallback=cache)
    app.extensions[EXTENSION_KEY] = WebState(
        settings=settings,
        engine=engine,
        cache=cache,
        default_head=default_head,
        upload_dir=upload_dir,
    )

    app.register_blueprint(api.bp)
    app.register_blueprint(library_api.bp)
    app.register_blueprint(selection_api.bp)
    app.register_blueprint(ui.bp)
    app.register_blueprint(gallery.bp)
    app.register_blueprint(jobs_api.bp)
    from smartalbum.web import categories_api

    app.register_blueprint(categories_api.bp)
    from smartalbum.web import faces_api

    app.register_blueprint(faces_api.bp)
    app.register_blueprint(search_api.bp)
    from smartalbum.web import library_add

    app.register_blueprint(library_add.bp)
    from smartalbum.web import photos_api

    app.register_blueprint(photos_api.bp)
    from smartalbum.mobile import web as mobile_api

    app.register_blueprint(mobile_api.bp)
    register_error_handlers(app)
    install_i18n(app)
    install_security_headers(app)
    # Host and origin first: a request for another host, or sent by another site's page,
    # is refused before anything counts or reads it.
    install_host_check(app, web.allowed_hosts)
    install_origin_check(app)
    # The limiter's hook runs first, so requests with a wrong key count against the limit too.
    install_rate_limit(app, web)
    install_api_key(app, web.api_key)
    install_json_depth_limit(app)
    return app
