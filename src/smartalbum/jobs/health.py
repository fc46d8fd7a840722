"""Readiness of the job system: is there a broker that takes messages and, where ``serve``
runs its own worker, is that worker alive? (``/readyz``; ``/healthz`` stays liveness.)"""

from __future__ import annotations

from smartalbum.config import Settings


def broker_problem(settings: Settings, timeout_s: float = 1.0) -> str | None:
    """Why the broker cannot take a job now (None: it can). The embedded broker's files
    and disk are checked; another broker (Redis) must answer a connection in ``timeout_s``."""
    from smartalbum.jobs.app import embedded_base, is_embedded, make_celery
    from smartalbum.jobs.broker import problem

    if is_embedded(settings):
        return problem(embedded_base(settings))
    try:
        with make_celery(settings).connection_for_write() as conn:
            # one try, no pause between tries (kombu waits 2 s by default): a probe answers
            # in about timeout_s, not 7 s, when the broker is down
            conn.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0, interval_max=0, timeout=timeout_s
            )
    except Exception as exc:  # noqa: BLE001 - any failure means "cannot take a job"
        return f"the broker does not answer: {type(exc).__name__}: {exc}"
    return None


def problems(settings: Settings) -> dict[str, str]:
    """What is down, by component (``broker``, ``worker``); empty when the jobs can run."""
    from smartalbum.jobs.embedded import worker_problem

    out = {}
    broker = broker_problem(settings)
    if broker:
        out["broker"] = broker
    worker = worker_problem(settings)
    if worker:
        out["worker"] = worker
    return out
