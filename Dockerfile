# The Creditgate image: one image for the api, worker and migrate services (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # Run the code from /app: `creditgate migrate` finds alembic.ini and migrations/ next to
    # the creditgate package, and those are not part of the installed distribution.
    PYTHONPATH=/app

WORKDIR /app
COPY . .
RUN pip install . \
    && useradd --system --uid 10001 --no-create-home --home-dir /app creditgate

USER creditgate
EXPOSE 8000
CMD ["uvicorn", "api.main:app", "--host", "0.0.0.0", "--port", "8000", "--loop", "uvloop", "--http", "httptools", "--no-access-log"]
