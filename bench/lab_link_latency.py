"""Added RTT through a lab delay link vs. the configured one-way latency (>= 200 samples each).

Starts a real linkd process (the lab's link daemon) in front of a local TCP echo
server and measures round trips straight to the echo server and through the link.
Prints p50/p99 of the added RTT and its error against 2 x one-way. Run:

    .venv/bin/python bench/lab_link_latency.py [--samples 300] [--ms 5 42 110]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bcastctl.lab.linkctl import link_request


def echo_server() -> tuple[socket.socket, int]:
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=pump, args=(conn,), daemon=True).start()

    def pump(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    return server, server.getsockname()[1]


def rtts_ms(port: int, samples: int) -> list[float]:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        result = []
        for _ in range(samples):
            start = time.perf_counter()
            sock.sendall(b"p" * 64)
            got = 0
            while got < 64:
                got += len(sock.recv(65536))
            result.append((time.perf_counter() - start) * 1000)
        return result


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=250)
    parser.add_argument("--ms", type=float, nargs="+", default=[5.0, 42.0, 110.0])
    args = parser.parse_args()
    server, echo_port = echo_server()
    base = statistics.median(rtts_ms(echo_port, args.samples))
    listen = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config, control = Path(tmp) / "links.json", Path(tmp) / "c.sock"
        link = {"name": "bench", "listen_host": "127.0.0.1", "listen_port": listen,
                "target_host": "127.0.0.1", "target_port": echo_port, "one_way_ms": 0}  # fmt: skip
        config.write_text(json.dumps({"links": [link]}))
        argv = [sys.executable, "-m", "bcastctl.lab.linkd", "--config", str(config)]
        linkd = subprocess.Popen([*argv, "--control", str(control)], stderr=subprocess.DEVNULL)
        try:
            while not control.exists():
                time.sleep(0.02)
            print(f"direct RTT p50 {base:.3f} ms; {args.samples} samples per row")
            print("| one-way ms | added RTT p50 | p99 | error p50 vs 2x one-way |")
            print("| --- | --- | --- | --- |")
            for one_way in args.ms:
                request = {"op": "slow", "links": ["bench"], "ms": one_way}
                asyncio.run(link_request(str(control), request))
                added = [rtt - base for rtt in rtts_ms(listen, args.samples)]
                p50, p99 = statistics.median(added), percentile(added, 0.99)
                error = p50 - 2 * one_way
                print(f"| {one_way:g} | {p50:.2f} ms | {p99:.2f} ms | {error:+.2f} ms |")
        finally:
            linkd.terminate()
            linkd.wait()
            server.close()


if __name__ == "__main__":
    main()
