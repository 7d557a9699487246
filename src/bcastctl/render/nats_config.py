"""The NATS server configuration text of one region (the `nats.conf` in its ConfigMap).

A cluster of `cluster_size` servers with routes, and a `gateway {}` block that joins
the super-cluster through every other region's MCS name. What deploy applies and what
the lab runs both come from here.
"""

from __future__ import annotations

import string

from bcastctl.fleet import Fleet, Region

NATS_CONF_TEMPLATE = string.Template(
    """\
# NATS server of region ${region}: a cluster of ${cluster_size} with routes, and a
# gateway {} that joins the super-cluster through every other region's MCS name.
server_name: $$POD_NAME
listen: 0.0.0.0:${client_port}
http: 0.0.0.0:${monitor_port}

cluster {
  name: ${region}
  listen: 0.0.0.0:${cluster_port}
  routes: [
${routes}
  ]
}

gateway {
  name: ${region}
  listen: 0.0.0.0:${gateway_port}
  gateways: [
${gateways}
  ]
}

# A system account, so $$SYS monitoring requests work across the super-cluster.
accounts {
  SYS: { users: [ { user: sys, password: $$NATS_SYSTEM_PASSWORD } ] }
  APP: { users: [ { user: app } ] }
}
system_account: SYS
no_auth_user: app
"""
)


def gateway_url(fleet: Fleet, region: str) -> str:
    """A region's NATS gateway at its MCS clusterset name."""
    return f"nats://{fleet.clusterset_names(region)['nats-gateway']}:{fleet.nats.gateway_port}"


def nats_config(fleet: Fleet, region: Region) -> str:
    routes = [
        f"    nats://{region.name}-nats-{i}.{region.name}-nats.{fleet.namespace}"
        f".svc.cluster.local:{fleet.nats.cluster_port}"
        for i in range(fleet.nats.cluster_size)
    ]
    gateways = [
        f'    {{ name: {other}, url: "{gateway_url(fleet, other)}" }}'
        for other in fleet.region_names
        if other != region.name
    ]
    return NATS_CONF_TEMPLATE.substitute(
        region=region.name,
        cluster_size=fleet.nats.cluster_size,
        client_port=fleet.nats.client_port,
        cluster_port=fleet.nats.cluster_port,
        gateway_port=fleet.nats.gateway_port,
        monitor_port=fleet.nats.monitor_port,
        routes="\n".join(routes),
        gateways="\n".join(gateways),
    )
