"""The composition root of the feature packages: load what each one registers.

Lower layers offer registries (``library.hooks.after_index``: work after indexing) and
never import the features; each feature registers itself in one module, and the top
layers call :func:`load_features` once before they work: the CLI group, the web app
factory (``web.create_app``) and the Celery app (``jobs.tasks.bind``). Loading is cheap
(the registration modules import their heavy parts inside the hooks) and idempotent.
"""

from __future__ import annotations

import importlib

#: Each feature package's registration module, in the order its hooks run (tags first:
#: they are part of an index run; faces then queue their scan).
FEATURE_MODULES: tuple[str, ...] = (
    "smartalbum.tags.hooks",
    "smartalbum.faces.hooks",
)


def load_features() -> None:
    """Import every feature's registration module (a second call does nothing)."""
    for module in FEATURE_MODULES:
        importlib.import_module(module)
