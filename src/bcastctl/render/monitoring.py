"""`bcastctl monitor` as rendered objects, behind the fleet switch `monitor.enabled`.

Every region gets the monitor's identity: a ServiceAccount and a namespaced Role with only
what `monitor --target kube` reads (pods and their proxy, StatefulSets, the STUNner
Gateway, MCS exports/imports; all read-only), bound to it. The monitor region
(`monitor.region`, default the first) also gets the one Deployment, its fleet file
(ConfigMap), a Service and ServiceMonitor for Prometheus, a NetworkPolicy admitting only
the metrics port, the PrometheusRule with the alerts, and the Grafana dashboard
(ConfigMap labelled for Grafana's dashboard sidecar). The Deployment reaches every
region's API through the kubeconfig in the Secret `secrets.monitor_kubeconfig` (key
`secret`), whose credentials are the regions' `bcast-monitor` ServiceAccounts.

Alert expressions and the dashboard use only the series `bcastctl.monitor.metrics` exports
(tests/monitor checks every name against a real scrape, and the rules with promtool).
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from bcastctl.fleet import Fleet, Region
from bcastctl.model import replace, to_data

Manifest = dict[str, Any]
NAME = "bcast-monitor"
FLEET_FILE = "/etc/bcastctl/fleet.yaml"
KUBECONFIG_FILE = "/etc/bcastctl/kubeconfig/kubeconfig"
READS = (  # (apiGroup, resources, verbs): what `verify mesh` / `monitor` read on a cluster
    ("", ["pods"], ["get", "list"]),
    ("", ["pods/proxy"], ["get"]),
    ("apps", ["statefulsets"], ["get", "list"]),
    ("gateway.networking.k8s.io", ["gateways"], ["get", "list"]),
    ("net.gke.io", ["serviceexports", "serviceimports"], ["get", "list"]),
)


def monitor_region(fleet: Fleet) -> str:
    return fleet.monitor.region or fleet.regions[0].name


def _meta(fleet: Fleet, name: str = NAME, **labels: str) -> Manifest:
    return {
        "name": name,
        "namespace": fleet.namespace,
        "labels": {
            "app.kubernetes.io/name": NAME,
            "app.kubernetes.io/part-of": fleet.name,
            "app.kubernetes.io/managed-by": "bcastctl",
            **labels,
        },
    }


def identity(fleet: Fleet) -> list[Manifest]:
    """ServiceAccount + read-only Role + RoleBinding: in every region."""
    rules = [{"apiGroups": [g], "resources": r, "verbs": v} for g, r, v in READS]
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(fleet),
         "automountServiceAccountToken": False},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": _meta(fleet),
         "rules": rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": _meta(fleet),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME},
         "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": fleet.namespace}]},
    ]  # fmt: skip


def _container(fleet: Fleet) -> Manifest:
    port = fleet.monitor.port
    return {
        "name": "monitor",
        "image": fleet.image,
        "args": [
            "--fleet",
            FLEET_FILE,
            "monitor",
            "--target",
            "kube",
            "--interval",
            f"{fleet.monitor.interval_s:g}s",
            "--listen",
            f"0.0.0.0:{port}",
        ],
        "env": [{"name": "KUBECONFIG", "value": KUBECONFIG_FILE}],
        "ports": [{"name": "metrics", "containerPort": port, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "metrics"}},
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": "metrics"},
            "periodSeconds": 20,
        },
        "resources": {
            "requests": {"cpu": "50m", "memory": "128Mi"},
            "limits": {"memory": "256Mi"},
        },
        "securityContext": {
            "runAsNonRoot": True,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {
                "name": "fleet",
                "mountPath": "/etc/bcastctl/fleet.yaml",
                "subPath": "fleet.yaml",
                "readOnly": True,
            },
            {"name": "kubeconfig", "mountPath": "/etc/bcastctl/kubeconfig", "readOnly": True},
        ],
    }


def deployment(fleet: Fleet) -> Manifest:
    labels = {"app.kubernetes.io/name": NAME}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(fleet),
        "spec": {
            "replicas": 1,  # one monitor per fleet: two would double every probe
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": NAME,
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [_container(fleet)],
                    "volumes": [
                        {"name": "fleet", "configMap": {"name": f"{NAME}-fleet"}},
                        {
                            "name": "kubeconfig",
                            "secret": {
                                "secretName": fleet.secrets.monitor_kubeconfig,
                                "items": [{"key": "secret", "path": "kubeconfig"}],
                            },
                        },
                    ],
                },
            },
        },
    }


def shipped_fleet(fleet: Fleet) -> Fleet:
    """The fleet as the monitor pod reads it: kubeconfig paths of this machine dropped, so
    that every region's context is looked up in the mounted kubeconfig ($KUBECONFIG)."""
    regions = [
        replace(region, cluster=replace(region.cluster, kubeconfig=None))
        for region in fleet.regions
    ]
    return replace(fleet, regions=regions)


