"""pusher-js, the official browser client, against the backend's real-time path (Node required)."""
