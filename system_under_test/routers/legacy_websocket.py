"""`/ws/content`, the WebSocket the guide migrates away from, kept for PUSHER_ENABLED=false (the
partial-rollback path): the `content-generation` channel's events, as JSON text frames."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from ..resources import Resources

router = APIRouter()


@router.websocket("/ws/content")
async def content_events(websocket: WebSocket) -> None:
    resources: Resources = websocket.app.state.resources
    legacy = resources.realtime.legacy
    if legacy is None:
        # Pusher is on: this socket is gone, as the guide says. 4000-4999 are the app's codes.
        await websocket.accept()
        await websocket.close(4410, "Moved to Pusher Channels: subscribe to content-generation")
        return
    await legacy.serve(websocket)
