"""Fault injection: the Toxiproxy-compatible proxy and chaos experiments (the Fault injection issue)."""
