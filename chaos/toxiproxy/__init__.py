"""A Toxiproxy 2.x-compatible fault-injection proxy: Toxiproxy's HTTP API and toxics, in asyncio.

The official clients (toxiproxy-python, toxiproxy-node-client, chaostoolkit-toxiproxy, the Go
client) cannot tell it from Toxiproxy 2.12.0; where Toxiproxy's users asked for more, it does more
(a working seed, toxics in /populate, live counters, validated attributes, proxied half-close).
"""
