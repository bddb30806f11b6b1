"""Circuit breakers, rate limits, retries and bulkheads, end to end against running replicas."""
