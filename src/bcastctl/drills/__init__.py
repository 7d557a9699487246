"""Drills: break a running fleet on purpose and measure how it recovers (verify failover)."""
