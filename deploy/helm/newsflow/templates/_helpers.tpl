{{/* Names: every object is <release>-<part>; the Kafka, Elasticsearch and Kibana clusters are <release>. */}}
{{- define "newsflow.name" -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "newsflow.labels" -}}
app.kubernetes.io/name: newsflow
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "newsflow.selector" -}}
app.kubernetes.io/name: newsflow
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The Secret holding one credential: compose's secret name with '-' (kafka_clean_password -> <release>-kafka-clean-password). */}}
{{- define "newsflow.secret" -}}
{{- printf "%s-%s" (include "newsflow.name" .root) (.name | replace "_" "-") -}}
{{- end -}}

{{/* A password: from values, else the existing Secret's, else random. */}}
{{- define "newsflow.password" -}}
{{- $given := index .root.Values.credentials .name -}}
{{- if $given -}}
{{- $given -}}
{{- else -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace (include "newsflow.secret" .) -}}
{{- if and $existing $existing.data (hasKey $existing.data "password") -}}
{{- index $existing.data "password" | b64dec -}}
{{- else -}}
{{- randAlphaNum 32 -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "newsflow.topic" -}}
{{- printf "%s.%s" .root.Values.settings.topic_prefix .kind -}}
{{- end -}}

{{- define "newsflow.kafkaBootstrap" -}}
{{- printf "%s-kafka-bootstrap:9093" (include "newsflow.name" .) -}}
{{- end -}}

{{- define "newsflow.esUrl" -}}
{{- printf "https://%s-es-http:9200" (include "newsflow.name" .) -}}
{{- end -}}

{{- define "newsflow.prefectApiUrl" -}}
{{- .Values.prefect.apiUrl | default (printf "http://%s-prefect:4200/api" (include "newsflow.name" .)) -}}
{{- end -}}

{{/* Security context of every newsflow container: the image's user 10001, nothing more. */}}
{{- define "newsflow.podSecurity" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile: {type: RuntimeDefault}
{{- end -}}

{{- define "newsflow.containerSecurity" -}}
allowPrivilegeEscalation: false
capabilities: {drop: [ALL]}
{{- end -}}

{{/* Environment of a newsflow container: settings, endpoints, CA files, secrets dir. */}}
{{- define "newsflow.env" -}}
envFrom:
  - configMapRef: {name: {{ include "newsflow.name" . }}-settings}
{{- end -}}

{{/* Volumes with the two CA certificates and one container's secrets as files in /run/secrets
     (newsflow_kafka_password, newsflow_es_password), as compose mounts them. */}}
{{- define "newsflow.volumes" -}}
- name: kafka-ca
  secret:
    secretName: {{ include "newsflow.name" .root }}-cluster-ca-cert
    items: [{key: ca.crt, path: ca.crt}]
- name: es-ca
  secret:
    secretName: {{ include "newsflow.name" .root }}-es-http-certs-public
    items: [{key: ca.crt, path: ca.crt}]
- name: secrets
  projected:
    sources:
      - secret:
          name: {{ include "newsflow.secret" (dict "root" .root "name" (printf "kafka_%s_password" .kafkaUser)) }}
          items: [{key: password, path: newsflow_kafka_password}]
      {{- if .esSecret }}
      - secret:
          name: {{ .esSecret }}
          items: [{key: {{ .esKey | default "password" }}, path: newsflow_es_password}]
      {{- end }}
{{- end -}}

{{- define "newsflow.volumeMounts" -}}
- {name: kafka-ca, mountPath: /certs/kafka, readOnly: true}
- {name: es-ca, mountPath: /certs/es, readOnly: true}
- {name: secrets, mountPath: /run/secrets, readOnly: true}
{{- end -}}
