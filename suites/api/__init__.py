"""Behaviour of the backend's API against the running stack."""
