"""Pusher Channels: authorizing subscriptions and sign-ins (for pusher-js), triggering events
(administrators), receiving Pusher's webhooks, and the integration's status."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, StringConstraints, ValidationError, model_validator
from redis.exceptions import RedisError

from ..envelope import ApiError, Envelope, ErrorCode, ok
from ..realtime.events import USER_CHANNEL_PREFIX
from ..realtime.pusher_gateway import PusherGateway
from ..resources import PUSHER, REDIS, Resources
from ..security import ADMIN_ONLY, CurrentAdmin, CurrentUser, Principal
from ..settings import Settings
from .circuit_breakers import BreakerStatus, describe

router = APIRouter(prefix="/pusher", tags=["pusher"])

SOCKET_ID = r"^\d+\.\d+$"
CHANNEL = r"^#?[-a-zA-Z0-9_=@,.;]+$"
# What the SDK's trigger accepts (no `#`: server-to-user channels are sent to, not triggered on).
TRIGGER_CHANNEL = r"^[-a-zA-Z0-9_=@,.;]+$"
ENCRYPTED_USER_PREFIX = "private-encrypted-user-"
WEBHOOK_KEY = "golive:pusher:webhooks"  # hash: event name -> count, and last_received
OCCUPIED_KEY = "golive:pusher:occupied"  # set of channels Pusher reports occupied
WEBHOOK_SEEN_PREFIX = "golive:pusher:webhook-seen:"  # + signature, for the replay window
WEBHOOK_REPLAY_SECONDS = 330  # the SDK accepts time_ms up to 5 minutes old; a margin for clock skew

SocketId = Annotated[str, StringConstraints(pattern=SOCKET_ID)]
ChannelName = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=CHANNEL)]
TriggerChannel = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=TRIGGER_CHANNEL)]


class ChannelAuthRequest(BaseModel):
    socket_id: SocketId
    channel_name: ChannelName


class UserAuthRequest(BaseModel):
    socket_id: SocketId


class TriggerRequest(BaseModel):
    channels: list[TriggerChannel] = Field(min_length=1, max_length=100)
    event: str = Field(min_length=1, max_length=200)
    data: Any = Field(description="an object or a string; sent as JSON")
    socket_id: SocketId | None = Field(default=None, description="this connection does not receive it")

    @model_validator(mode="after")
    def _fits(self) -> TriggerRequest:
        size = len(self.data.encode() if isinstance(self.data, str) else json.dumps(self.data).encode())
        if size > 10_240:
            raise ValueError(f"data is {size} bytes encoded: Pusher accepts at most 10240")
        return self


class Triggered(BaseModel):
    channels: list[str]
    event: str


class PublisherStatus(BaseModel):
    published: int
    failed: int
    dropped_circuit_open: int
    dropped_queue_full: int
    queued: int
    last_error: str | None


class WebhookStatus(BaseModel):
    received: dict[str, int]
    last_received: float | None
    occupied_channels: list[str]


class LegacyWebsocketStatus(BaseModel):
    clients: int = Field(description="/ws/content sockets open on this replica")
    listening: bool = Field(description="subscribed to every replica's events (through Redis)")
    delivered: int


class PusherStatus(BaseModel):
    enabled: bool
    mode: str = Field(description="pusher, or websocket (the legacy /ws/content)")
    status: str = Field(description="operational, or degraded while the pusher breaker is not closed")
    app_id: str | None
    cluster: str | None
    api_host: str | None
    encrypted_channels: bool
    circuit_breaker: BreakerStatus
    publisher: PublisherStatus
    webhooks: WebhookStatus | None
    legacy_websocket: LegacyWebsocketStatus | None


def _form_or_json(properties: dict[str, Any]) -> dict[str, Any]:
    """pusher-js posts a form; the SDKs' examples post JSON: both are documented, and required."""
    schema = {"type": "object", "required": list(properties), "properties": properties}
    media_types = ("application/x-www-form-urlencoded", "application/json")
    return {
        "requestBody": {"required": True, "content": {media: {"schema": schema} for media in media_types}}
    }


_SOCKET_ID_SCHEMA = {"type": "string", "pattern": SOCKET_ID}
_CHANNEL_AUTH_BODY = _form_or_json(
    {
        "socket_id": _SOCKET_ID_SCHEMA,
        "channel_name": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": CHANNEL},
    }
)
_USER_AUTH_BODY = _form_or_json({"socket_id": _SOCKET_ID_SCHEMA})
_PUSHER_FORMAT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Pusher's own format, not the envelope: pusher-js reads `auth` at the top level",
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
    503: {"description": "Pusher is disabled (PUSHER_ENABLED=false)"},
}


