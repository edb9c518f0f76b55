#!/bin/sh
# Registers otaflow's search attributes in the Temporal namespace; safe to run again.
set -eu
for name in OtaTaskId OtaDeviceId OtaPackageVersion OtaStep OtaFailureCause; do
  if temporal operator search-attribute list --namespace "$TEMPORAL_NAMESPACE" | grep -qw "$name"; then
    echo "search attribute $name: already registered"
  else
    temporal operator search-attribute create --namespace "$TEMPORAL_NAMESPACE" --name "$name" --type Keyword
    echo "search attribute $name: registered"
  fi
done
