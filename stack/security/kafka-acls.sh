#!/bin/bash
# One-shot (compose service `kafka-acls`, apache/kafka image): least-privilege ACLs, one Kafka
# user per stage. Each stage may read its input topic in its own consumer group and write its
# output topic, news.dlq and news.skipped; nothing else. The publisher may only write news.raw.
# Re-running adds nothing new (ACLs are a set). Topic and group names are the defaults
# (NEWSFLOW_TOPIC_PREFIX=news, NEWSFLOW_GROUP_PREFIX=newsflow): change both together.
set -euo pipefail
: "${KAFKA_ADMIN_PASSWORD:?run python -m newsflow.secrets init}"
cfg=$(mktemp); trap 'rm -f "$cfg"' EXIT
cat > "$cfg" <<PROPS
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${KAFKA_ADMIN_PASSWORD}";
ssl.truststore.type=PEM
ssl.truststore.location=/certs/ca/ca.crt
PROPS
acl() { /opt/kafka/bin/kafka-acls.sh --bootstrap-server kafka:9092 --command-config "$cfg" --add "$@"; }
stage() {  # stage input output
  local user=User:$1
  acl --allow-principal "$user" --operation Read --operation Describe --topic "news.$2"
  acl --allow-principal "$user" --operation Read --group "newsflow-$1"
  for out in ${3:+"news.$3"} news.dlq news.skipped; do
    acl --allow-principal "$user" --operation Write --operation Describe --topic "$out"
  done
}
stage clean raw clean
stage dedup clean deduped
stage entities deduped enriched
stage stories enriched storied
stage index storied ""
acl --allow-principal User:publisher --operation Write --operation Describe --topic news.raw
echo "kafka ACLs ready"
