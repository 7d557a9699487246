"""How a region is reached, as objects: its NATS gateway Service per exposure mode, and the
provider's load-balancer annotations on its STUNner Gateway (bcastctl/exposure.py is the
fleet side).

Gateway Service per mode:
- `mcs` alone: a ClusterIP Service, exported (ServiceExport) under the clusterset domain.
- `nodePort`: type NodePort on the fleet's `node_port`; the others dial the node addresses.
- `loadBalancer`: type LoadBalancer with the provider's annotations, internal unless
  `public`, plus the fleet's own annotations for that region.
An MCS region with an `external` exposure gets that exposure's Service type (still exported).
Only MCS regions have ServiceExports.

Provider annotations (where each provider documents them):
- gke: `networking.gke.io/load-balancer-type: Internal` makes an internal passthrough
  Network LB (cloud.google.com/kubernetes-engine/docs/concepts/service-load-balancer-
  parameters); TURN's TCP+UDP Service needs the backend-service L4 LB,
  `cloud.google.com/l4-rbs: enabled` (docs/how-to/mixed-protocol-lb).
- aws: the AWS Load Balancer Controller (EKS's recommended controller, "Route TCP and UDP
  traffic with Network Load Balancers") provisions an NLB for
  `service.beta.kubernetes.io/aws-load-balancer-type: external` with
  `aws-load-balancer-nlb-target-type: ip`, internal unless
  `aws-load-balancer-scheme: internet-facing` (kubernetes-sigs.github.io/
  aws-load-balancer-controller guide/service/nlb and guide/service/annotations); an NLB
  carries UDP, which TURN needs.
- other: a plain LoadBalancer, no annotations (DigitalOcean, kind, k3s, ...).
STUNner copies the Gateway's annotations onto the LoadBalancer Service it creates
(stunner-gateway-operator internal/renderer/service_util.go).
"""

from __future__ import annotations

from typing import Final

from bcastctl.exposure import LoadBalancerGateway, NodePortGateway, Provider, reached_by
from bcastctl.fleet import Region
from bcastctl.model import Manifest

AWS_LB_TYPE: Final = "service.beta.kubernetes.io/aws-load-balancer-type"
AWS_TARGET_TYPE: Final = "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"
AWS_SCHEME: Final = "service.beta.kubernetes.io/aws-load-balancer-scheme"
GKE_LB_TYPE: Final = "networking.gke.io/load-balancer-type"
GKE_L4_RBS: Final = "cloud.google.com/l4-rbs"
STUNNER_TURN: Final = {
    "stunner.l7mp.io/service-type": "LoadBalancer",
    "stunner.l7mp.io/enable-mixed-protocol-lb": "true",
}


def load_balancer_annotations(provider: Provider, public: bool) -> dict[str, str]:
    """A provider's annotations for a TCP/UDP load balancer, public or internal."""
    if provider == "gke":
        return {} if public else {GKE_LB_TYPE: "Internal"}
    if provider == "aws":
        return {
            AWS_LB_TYPE: "external",
            AWS_TARGET_TYPE: "ip",
            AWS_SCHEME: "internet-facing" if public else "internal",
        }
    return {}


def turn_annotations(region: Region) -> dict[str, str]:
    """The STUNner Gateway's annotations: a public TCP+UDP load balancer on every provider."""
    provider = dict(load_balancer_annotations(region.provider, public=True))
    if region.provider == "gke":
        provider[GKE_L4_RBS] = "enabled"
    return {**STUNNER_TURN, **provider}


def shape_gateway_service(region: Region, service: Manifest) -> None:
    """Make the rendered `<region>-nats-gateway` Service what the region's exposure needs."""
    exposure = reached_by(region.gateway)
    spec = service["spec"]
    if isinstance(exposure, NodePortGateway):
        spec["type"] = "NodePort"
        spec["ports"][0]["nodePort"] = exposure.node_port
    elif isinstance(exposure, LoadBalancerGateway):
        spec["type"] = "LoadBalancer"
        annotations = load_balancer_annotations(region.provider, exposure.public)
        annotations.update(exposure.annotations)
        if annotations:
            service["metadata"]["annotations"] = dict(sorted(annotations.items()))
