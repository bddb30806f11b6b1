"""Resilience: circuit breakers, rate limiting, retries and bulkheads, shared across replicas."""
