"""Manifests -> clusters: preflight, plan, apply, wait, gate, revisions, rollback, DNS, GKE.

rollout.deploy is the entry point of `bcastctl deploy`; ops has rollback and status;
dns the Cloud DNS geo record; discover the GKE cluster discovery. Everything here
returns values (deploy/model.py) and talks to clusters only through adapters/kube.py.
"""