def _serving(fleet: Fleet) -> list[Manifest]:
    port = fleet.monitor.port
    selector = {"app.kubernetes.io/name": NAME}
    interval = f"{fleet.monitor.interval_s:g}s"
    fleet_text = yaml.safe_dump(to_data(shipped_fleet(fleet)), sort_keys=False)
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(fleet, f"{NAME}-fleet"),
         "data": {"fleet.yaml": fleet_text}},
        {"apiVersion": "v1", "kind": "Service", "metadata": _meta(fleet),
         "spec": {"selector": selector, "ports": [
             {"name": "metrics", "port": port, "targetPort": "metrics", "protocol": "TCP"}]}},
        {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
         "metadata": _meta(fleet),
         "spec": {"selector": {"matchLabels": selector},
                  "endpoints": [{"port": "metrics", "interval": interval}]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": _meta(fleet),
         "spec": {"podSelector": {"matchLabels": selector}, "policyTypes": ["Ingress"],
                  "ingress": [{"ports": [{"protocol": "TCP", "port": port}]}]}},
    ]  # fmt: skip


def alert_groups(fleet: Fleet) -> list[Manifest]:
    """The alerting rules, as a Prometheus rule file's `groups` (promtool checks them)."""
    budget_s = fleet.monitor.rtt_budget_ms / 1000
    stale_s = 3 * fleet.monitor.interval_s
    n = fleet.monitor.failing_intervals

    def rule(name: str, expr: str, duration: str, severity: str, summary: str) -> Manifest:
        return {"alert": name, "expr": expr, "for": duration,
                "labels": {"severity": severity, "fleet": fleet.name},
                "annotations": {"summary": summary}}  # fmt: skip

    rules = [
        rule("BcastGatewayLinkDown", "bcast_gateway_up == 0", "2m", "critical",
             "NATS gateway link {{ $labels.from }} -> {{ $labels.to }} is down"),
        rule("BcastPartition", "bcast_partition == 1", "1m", "critical",
             "regions {{ $labels.a }} and {{ $labels.b }} cannot see each other's nodes"),
        rule("BcastRttOverBudget", f"bcast_rtt_p50_seconds > {budget_s:g}", "5m", "warning",
             f"RTT {{{{ $labels.from }}}} -> {{{{ $labels.to }}}} is over the fleet's budget "
             f"of {fleet.monitor.rtt_budget_ms:g} ms"),
        rule("BcastTurnFailing", "bcast_turn_up == 0", "2m", "critical",
             "TURN allocation fails in {{ $labels.region }}"),
        rule("BcastNodeRejected", "bcast_node_rejected == 1", "1m", "warning",
             "{{ $labels.by }} rejects {{ $labels.node }} (wrong cluster secret)"),
        rule("BcastCheckFailing", f"bcast_check_failing_rounds >= {n}", "0m", "warning",
             f"{{{{ $labels.check }}}} fails for {{{{ $labels.scope }}}} ({n}+ rounds)"),
        rule("BcastMonitorStale",
             f"time() - bcast_monitor_last_round_timestamp_seconds > {stale_s:g}", "0m",
             "warning", "bcastctl monitor has not finished a round lately"),
    ]  # fmt: skip
    return [{"name": f"{fleet.name}.bcastctl", "rules": rules}]


def prometheus_rule(fleet: Fleet) -> Manifest:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": _meta(fleet),
        "spec": {"groups": alert_groups(fleet)},
    }


def dashboard_configmap(fleet: Fleet) -> Manifest:
    from bcastctl.render.dashboard import dashboard

    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(fleet, f"{NAME}-dashboard", grafana_dashboard="1"),
        "data": {"bcastctl-fleet.json": json.dumps(dashboard(fleet), indent=1, sort_keys=True)},
    }


def monitoring_manifests(fleet: Fleet, region: Region) -> list[Manifest]:
    """The monitor's objects for `region`; none unless `monitor.enabled`."""
    if not fleet.monitor.enabled:
        return []
    objects = identity(fleet)
    if region.name == monitor_region(fleet):
        objects += [deployment(fleet), *_serving(fleet), prometheus_rule(fleet),
                    dashboard_configmap(fleet)]  # fmt: skip
    return objects
