"""The process's one TLS context, for every outbound HTTPS client (Pusher, the AI service).

Verifying servers needs the CA bundle (certifi's, or SSL_CERT_FILE / SSL_CERT_DIR) parsed into a
context: about 40 ms of CPU, which httpx spends again for each client it is not given one. Made
at import, it is made once per process, and once for all the workers a preloading server forks
(gunicorn --preload; golive's fork server, since the package's GOLIVE_PRELOAD imports it)."""

from __future__ import annotations

import httpx

CONTEXT = httpx.create_ssl_context()