def _gateway(request: Request) -> PusherGateway:
    resources: Resources = request.app.state.resources
    if resources.realtime.gateway is None:
        raise ApiError(
            503,
            "Pusher is disabled (PUSHER_ENABLED=false): real-time events go over /ws/content",
            ErrorCode.SERVICE_UNAVAILABLE,
        )
    return resources.realtime.gateway


M = TypeVar("M", bound=BaseModel)


async def _form(request: Request, model: type[M]) -> M:
    """pusher-js posts a form; other clients may post JSON. Either way, validated as `model`."""
    body = await request.body()
    fields: Any
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            fields = json.loads(body)
        except ValueError:
            fields = None
    else:
        try:
            fields = dict(parse_qsl(body.decode(), keep_blank_values=True))
        except UnicodeDecodeError:
            fields = None
    if not isinstance(fields, dict):
        raise RequestValidationError(
            [{"loc": ("body",), "msg": "expected a form or a JSON object", "type": "model_attributes_type"}]
        )
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        raise RequestValidationError(
            [{**item, "loc": ("body", *item["loc"])} for item in error.errors(include_url=False)]
        ) from None


def _owned_user_id(channel: str, principal: Principal) -> None:
    """Refuses a user channel of somebody else (administrators may watch any)."""
    prefix = ENCRYPTED_USER_PREFIX if channel.startswith(ENCRYPTED_USER_PREFIX) else USER_CHANNEL_PREFIX
    owner = channel.removeprefix(prefix)
    if owner != str(principal.user_id) and not principal.is_admin:
        raise ApiError(403, f"{channel} belongs to another user", ErrorCode.FORBIDDEN)


def _member(principal: Principal) -> dict[str, Any]:
    return {
        "user_id": str(principal.user_id),
        "user_info": {"name": principal.username, "role": principal.role.value},
    }


@router.post("/auth", openapi_extra=_CHANNEL_AUTH_BODY, responses=_PUSHER_FORMAT)
async def authorize_channel(request: Request, principal: CurrentUser) -> object:
    """Signs a subscription: `private-user-{id}` (and `private-encrypted-user-{id}`) for that
    user, `presence-*` for any signed-in user (as their id, name and role)."""
    gateway = _gateway(request)
    form = await _form(request, ChannelAuthRequest)
    channel = form.channel_name
    if channel.startswith(ENCRYPTED_USER_PREFIX):
        if not gateway.encrypted_channels:
            raise ApiError(403, "Encrypted channels are off: PUSHER_ENCRYPTION_MASTER_KEY_BASE64 is not set")
        _owned_user_id(channel, principal)
        member = None
    elif channel.startswith(USER_CHANNEL_PREFIX):
        _owned_user_id(channel, principal)
        member = None
    elif channel.startswith("presence-"):
        member = _member(principal)
    elif channel.startswith(("private-", "#")):
        raise ApiError(403, f"No one may subscribe to {channel}", ErrorCode.FORBIDDEN)
    else:
        raise ApiError(403, f"{channel} is public: subscribing needs no authorization", ErrorCode.FORBIDDEN)
    return gateway.authorize_channel(channel, form.socket_id, member)


@router.post("/user-auth", openapi_extra=_USER_AUTH_BODY, responses=_PUSHER_FORMAT)
async def authorize_user(request: Request, principal: CurrentUser) -> object:
    """Signs pusher-js's sign-in (`userAuthentication`): the connection becomes this user, and
    receives what is sent to them (`#server-to-user-{id}`)."""
    gateway = _gateway(request)
    form = await _form(request, UserAuthRequest)
    user_data = {"id": str(principal.user_id), "name": principal.username, "role": principal.role.value}
    return gateway.authorize_user(form.socket_id, user_data)


@router.post(
    "/trigger",
    response_model=Envelope[Triggered],
    openapi_extra=ADMIN_ONLY,
    responses={
        502: {"description": "Pusher refused the event"},
        503: {"description": "Pusher is unavailable"},
    },
)
async def trigger(body: TriggerRequest, request: Request, admin: CurrentAdmin) -> object:
    """Publishes one event now, through the pusher breaker, and says whether Pusher took it."""
    gateway = _gateway(request)
    resources: Resources = request.app.state.resources
    dependency = resources.resilience.dependencies[PUSHER]
    try:
        await dependency.call(lambda: gateway.trigger(body.channels, body.event, body.data, body.socket_id))
    except ApiError:
        raise  # the breaker's own answer (503 CIRCUIT_OPEN)
    except Exception as error:
        unavailable = dependency.is_failure(error)
        raise ApiError(
            503 if unavailable else 502,
            f"Pusher {'is unavailable' if unavailable else 'refused the event'}: {type(error).__name__}",
            ErrorCode.DEPENDENCY_UNAVAILABLE if unavailable else ErrorCode.UPSTREAM_ERROR,
            details={"error": str(error)[:300]},
        ) from None
    return ok(Triggered(channels=body.channels, event=body.event), "Event triggered")


