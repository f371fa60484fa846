"""Streams and consumers through the NATS gateway, in NATS' own JSON (durations in ns)."""
