"""The one WHIP/WHEP client (aiortc), used by the checks, the node's tests, the bench and drills.

- `signalling`: how an SDP offer reaches a node (`Signalling`: plain aiohttp to a URL, or a
  Target's request path), and `WhipError`, the one typed error for a refused exchange.
- `client`: `publish` / `view` sessions over any `Signalling`.
- `synthetic`: picture sources whose frames carry their number (`SyntheticVideo`,
  `EncodedLoop`, `read_number`).

Sits below `targets` and above `adapters`: it knows nothing of Targets or of the node's
internals (a caller that wants to reach into a receiver passes `on_receiver`).
"""
