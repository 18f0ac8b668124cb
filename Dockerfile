# The bot in a container: `python -m bot` (long polling; webhook mode with WEBHOOK_URL), as a
# user without privileges. compose.yaml runs it beside PostgreSQL.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Dependencies first: a change to the bank or the code does not reinstall them.
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install . \
    && useradd --create-home --uid 10001 bot \
    && mkdir -p /app/data \
    && chown bot /app/data
COPY content ./content

USER bot
# SQLite, when DATABASE_URL is not set, lives on a volume: a container's own disk is lost with it.
ENV DATABASE_PATH=/app/data/bot.sqlite3 \
    CONTENT_DIR=/app/content
VOLUME ["/app/data"]
# SIGTERM: the bot finishes what is in flight and exits 0 within 10 s (docker's default grace).
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot"]
