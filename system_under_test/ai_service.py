"""Client of the AI content service: the backend's one outbound HTTP dependency."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from . import tls
from .envelope import ApiError, ErrorCode


class AiServiceError(ApiError):
    """A failed call to the AI service. `dependency_failure`: it says the service is unwell (counts
    against the circuit breaker). `transient`: trying again may succeed."""

    dependency_failure = True
    transient = True
    tripped_breaker = False


class AiServiceTimeout(AiServiceError):
    def __init__(self) -> None:
        super().__init__(504, "AI service timed out", ErrorCode.UPSTREAM_TIMEOUT)


class AiServiceUnreachable(AiServiceError):
    def __init__(self) -> None:
        super().__init__(503, "AI service unavailable", ErrorCode.DEPENDENCY_UNAVAILABLE)


class AiServiceStatus(AiServiceError):
    def __init__(self, status: int) -> None:
        super().__init__(
            502,
            f"AI service answered {status}",
            ErrorCode.UPSTREAM_ERROR,
            details={"upstream_status": status},
        )
        # A 4xx is about our request, not the service's health; 429 and 5xx are about its health.
        self.dependency_failure = status >= 500 or status == 429
        self.transient = status in (429, 502, 503, 504)


class AiServiceMalformed(AiServiceError):
    transient = False

    def __init__(self) -> None:
        super().__init__(502, "AI service sent a malformed answer", ErrorCode.UPSTREAM_ERROR)


def is_ai_failure(error: Exception) -> bool:
    return isinstance(error, AiServiceError) and error.dependency_failure


def is_ai_transient(error: Exception) -> bool:
    return isinstance(error, AiServiceError) and error.transient


@dataclass(frozen=True)
class Generation:
    content: str
    model: str
    tokens: int


class AiServiceClient:
    def __init__(
        self, base_url: str, timeout: float, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url,
            verify=tls.CONTEXT,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)),
            transport=transport,
            # Keep-alive connections are reused across requests; bounded so one replica cannot
            # open unbounded sockets to a slow upstream.
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )

    async def generate(
        self, prompt: str, content_type: str, request_id: str, idempotency_key: str
    ) -> Generation:
        """One attempt. The Idempotency-Key makes a repeat of the same generation safe: the service
        answers it from its record instead of generating (and billing) twice."""
        try:
            response = await self._client.post(
                "/v1/generate",
                json={"prompt": prompt, "content_type": content_type},
                headers={"X-Request-ID": request_id, "Idempotency-Key": idempotency_key},
            )
        except httpx.TimeoutException as error:
            raise AiServiceTimeout from error
        except httpx.TransportError as error:
            raise AiServiceUnreachable from error
        if response.status_code != 200:
            raise AiServiceStatus(response.status_code)
        try:
            payload = response.json()
            return Generation(
                content=str(payload["content"]),
                model=str(payload.get("model", "unknown")),
                tokens=int(payload.get("tokens", 0)),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise AiServiceMalformed from error

    async def ping(self) -> None:
        response = await self._client.get("/health")
        response.raise_for_status()

    async def aclose(self) -> None:
        await self._client.aclose()
