#!/bin/bash
# Entrypoint of the compose `kafka` service (apache/kafka image): one KRaft node whose only
# listener reachable from other containers is SASL_SSL with SCRAM-SHA-512, ACLs enforced.
#   - the SCRAM users (admin, publisher, one per stage) are written into the metadata log when
#     the storage is formatted (KRaft has no ZooKeeper to add them to later: see docs/security.md to
#     add or rotate one on a running broker with kafka-configs.sh);
#   - the controller listener is plaintext but bound to 127.0.0.1 inside this container only.
# Passwords come from the environment (the git-ignored .env), never from this file.
set -euo pipefail
for v in KAFKA_ADMIN_PASSWORD KAFKA_PUBLISHER_PASSWORD KAFKA_CLEAN_PASSWORD KAFKA_DEDUP_PASSWORD \
         KAFKA_ENTITIES_PASSWORD KAFKA_STORIES_PASSWORD KAFKA_INDEX_PASSWORD \
         KAFKA_KEYSTORE_PASSWORD; do
  [ -n "${!v:-}" ] || { echo "$v is not set: run python -m newsflow.secrets init" >&2; exit 1; }
done
conf=/var/lib/kafka/server.properties
umask 077   # the file holds the admin's password (inter-broker login) and the keystore's
cat > "$conf" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:9093
controller.listener.names=CONTROLLER
listeners=SASL_SSL://:9092,CONTROLLER://127.0.0.1:9093
advertised.listeners=SASL_SSL://kafka:9092
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${KAFKA_ADMIN_PASSWORD}";
ssl.keystore.type=PKCS12
ssl.keystore.location=/certs/kafka/kafka.p12
ssl.keystore.password=${KAFKA_KEYSTORE_PASSWORD}
ssl.truststore.type=PEM
ssl.truststore.location=/certs/ca/ca.crt
ssl.endpoint.identification.algorithm=https
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
# admin: topics and ACLs, and the broker's own inter-broker login. ANONYMOUS: only the
# loopback controller listener inside this container can be anonymous.
super.users=User:admin;User:ANONYMOUS
log.dirs=/var/lib/kafka/data
num.partitions=6
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
message.max.bytes=16777216
replica.fetch.max.bytes=16777216
PROPS
scram() { echo "SCRAM-SHA-512=[name=$1,password=$2]"; }
if [ ! -f /var/lib/kafka/data/meta.properties ]; then
  /opt/kafka/bin/kafka-storage.sh format -c "$conf" -t "$(/opt/kafka/bin/kafka-storage.sh random-uuid)" \
    --add-scram "$(scram admin "$KAFKA_ADMIN_PASSWORD")" \
    --add-scram "$(scram publisher "$KAFKA_PUBLISHER_PASSWORD")" \
    --add-scram "$(scram clean "$KAFKA_CLEAN_PASSWORD")" \
    --add-scram "$(scram dedup "$KAFKA_DEDUP_PASSWORD")" \
    --add-scram "$(scram entities "$KAFKA_ENTITIES_PASSWORD")" \
    --add-scram "$(scram stories "$KAFKA_STORIES_PASSWORD")" \
    --add-scram "$(scram index "$KAFKA_INDEX_PASSWORD")"
fi
exec /opt/kafka/bin/kafka-server-start.sh "$conf"
