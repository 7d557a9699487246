"""Drills: break a running fleet on purpose and measure how it recovers (verify failover)."""

# the failover drill's steps, in order (drills/failover.py); here so the CLI lists them
# without importing the drill
STEPS = ("kill-publisher-node", "kill-viewer-node", "kill-region-nats")
