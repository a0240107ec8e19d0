#!/bin/bash
# One-shot (compose service `certs`, Elasticsearch image): a CA and the TLS certificates of
# Elasticsearch's HTTP/transport layers and of Kafka's SASL_SSL listener, into the `certs`
# volume. Runs once: a second run finds them and exits. Private keys are readable by the
# services' users only (ES runs as uid 1000, Kafka as uid 1000 in its image).
set -euo pipefail
: "${KAFKA_KEYSTORE_PASSWORD:?run python -m newsflow.secrets init first}"
cd /usr/share/elasticsearch
out=config/certs
if [ -f "$out/done" ]; then echo "certificates already made"; exit 0; fi
bin/elasticsearch-certutil ca --silent --pem --out "$out/ca.zip"
unzip -qo "$out/ca.zip" -d "$out"
bin/elasticsearch-certutil cert --silent --pem --in /security/instances.yml \
  --ca-cert "$out/ca/ca.crt" --ca-key "$out/ca/ca.key" --out "$out/certs.zip"
unzip -qo "$out/certs.zip" -d "$out"
mkdir -p "$out/kafka"
# Kafka takes a PKCS#12 keystore (certutil's PEM key is PKCS#1, which Kafka's PEM loader refuses).
bin/elasticsearch-certutil cert --silent --name kafka --dns kafka,localhost --ip 127.0.0.1 \
  --ca-cert "$out/ca/ca.crt" --ca-key "$out/ca/ca.key" \
  --pass "$KAFKA_KEYSTORE_PASSWORD" --out "$out/kafka/kafka.p12"
rm -f "$out/ca.zip" "$out/certs.zip" "$out/ca/ca.key"   # the CA key is not needed any more
chown -R 1000:0 "$out"
find "$out" -type d -exec chmod 750 {} \;
find "$out" -type f -exec chmod 640 {} \;
chmod 644 "$out/ca/ca.crt"   # the CA certificate is public: every client needs it
touch "$out/done"
echo "certificates made"
