"""The one reader of live fabric state: NATS monitoring and node membership.

- `source`: `JsonSource`, where a JSON document comes from (aiohttp to a URL here; a
  Target's request path in `targets.base.EndpointSource`).
- `nats`: /varz, /gatewayz (outbound and inbound links), /connz, /routez as TypedDicts,
  and the gateway verdicts (`ServerLinks`, `PairLinks`, `LinkGap`) that lab readiness,
  `lab status`, the checks and the test kits all share.
- `cluster`: a node's /api/cluster view and who it sees.

Sits below `targets` and above `adapters`; it knows nothing of Targets or the lab.
"""
