"""Background jobs on Celery: indexing split into chunks that any number of workers take.

``app`` builds the Celery application (embedded broker by default, Redis when
``SMARTALBUM_BROKER_URL`` says so); ``store`` keeps every job's state and progress in the
catalog (the one source the CLI, API and page read); ``tasks`` does the work.
"""
