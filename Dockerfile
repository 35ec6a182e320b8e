FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/portal-graph-metrics
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir . && useradd --create-home portal
USER portal
EXPOSE 8000
# Migrates first, then serves; DATABASE_URL must point at PostgreSQL (see docker-compose.yml).
# The two workers add up their metrics in a fresh multiprocess folder.
CMD ["sh", "-c", "rm -rf \"$PROMETHEUS_MULTIPROC_DIR\" && mkdir -p \"$PROMETHEUS_MULTIPROC_DIR\" && exec portal-graph serve --host 0.0.0.0 --port 8000 --workers 2"]
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz')"
