#!/bin/sh
# Create the contract's topics once (idempotent); run by the compose stack's `topics` job.
set -eu
topics() { /opt/kafka/bin/kafka-topics.sh --bootstrap-server kafka:9092 --create --if-not-exists "$@"; }
topics --topic shipments.v1 --partitions 6 --config max.message.bytes=2097152
topics --topic decisions.v1 --partitions 6 --config max.message.bytes=4194304
topics --topic shipments.v1.dlq --partitions 1 --config max.message.bytes=4194304
topics --topic licenses.v1 --partitions 1 --config cleanup.policy=compact
topics --topic controls.v1 --partitions 1 --config cleanup.policy=compact --config max.message.bytes=8388608
# Every signed tree head of the audit log, kept for good (outside verifiers compare with them).
topics --topic audit.anchors.v1 --partitions 1 --config retention.ms=-1
# China's controlled-party listings (compacted), and a draft catalogue's shadow decisions.
topics --topic parties.v1 --partitions 1 --config cleanup.policy=compact
topics --topic decisions.shadow.v1 --partitions 6 --config max.message.bytes=4194304
# People's reviews of held decisions: few, kept for good (every release is evidence).
topics --topic reviews.v1 --partitions 6 --config retention.ms=-1
