#!/bin/sh
# KAFKA_* variables -> server.properties (KAFKA_LOG_DIRS -> log.dirs), storage formatted once
# with CLUSTER_ID, then the broker in the foreground.
set -eu
props=/opt/kafka/config/server.properties
env | grep '^KAFKA_' | grep -v '^KAFKA_HEAP_OPTS=' | while IFS='=' read -r name value; do
  key=$(printf '%s' "${name#KAFKA_}" | tr 'A-Z_' 'a-z.')
  printf '%s=%s\n' "$key" "$value"
done >"$props"
logdir=$(sed -n 's/^log.dirs=//p' "$props")
if [ ! -f "${logdir:-/var/lib/kafka/data}/meta.properties" ]; then
  java -cp '/opt/kafka/libs/*' kafka.tools.StorageTool format -t "$CLUSTER_ID" -c "$props"
fi
# shellcheck disable=SC2086
exec java ${KAFKA_HEAP_OPTS:--Xmx512m} -cp '/opt/kafka/libs/*' kafka.Kafka "$props"
