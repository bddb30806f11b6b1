# The reference backend as the guide deploys it. BASE_IMAGE: any Debian-based Python 3.11+ image;
# `golive images build` makes one where no registry is reachable.
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}

# The guide's tools for the operator inside the container (psql for restores, redis-cli).
RUN apt-get update && apt-get install -y --no-install-recommends \
    postgresql-client \
    redis-tools \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY system_under_test/requirements.txt /app/requirements.txt
RUN pip install --no-cache-dir -r /app/requirements.txt
COPY system_under_test /app/system_under_test

# Not root: the app writes nothing to disk.
USER nobody
ENV PYTHONUNBUFFERED=1 LOG_FORMAT=json
EXPOSE 8009

# The guide checks with curl, which the slim image does not have: Python's own client instead.
HEALTHCHECK --interval=30s --timeout=10s --start-period=5s --retries=3 \
  CMD ["sh", "-c", "exec python -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:${PORT:-8009}/health', timeout=5)\""]

# Which peers may speak for clients (X-Forwarded-For) is the app's decision (RATE_LIMIT_TRUSTED_PROXIES).
# The protocol bounds the request head (MAX_REQUEST_HEADER_BYTES, REQUEST_HEAD_TIMEOUT_SECONDS).
# HOST and PORT, where the platform sets them (golive --image does), else every interface on 8009.
CMD ["sh", "-c", "exec uvicorn system_under_test.main:app --host \"${HOST:-0.0.0.0}\" --port \"${PORT:-8009}\" --no-proxy-headers --http system_under_test.http_limits:LimitedHttpToolsProtocol"]
