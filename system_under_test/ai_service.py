"""Client of the AI content service: the backend's one outbound HTTP dependency."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from system_under_test.envelope import ApiError, ErrorCode


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
            timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)),
            transport=transport,
            # Keep-alive connections are reused across requests; bounded so one replica cannot
            # open unbounded sockets to a slow upstream.
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )

    async def generate(self, prompt: str, content_type: str, request_id: str) -> Generation:
        try:
            response = await self._client.post(
                "/v1/generate",
                json={"prompt": prompt, "content_type": content_type},
                headers={"X-Request-ID": request_id},
            )
        except httpx.TimeoutException as error:
            raise ApiError(504, "AI service timed out", ErrorCode.UPSTREAM_TIMEOUT) from error
        except httpx.TransportError as error:
            raise ApiError(503, "AI service unavailable", ErrorCode.DEPENDENCY_UNAVAILABLE) from error
        if response.status_code != 200:
            raise ApiError(
                502,
                f"AI service answered {response.status_code}",
                ErrorCode.UPSTREAM_ERROR,
                details={"upstream_status": response.status_code},
            )
        try:
            payload = response.json()
            return Generation(
                content=str(payload["content"]),
                model=str(payload.get("model", "unknown")),
                tokens=int(payload.get("tokens", 0)),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise ApiError(502, "AI service sent a malformed answer", ErrorCode.UPSTREAM_ERROR) from error

    async def ping(self) -> None:
        response = await self._client.get("/health")
        response.raise_for_status()

    async def aclose(self) -> None:
        await self._client.aclose()
