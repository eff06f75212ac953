#!/usr/bin/env bash
# Build the stand-in Kafka and PostgreSQL images (see README.md) and print the two variables
# that point the compose stack at them.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../../container/podman.sh"
need_podman

pg_ref=localhost/lodestone-standin-postgres:15-$(cat "$here"/postgres/* | sha256sum | cut -c1-12)
if ! podman image exists "$pg_ref"; then
  base=$(debian_base lodestone-base-postgres postgresql-15)
  echo "building $pg_ref" >&2
  podman build -q --build-arg "BASE=$base" -t "$pg_ref" "$here/postgres" >/dev/null
fi

# Tagged by the content of its recipe, so that a changed recipe builds a new image.
recipe=$(cat "$here"/kafka/* | sha256sum | cut -c1-12)
kafka_ref=localhost/lodestone-standin-kafka:4.1.1-$recipe
if ! podman image exists "$kafka_ref"; then
  libs="$LODESTONE_CACHE/images/kafka-standin-$(sha256sum "$here/kafka/pom.xml" | cut -c1-12)/libs"
  if [ ! -f "$libs/.complete" ]; then
    command -v mvn >/dev/null || { echo "Maven is required (apt-get install maven)" >&2; exit 1; }
    echo "resolving the Kafka jars with Maven into $libs" >&2
    rm -rf "$libs"; mkdir -p "$libs"
    mvn -q -B -f "$here/kafka/pom.xml" \
      org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
      -DoutputDirectory="$libs" >&2
    touch "$libs/.complete"
  fi
  base=$(debian_base lodestone-base-java openjdk-17-jre-headless)
  context=$(mktemp -d)
  trap 'rm -rf "$context"' EXIT
  cp "$here/kafka/Containerfile" "$here/kafka/entrypoint.sh" "$here/kafka/kafka-topics.sh" "$context/"
  cp -r "$libs" "$context/libs"
  echo "building $kafka_ref" >&2
  podman build -q --build-arg "BASE=$base" -t "$kafka_ref" "$context" >/dev/null
fi

echo "LODESTONE_POSTGRES_IMAGE=$pg_ref"
echo "LODESTONE_KAFKA_IMAGE=$kafka_ref"
