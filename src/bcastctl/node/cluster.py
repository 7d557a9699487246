"""The node's place in the fleet: NATS connection, heartbeats, membership, registry, RTT echo.

Heartbeats go to heartbeat_subject(fleet, region, node); every node listens on all
of them (`bcast.<fleet>.hb.*.*`), so through the super-cluster's gateways each
node sees every node of every region, and a cut gateway link partitions it.
A beat counts only when its subject names the node and region it is signed for
(NATS lets each node publish only on its own subject) and it is fresh (membership.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable

from bcastctl import __version__
from bcastctl.adapters.nats_bus import BusMessage, Handler, NatsBus, Subscription
from bcastctl.errors import UnreachableError
from bcastctl.node.membership import (
    BAD_SIGNATURE,
    WRONG_SUBJECT,
    CpuMeter,
    Membership,
    VerifyError,
    sign,
    verify,
)
from bcastctl.node.metrics import Metrics
from bcastctl.node.registry import Holder, Registry
from bcastctl.node.settings import NodeSettings
from bcastctl.protocol import (
    PROTOCOL_VERSION,
    ClusterView,
    HeartbeatBody,
    NodeIdentity,
    NodeLoad,
    heartbeat_subject,
    heartbeat_wildcard,
    rtt_subject,
)

log = logging.getLogger("bcastctl.node.cluster")


def new_boot_id() -> str:
    """Ordered by start time (string order = time order), unique by its random part."""
    return f"{time.time_ns():020d}-{secrets.token_hex(4)}"


class Cluster:
    def __init__(
        self, settings: NodeSettings, metrics: Metrics, sessions: Callable[[], int]
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self._sessions = sessions
        self.membership = Membership(settings.name, settings.peer_timeout_s, self._changed)
        self.registry = Registry(settings.name, settings.region, settings.advertise_address)
        self.bus: NatsBus | None = None
        self.on_registry_change: Callable[[], None] = lambda: None
        # placement fields of this node's heartbeat (draining, public_url, relays)
        self.placement_fields: Callable[[], dict[str, object]] = dict
        self.services: dict[str, Handler] = {}  # more subjects this node answers on
        self._boot = new_boot_id()
        self._seq = 0
        self._cpu = CpuMeter()
        self._cpu_share = 0.0
        self._beat_now = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._subscriptions: list[Subscription] = []
        self._connected_at: float | None = None
        self._converged = False
        self._impostors: set[str] = set()

    # --- lifecycle ------------------------------------------------

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._run(), name="cluster"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for subscription in self._subscriptions:
            await subscription.unsubscribe()
        if self.bus is not None:
            await self.bus.close()

    async def _run(self) -> None:
        self.bus = await self._connect_until_up()
        self._connected_at = time.monotonic()
        fleet, name = self.settings.fleet, self.settings.name
        self._subscriptions.append(
            await self.bus.subscribe(heartbeat_wildcard(fleet), self._on_beat)
        )
        self._subscriptions.append(await self.bus.subscribe(rtt_subject(fleet, name), self._on_rtt))
        for subject, handler in self.services.items():
            self._subscriptions.append(await self.bus.subscribe(subject, handler))
        await self.bus.flush()
        log.info(
            "joined NATS as %s; heartbeats every %.2f s", name, self.settings.heartbeat_interval_s
        )
        await asyncio.gather(self._beat_loop(), self._expire_loop())

    async def _connect_until_up(self) -> NatsBus:
        """Keep trying, with backoff: in a pod NATS may come up after us (/readyz says why
        we wait); once connected, the bus itself stays connected (nats_bus.py)."""
        delay = 0.5
        while True:
            try:
                return await NatsBus.connect(
                    list(self.settings.nats_urls),
                    self.settings.name,
                    self.settings.nats_user,
                    self.settings.nats_password,
                )
            except UnreachableError as e:
                log.warning("%s; retrying in %.1f s", e, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    # --- heartbeats ------------------------------------------------

    def announce(self) -> None:
        """Send a heartbeat now (the registry changed) instead of at the next tick."""
        self._beat_now.set()

    def _body(self) -> HeartbeatBody:
        s = self.settings
        self._seq += 1
        body = HeartbeatBody(
            v=PROTOCOL_VERSION,
            name=s.name,
            region=s.region,
            address=s.advertise_address,
            lat=s.lat,
            lon=s.lon,
            sessions=self._sessions(),
            max_sessions=s.max_sessions,
            cpu=self._cpu_share,
            version=__version__,
            boot=self._boot,
            seq=self._seq,
            sent=time.time(),
            streams=dict(self.registry.local),
        )
        body.update(self.placement_fields())  # type: ignore[typeddict-item]
        return body

    async def _beat_loop(self) -> None:
        assert self.bus is not None
        subject = heartbeat_subject(self.settings.fleet, self.settings.region, self.settings.name)
        cpu_read_at = 0.0
        while True:
            now = time.monotonic()
            if now - cpu_read_at >= 1.0:
                self._cpu_share, cpu_read_at = self._cpu.read(), now
            await self.bus.publish(subject, sign(self._body(), self.settings.cluster_secret))
            self.metrics.inc("heartbeats_sent_total")
            self._beat_now.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._beat_now.wait(), self.settings.heartbeat_interval_s)

    async def _on_beat(self, message: BusMessage) -> None:
        now = time.monotonic()
        try:
            body = verify(message.data, self.settings.cluster_secret)
            if message.subject != heartbeat_subject(
                self.settings.fleet, body["region"], body["name"]
            ):
                raise VerifyError(WRONG_SUBJECT, body["name"], body["region"])
        except VerifyError as e:
            self.membership.reject(e, now)
            if e.name != self.settings.name:
                self.metrics.inc("rejected_heartbeats_total")
            return
        if body["name"] == self.settings.name:
            if body["boot"] != self._boot and body["boot"] not in self._impostors:
                self._impostors.add(body["boot"])
                log.error("another node uses the name %s (%s)", body["name"], body["address"])
            return
        if self.membership.accept(body, now, time.time()):
            self.metrics.inc("heartbeats_received_total")
        else:
            self.metrics.counters["stale_heartbeats_total"] = self.membership.stale_beats

    async def _expire_loop(self) -> None:
        interval = min(0.1, self.settings.peer_timeout_s / 10)
        while True:
            await asyncio.sleep(interval)
            self.membership.expire(time.monotonic(), time.time())
            self._update_convergence()

    def _changed(self) -> None:
        self.metrics.set("members", len(self.membership.members))
        self.metrics.counters["node_up_total"] = self.membership.ups
        self.metrics.counters["node_down_total"] = self.membership.downs
        self._update_convergence()
        self.on_registry_change()

    # --- RTT echo ------------------------------------------------

    async def _on_rtt(self, message: BusMessage) -> None:
        if message.reply and self.bus is not None:
            await self.bus.publish(message.reply, message.data)

    # --- readiness and views ------------------------------------------------

    def _update_convergence(self) -> None:
        if self._converged or self._connected_at is None:
            return
        expected = self.settings.expected_nodes
        if expected is not None:
            self._converged = len(self.membership.members) + 1 >= expected
        else:
            elapsed = time.monotonic() - self._connected_at
            self._converged = elapsed >= self.settings.peer_timeout_s
        if self._converged:
            log.info("membership converged: %d other nodes", len(self.membership.members))

    def readiness(self) -> tuple[bool, str]:
        """Ready once NATS is connected and membership converged (latched: a later node
        death does not make every other node unready)."""
        if self.bus is None or not self.bus.connected:
            return False, "not connected to NATS"
        if not self.membership.members and (refused := self._refused_peers()):
            return False, (
                f"every node seen ({refused}) fails the heartbeat signature check: "
                f"is {NodeSettings.cluster_secret.env} the fleet's?"
            )
        self._update_convergence()
        if not self._converged:
            seen = len(self.membership.members) + 1
            if self.settings.expected_nodes is not None:
                return False, f"membership: {seen} of {self.settings.expected_nodes} nodes seen"
            return False, "membership: waiting one peer-timeout window"
        return True, f"ready: {len(self.membership.members) + 1} nodes"

    def _refused_peers(self) -> int:
        """Peers whose recent heartbeats failed the signature check: with no member at all,
        this node (not all of them) has the wrong cluster secret."""
        recent = time.monotonic() - self.settings.peer_timeout_s
        return sum(
            1
            for r in self.membership.rejected.values()
            if r.reason == BAD_SIGNATURE and r.last_seen >= recent
        )

    @property
    def cpu_share(self) -> float:
        """This process's CPU use (1.0 = one core) at the last heartbeat."""
        return self._cpu_share

    @property
    def connected(self) -> bool:
        return self.bus is not None and self.bus.connected

    def nats_health(self) -> dict[str, object]:
        """/healthz detail: connected or not, for how long, and how often a new client was
        dialled after the old one was closed."""
        bus = self.bus
        if bus is None:
            return {"nats_connected": False, "nats_down_s": None, "nats_reconnects": 0}
        down = None if bus.down_since is None else round(time.monotonic() - bus.down_since, 1)
        return {
            "nats_connected": bus.connected,
            "nats_down_s": down if not bus.connected else None,
            "nats_reconnects": bus.reconnects,
        }

    def holders(self) -> dict[str, Holder]:
        return self.registry.holders(self.membership)

    def identity(self) -> NodeIdentity:
        s = self.settings
        return NodeIdentity(
            name=s.name,
            region=s.region,
            address=s.advertise_address,
            lat=s.lat,
            lon=s.lon,
            version=__version__,
        )

    def view(self) -> ClusterView:
        now = time.monotonic()
        fields = self.placement_fields()
        return ClusterView(
            node=self.identity(),
            load=NodeLoad(
                sessions=self._sessions(),
                max_sessions=self.settings.max_sessions,
                cpu=self._cpu_share,
                draining=bool(fields.get("draining", False)),
                drain_left_s=float(str(fields.get("drain_left_s", 0.0))),
            ),
            nats_connected=self.connected,
            members=self.membership.member_views(now),
            rejected=self.membership.rejected_views(),
            registry=self.registry.view(self.membership),
        )
