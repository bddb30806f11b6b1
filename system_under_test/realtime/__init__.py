"""Real-time delivery: events published through Pusher Channels, or, with PUSHER_ENABLED=false,
over the legacy WebSocket `/ws/content` (the guide's partial-rollback path)."""