@router.post(
    "/webhook",
    response_model=Envelope[dict[str, int]],
    responses={401: {"description": "The signature does not check out"}},
)
async def webhook(request: Request) -> object:
    """Pusher's webhooks (signed with the app secret): channel occupancy and presence, recorded
    in Redis for /pusher/status."""
    gateway = _gateway(request)
    body = await request.body()
    verified = gateway.verify_webhook(
        request.headers.get("x-pusher-key"), request.headers.get("x-pusher-signature"), body
    )
    if verified is None:
        raise ApiError(401, "Webhook rejected: bad key, signature or time_ms", ErrorCode.UNAUTHORIZED)
    events = verified.get("events")
    if not isinstance(events, list) or not all(isinstance(event, dict) for event in events):
        raise ApiError(422, "Webhook has no list of events", ErrorCode.VALIDATION_ERROR)
    resources: Resources = request.app.state.resources
    # A signed webhook replayed within its freshness window would pass the signature check: each
    # signature is accepted once (a replayed "vacated" must not empty a channel that refilled).
    seen = WEBHOOK_SEEN_PREFIX + str(request.headers.get("x-pusher-signature"))

    async def record() -> bool:
        if not await resources.redis.set(seen, "1", nx=True, ex=WEBHOOK_REPLAY_SECONDS):
            return False
        try:
            async with resources.redis.pipeline(transaction=True) as pipe:
                for event in events:
                    name, channel = str(event.get("name")), event.get("channel")
                    pipe.hincrby(WEBHOOK_KEY, name, 1)
                    if name == "channel_occupied" and isinstance(channel, str):
                        pipe.sadd(OCCUPIED_KEY, channel)
                    elif name == "channel_vacated" and isinstance(channel, str):
                        pipe.srem(OCCUPIED_KEY, channel)
                pipe.hset(WEBHOOK_KEY, "last_received", str(time.time()))
                await pipe.execute()
        except BaseException:
            await resources.redis.delete(seen)  # not recorded: Pusher's retry must be accepted
            raise
        return True

    # A failed write is Pusher's cue to retry (a 5xx), so nothing is lost.
    if not await resources.resilience.dependencies[REDIS].call(record):
        raise ApiError(401, "Webhook rejected: already received (a replay)", ErrorCode.UNAUTHORIZED)
    return ok({"events": len(events)}, "Webhook received")


@router.get("/status", response_model=Envelope[PusherStatus])
async def status(request: Request) -> object:
    resources: Resources = request.app.state.resources
    settings: Settings = request.app.state.settings
    realtime, resilience = resources.realtime, resources.resilience
    breaker = describe(resilience.breakers[PUSHER], resilience.config.circuit_breaker_enabled)
    stats = realtime.publisher.stats
    gateway = realtime.gateway
    return ok(
        PusherStatus(
            enabled=settings.pusher_enabled,
            mode=realtime.mode,
            status="operational" if breaker.state == "CLOSED" else "degraded",
            app_id=settings.pusher_app_id or None,
            cluster=settings.pusher_cluster if gateway else None,
            api_host=gateway.api_host if gateway else None,
            encrypted_channels=bool(gateway and gateway.encrypted_channels),
            circuit_breaker=breaker,
            publisher=PublisherStatus(
                published=stats.published,
                failed=stats.failed,
                dropped_circuit_open=stats.dropped_circuit_open,
                dropped_queue_full=stats.dropped_queue_full,
                queued=realtime.publisher.queued,
                last_error=stats.last_error,
            ),
            webhooks=await _webhook_status(resources) if gateway else None,
            legacy_websocket=LegacyWebsocketStatus(
                clients=len(realtime.legacy.sockets),
                listening=realtime.legacy.listening,
                delivered=realtime.legacy.delivered,
            )
            if realtime.legacy
            else None,
        )
    )


async def _webhook_status(resources: Resources) -> WebhookStatus | None:
    """What webhooks have said, or None while Redis cannot tell (the status still answers)."""
    try:
        async with resources.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(WEBHOOK_KEY)
            pipe.smembers(OCCUPIED_KEY)
            counts, occupied = await pipe.execute()
    except (RedisError, OSError):
        return None
    counts = {key.decode(): value.decode() for key, value in counts.items()}
    last = counts.pop("last_received", None)
    return WebhookStatus(
        received={name: int(value) for name, value in counts.items()},
        last_received=float(last) if last else None,
        occupied_channels=sorted(channel.decode() for channel in occupied)[:100],
    )
