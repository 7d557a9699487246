"""The global stream registry: which node holds each stream.

There is no central store: every node announces the streams it holds in its
signed heartbeat (and sends an extra beat at once when that changes), so the
registry is a pure function of the live membership plus this node's own claims.
All nodes with the same membership compute the same answer; a dead node's
streams leave with it. Two claims on one stream id resolve deterministically:
the earliest claim wins, ties broken by node name; the loser ends its publisher.
"""

from __future__ import annotations

from dataclasses import dataclass

from bcastctl.node.membership import Membership
from bcastctl.protocol import RegistryEntry, StreamClaim


@dataclass(frozen=True)
class Holder:
    node: str
    region: str
    address: str
    tracks: dict[str, str]  # kind -> mimeType
    since: float
    passthrough: bool

    def wins_over(self, other: Holder) -> bool:
        return (self.since, self.node) < (other.since, other.node)


class Registry:
    def __init__(self, self_name: str, self_region: str, self_address: str) -> None:
        self._self = (self_name, self_region, self_address)
        self.local: dict[str, StreamClaim] = {}

    def claim(self, stream: str, tracks: dict[str, str], since: float, passthrough: bool) -> None:
        self.local[stream] = StreamClaim(tracks=dict(tracks), since=since, passthrough=passthrough)

    def release(self, stream: str) -> None:
        self.local.pop(stream, None)

    def holders(self, membership: Membership) -> dict[str, Holder]:
        """stream id -> the winning holder, over this node's claims and live members'."""
        name, region, address = self._self
        winners: dict[str, Holder] = {}
        candidates = [
            (name, region, address, self.local),
            *(
                (n, m.body["region"], m.body["address"], m.body["streams"])
                for n, m in membership.members.items()
            ),
        ]
        for node, node_region, node_address, claims in candidates:
            for stream, claim in claims.items():
                holder = Holder(
                    node,
                    node_region,
                    node_address,
                    dict(claim["tracks"]),
                    float(claim["since"]),
                    bool(claim.get("passthrough", True)),
                )
                current = winners.get(stream)
                if current is None or holder.wins_over(current):
                    winners[stream] = holder
        return winners

    def lost_claims(self, membership: Membership) -> list[str]:
        """Local streams another node holds with an earlier claim (we must give them up)."""
        name = self._self[0]
        holders = self.holders(membership)
        return [s for s in self.local if s in holders and holders[s].node != name]

    def view(self, membership: Membership) -> dict[str, RegistryEntry]:
        return {
            stream: RegistryEntry(node=h.node, region=h.region)
            for stream, h in sorted(self.holders(membership).items())
        }
