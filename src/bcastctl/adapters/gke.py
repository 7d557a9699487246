"""GKE through google-cloud-container (REST transport): find clusters, build kube clients.

No gcloud binary: a cluster's endpoint and CA come from the GKE API and the bearer
token from Google credentials (application default credentials). The API endpoint is
configurable (`BCASTCTL_GKE_ENDPOINT`, e.g. a local fake); `BCASTCTL_GCP_ANONYMOUS=1`
uses anonymous credentials (for fakes only). SDK errors become BcastErrors.
"""

from __future__ import annotations

import asyncio
import base64
import os
import tempfile
from dataclasses import dataclass
from typing import Any, Final

from bcastctl.adapters.kube import KubeClient
from bcastctl.errors import ConfigError, UnreachableError
from bcastctl.fleet import GkeCluster

ENDPOINT_ENV: Final = "BCASTCTL_GKE_ENDPOINT"
ANONYMOUS_ENV: Final = "BCASTCTL_GCP_ANONYMOUS"
SCOPES: Final = ("https://www.googleapis.com/auth/cloud-platform",)


@dataclass(frozen=True)
class GkeClusterInfo:
    project: str
    location: str
    name: str
    endpoint: str
    ca_certificate: str  # base64 PEM, as GKE returns it
    status: str
    version: str
    node_count: int


def credentials() -> Any:
    """Google credentials: anonymous for fakes, else application default credentials."""
    if os.environ.get(ANONYMOUS_ENV) == "1":
        from google.auth.credentials import AnonymousCredentials

        return AnonymousCredentials()  # type: ignore[no-untyped-call]
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        found, _ = google.auth.default(scopes=list(SCOPES))
    except DefaultCredentialsError as e:
        raise ConfigError(
            "no Google credentials found",
            hint="set GOOGLE_APPLICATION_CREDENTIALS to a service account key file, or log in "
            "with application default credentials",
        ) from e
    return found


def _client(endpoint: str | None) -> Any:
    from google.api_core.client_options import ClientOptions
    from google.cloud import container_v1

    options = ClientOptions(api_endpoint=endpoint or os.environ.get(ENDPOINT_ENV) or None)
    return container_v1.ClusterManagerClient(
        credentials=credentials(), transport="rest", client_options=options
    )


def _info(project: str, cluster: Any) -> GkeClusterInfo:
    return GkeClusterInfo(
        project=project,
        location=str(cluster.location),
        name=str(cluster.name),
        endpoint=str(cluster.endpoint),
        ca_certificate=str(cluster.master_auth.cluster_ca_certificate),
        status=cluster.status.name if hasattr(cluster.status, "name") else str(cluster.status),
        version=str(cluster.current_master_version),
        node_count=int(cluster.current_node_count),
    )


def _wrap(error: Exception, what: str) -> Exception:
    from google.api_core import exceptions

    if isinstance(error, exceptions.NotFound):
        return ConfigError(f"{what}: not found", hint="check the project, location and name")
    if isinstance(error, exceptions.Forbidden | exceptions.Unauthenticated):
        return ConfigError(
            f"{what}: permission denied ({error.message})",
            hint="the credentials need container.clusters.get/list",
        )
    return UnreachableError(
        f"{what}: GKE API error: {type(error).__name__}: {error}",
        hint="check network access to container.googleapis.com",
    )


async def list_clusters(
    project: str, *, endpoint: str | None = None, timeout_s: float = 20.0
) -> list[GkeClusterInfo]:
    """Every GKE cluster of the project, in every location."""

    def call() -> list[GkeClusterInfo]:
        response = _client(endpoint).list_clusters(
            parent=f"projects/{project}/locations/-", timeout=timeout_s
        )
        return [_info(project, c) for c in response.clusters]

    try:
        return await asyncio.wait_for(asyncio.to_thread(call), timeout_s + 1)
    except (ConfigError, UnreachableError):
        raise
    except TimeoutError as e:
        raise UnreachableError(
            f"GKE: listing clusters of {project}: no answer within {timeout_s:g} s"
        ) from e
    except Exception as e:
        raise _wrap(e, f"GKE project {project}") from e


async def get_cluster(
    ref: GkeCluster, *, endpoint: str | None = None, timeout_s: float = 20.0
) -> GkeClusterInfo:
    name = f"projects/{ref.project}/locations/{ref.location}/clusters/{ref.cluster}"

    def call() -> GkeClusterInfo:
        return _info(ref.project, _client(endpoint).get_cluster(name=name, timeout=timeout_s))

    try:
        return await asyncio.wait_for(asyncio.to_thread(call), timeout_s + 1)
    except (ConfigError, UnreachableError):
        raise
    except TimeoutError as e:
        raise UnreachableError(f"GKE cluster {name}: no answer within {timeout_s:g} s") from e
    except Exception as e:
        raise _wrap(e, f"GKE cluster {name}") from e


def access_token() -> str | None:
    """A Google access token for the kube API (None with anonymous credentials)."""
    creds = credentials()
    if os.environ.get(ANONYMOUS_ENV) == "1":
        return None
    import google.auth.transport.requests

    creds.refresh(google.auth.transport.requests.Request())
    return str(creds.token)


def _ca_file(ca_certificate: str) -> str | None:
    if not ca_certificate:
        return None
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept for the client's lifetime
        prefix="bcastctl-gke-ca-", suffix=".pem", delete=False
    )
    with handle:
        handle.write(base64.b64decode(ca_certificate))
    return handle.name


async def kube_client(region: str, ref: GkeCluster, *, timeout_s: float = 10.0) -> KubeClient:
    """A KubeClient for a GKE cluster: endpoint + CA from GKE, a Google access token."""
    info = await get_cluster(ref, timeout_s=timeout_s)
    host = info.endpoint if "://" in info.endpoint else f"https://{info.endpoint}"
    token = await asyncio.to_thread(access_token)
    ca_file = _ca_file(info.ca_certificate)
    client = KubeClient.from_endpoint(
        name=f"{region} (GKE {ref.project}/{ref.location}/{ref.cluster})",
        host=host,
        ca_file=ca_file,
        token=token,
        timeout_s=timeout_s,
    )
    client.owned_files += [ca_file] if ca_file else []
    return client
