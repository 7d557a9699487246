"""The node's counters and gauges, rendered in the Prometheus text format (no client library)."""

from __future__ import annotations

from dataclasses import dataclass, field

PREFIX = "bcast_node_"


@dataclass
class Metrics:
    counters: dict[str, float] = field(default_factory=dict)
    gauges: dict[str, float] = field(default_factory=dict)

    def inc(self, name: str, amount: float = 1.0) -> None:
        self.counters[name] = self.counters.get(name, 0.0) + amount

    def set(self, name: str, value: float) -> None:
        self.gauges[name] = value

    def get(self, name: str) -> float:
        return self.counters.get(name, self.gauges.get(name, 0.0))


HELP: dict[str, str] = {
    "sessions": "Live WHIP and WHEP sessions on this node.",
    "publishers": "Live WHIP publishers on this node.",
    "viewers": "Live WHEP viewers on this node.",
    "members": "Other live nodes in this node's membership view.",
    "relay_subscriptions": "Streams this node receives from another node over NATS.",
    "ready": "1 when /readyz answers 200.",
    "nats_connected": "1 while connected to NATS.",
    "nats_reconnects_total": "New NATS clients dialled after the server closed the previous one.",
    "frames_forwarded_total": "Encoded frames handed to local viewers' senders.",
    "bytes_forwarded_total": "Bytes of encoded frames handed to local viewers' senders.",
    "frames_received_total": "Encoded frames received from local publishers.",
    "frames_relayed_out_total": "Encoded frames published to NATS for other nodes.",
    "frames_relayed_in_total": "Encoded frames received from NATS for local viewers.",
    "frames_refused_total": "Frames from NATS dropped: bad MAC (forged), replayed or stale.",
    "passthrough_tracks_total": "Publisher tracks forwarded as encoded frames (no re-encode).",
    "fallback_tracks_total": "Publisher tracks forwarded through MediaRelay (decode + re-encode).",
    "frames_reencoded_for_relay_total": "Fallback-path frames encoded once for other nodes.",
    "keyframe_requests_total": "Keyframe requests (PLI) sent to publishers.",
    "keyframe_requests_limited_total": "Keyframe requests held back by the rate limit.",
    "viewer_keyframe_requests_total": "PLI/FIR received from viewers.",
    "viewer_tracks_direct_total": "Viewer tracks written by the direct RTP path (packetized once).",
    "viewer_tracks_stock_sender_total": "Viewer tracks left to aiortc's sender (hook unavailable).",
    "viewers_started_from_cache_total": "Viewers started on a cached recent keyframe.",
    "viewer_queue_overflows_total": "Viewers that fell 2 s behind and skipped to a keyframe.",
    "heartbeats_sent_total": "Heartbeats published.",
    "heartbeats_received_total": "Valid heartbeats received from other nodes.",
    "rejected_heartbeats_total": "Heartbeats rejected (bad signature, malformed, wrong subject).",
    "stale_heartbeats_total": "Well-signed heartbeats refused as not fresh (replayed, old boot).",
    "node_up_total": "Nodes that joined this node's membership view.",
    "node_down_total": "Nodes that left this node's membership view.",
    "http_rejected_total": "HTTP requests answered 4xx.",
    "http_connections": "Connections open to the node's two HTTP servers.",
    "http_connections_refused_total": "Connections answered 503 and closed: the server held "
    "BCAST_MAX_CONNECTIONS already.",
    "http_header_timeouts_total": "Connections closed (408): a request's headers did not "
    "arrive within BCAST_HEADER_DEADLINE.",
    "http_connections_evicted_total": "Connections closed to make room for a new one at "
    "BCAST_MAX_CONNECTIONS: the one waiting longest without a request in progress.",
    "sessions_connecting": "Sessions that have not connected yet (ICE + DTLS).",
    "sessions_connected_total": "Sessions that connected (ICE + DTLS) within the deadline.",
    "sessions_connect_timeouts_total": "Sessions closed for not connecting within the deadline.",
    "sessions_refused_connecting_total": "Offers refused (503): too many sessions connecting.",
    "draining": "1 while the node drains (takes no new session; exits at the deadline).",
    "placement_local_total": "Offers placed on this node by this node.",
    "placement_neighbour_total": "Offers handed to another node of the region (over NATS).",
    "placement_redirected_total": "Offers redirected (307) to the nearest region with room.",
    "placement_refused_total": "Offers refused (503): the whole fleet is full.",
    "resources_forwarded_total": "DELETE/PATCH of a resource forwarded to the node holding it.",
    "calls_served_total": "Requests other nodes handed to this node, served.",
    "calls_refused_total": "Calls refused: bad MAC, stale or replayed.",
    "relay_starts_from_cache_total": "Keyframe requests from relaying nodes answered at once "
    "with the cached frames since a recent keyframe.",
    "frames_relayed_duplicate_total": "Frames from NATS dropped: already forwarded (a holder "
    "re-sent its cached frames for a node starting to relay).",
    "whip_conflicts_total": "WHIP publishes refused because another publisher holds the stream.",
}


def render(metrics: Metrics) -> str:
    lines: list[str] = []
    for name, value in sorted({**metrics.gauges, **metrics.counters}.items()):
        kind = "counter" if name in metrics.counters else "gauge"
        full = PREFIX + name
        lines.append(f"# HELP {full} {HELP.get(name, name)}")
        lines.append(f"# TYPE {full} {kind}")
        lines.append(f"{full} {int(value) if float(value).is_integer() else value}")
    return "\n".join(lines) + "\n"
