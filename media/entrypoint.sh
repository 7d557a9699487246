#!/bin/sh
# Container entrypoint: fill pod-derived defaults, then exec bcastctl (PID 1 gets SIGTERM).
#   BCAST_NODE_NAME         <- HOSTNAME (the StatefulSet pod name, e.g. us-east5-broadcaster-0)
#   BCAST_ADVERTISE_ADDRESS <- POD_IP (downward API: status.podIP)
# Secrets stay in the environment; nothing here prints them.
set -eu
: "${BCAST_NODE_NAME:=${HOSTNAME:-}}"
if [ -z "${BCAST_ADVERTISE_ADDRESS:-}" ] && [ -n "${POD_IP:-}" ]; then
  BCAST_ADVERTISE_ADDRESS="$POD_IP"
fi
export BCAST_NODE_NAME
[ -n "${BCAST_ADVERTISE_ADDRESS:-}" ] && export BCAST_ADVERTISE_ADDRESS
exec bcastctl "$@"
