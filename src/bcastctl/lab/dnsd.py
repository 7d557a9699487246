"""The lab's DNS server (`python -m bcastctl.lab.dnsd --zone FILE --listen HOST:PORT`).

It answers, over real DNS (UDP and TCP, dnslib), the names a multi-cluster
service mesh would: `<region>-broadcaster-headless.<ns>.svc.clusterset.local` (the
region's node addresses), `<region>-nats-gateway.<ns>.svc.clusterset.local`, and the
per-region `svc.cluster.local` service names. Any other name is NXDOMAIN; a known
name asked for another type than A gets an empty answer. The zone is a JSON file
written by `lab up` (`workloads.lab_zone` builds it from the rendered Services).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger("bcastctl.lab.dnsd")

CLUSTER_DOMAIN = "svc.cluster.local"
CLUSTERSET_DOMAIN = "svc.clusterset.local"
TTL = 5


class ZoneResolver:
    """A dnslib resolver over a fixed zone (names are matched case-insensitively)."""

    def __init__(self, zone: dict[str, list[str]]) -> None:
        self.zone = {name.lower(): addresses for name, addresses in zone.items()}

    def resolve(self, request: Any, handler: Any) -> Any:
        from dnslib import QTYPE, RCODE, RR, A

        reply = request.reply()
        name = str(request.q.qname).lower()
        addresses = self.zone.get(name)
        if addresses is None:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype in (QTYPE.A, QTYPE.ANY):
            for address in addresses:
                reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(address), ttl=TTL))
        return reply


class _QuietLogger:
    """dnslib's default logger prints every query to stdout; log only errors."""

    def log_recv(self, handler: Any, data: Any) -> None: ...
    def log_send(self, handler: Any, data: Any) -> None: ...
    def log_request(self, handler: Any, request: Any) -> None: ...
    def log_reply(self, handler: Any, reply: Any) -> None: ...
    def log_truncated(self, handler: Any, reply: Any) -> None: ...
    def log_data(self, dnsobj: Any) -> None: ...

    def log_error(self, handler: Any, e: Any) -> None:
        log.warning("bad DNS request from %s: %s", handler.client_address, e)


def main(argv: list[str] | None = None) -> int:
    from dnslib.server import DNSServer

    parser = argparse.ArgumentParser(prog="python -m bcastctl.lab.dnsd")
    parser.add_argument("--zone", type=Path, required=True, help="zone JSON file")
    parser.add_argument("--listen", required=True, help="HOST:PORT (UDP and TCP)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    host, _, port = args.listen.rpartition(":")
    resolver = ZoneResolver(json.loads(args.zone.read_text()))
    servers = [
        DNSServer(resolver, address=host, port=int(port), tcp=tcp, logger=_QuietLogger())
        for tcp in (False, True)
    ]
    for server in servers:
        server.start_thread()
    log.info("dnsd: %d names on %s (udp, tcp)", len(resolver.zone), args.listen)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    for server in servers:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
