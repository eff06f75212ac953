{{/*
How a service reaches a secured Kafka (docs/connecting.md): LODESTONE_KAFKA_* variables, the
SASL credentials from the service's own Secret, the CA and client certificate as mounted files.
Each takes (dict "root" $ "principal" "screening"). Contradicting values fail the rendering, as
the same settings would stop the service at start-up.
*/}}

{{- define "lodestone.kafkaSecurity.check" -}}
{{- $s := .root.Values.kafka.security -}}
{{- $sasl := has $s.protocol (list "SASL_PLAINTEXT" "SASL_SSL") -}}
{{- $tls := has $s.protocol (list "SSL" "SASL_SSL") -}}
{{- if not (has $s.protocol (list "PLAINTEXT" "SSL" "SASL_PLAINTEXT" "SASL_SSL")) -}}
{{- fail (printf "kafka.security.protocol %q: one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL" $s.protocol) -}}
{{- end -}}
{{- if and $sasl (not $s.saslMechanism) -}}
{{- fail (printf "kafka.security.protocol %s needs kafka.security.saslMechanism" $s.protocol) -}}
{{- end -}}
{{- if and $s.saslMechanism (not $sasl) -}}
{{- fail (printf "kafka.security.saslMechanism %s needs a SASL_ protocol" $s.saslMechanism) -}}
{{- end -}}
{{- if and (has $s.saslMechanism (list "PLAIN" "SCRAM-SHA-256" "SCRAM-SHA-512")) (not (index $s.saslSecrets .principal)) -}}
{{- fail (printf "kafka.security.saslSecrets.%s: %s needs the %s principal's username and password" .principal $s.saslMechanism .principal) -}}
{{- end -}}
{{- if and (eq $s.saslMechanism "OAUTHBEARER") (not $s.oauthTokenProvider) -}}
{{- fail "kafka.security.saslMechanism OAUTHBEARER needs kafka.security.oauthTokenProvider" -}}
{{- end -}}
{{- if and (not $tls) (or $s.caSecret (index $s.clientCertificateSecrets .principal)) -}}
{{- fail (printf "kafka.security: TLS secrets are set but the protocol is %s" $s.protocol) -}}
{{- end -}}
{{- end -}}

{{- define "lodestone.kafkaSecurity.env" -}}
{{- include "lodestone.kafkaSecurity.check" . -}}
{{- $s := .root.Values.kafka.security -}}
- name: LODESTONE_KAFKA_SECURITY_PROTOCOL
  value: {{ $s.protocol | quote }}
{{- with $s.saslMechanism }}
- name: LODESTONE_KAFKA_SASL_MECHANISM
  value: {{ . | quote }}
{{- end }}
{{- if has $s.saslMechanism (list "PLAIN" "SCRAM-SHA-256" "SCRAM-SHA-512") }}
- name: LODESTONE_KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef: {name: {{ index $s.saslSecrets .principal }}, key: username}
- name: LODESTONE_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ index $s.saslSecrets .principal }}, key: password}
{{- end }}
{{- if has $s.protocol (list "SSL" "SASL_SSL") }}
{{- if $s.caSecret }}
- name: LODESTONE_KAFKA_SSL_CAFILE
  value: /etc/lodestone/kafka/ca/ca.crt
{{- end }}
{{- if index $s.clientCertificateSecrets .principal }}
- name: LODESTONE_KAFKA_SSL_CERTFILE
  value: /etc/lodestone/kafka/client/tls.crt
- name: LODESTONE_KAFKA_SSL_KEYFILE
  value: /etc/lodestone/kafka/client/tls.key
{{- end }}
- name: LODESTONE_KAFKA_SSL_CHECK_HOSTNAME
  value: {{ $s.checkHostname | quote }}
{{- end }}
{{- with $s.oauthTokenProvider }}
- name: LODESTONE_KAFKA_OAUTH_TOKEN_PROVIDER
  value: {{ . | quote }}
{{- end }}
{{- with $s.awsRegion }}
- name: LODESTONE_KAFKA_AWS_REGION
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{- define "lodestone.kafkaSecurity.volumeMounts" -}}
{{- $s := .root.Values.kafka.security -}}
{{- if has $s.protocol (list "SSL" "SASL_SSL") }}
{{- if $s.caSecret }}
- name: kafka-ca
  mountPath: /etc/lodestone/kafka/ca
  readOnly: true
{{- end }}
{{- if index $s.clientCertificateSecrets .principal }}
- name: kafka-client-certificate
  mountPath: /etc/lodestone/kafka/client
  readOnly: true
{{- end }}
{{- end }}
{{- end -}}

{{- define "lodestone.kafkaSecurity.volumes" -}}
{{- $s := .root.Values.kafka.security -}}
{{- if has $s.protocol (list "SSL" "SASL_SSL") }}
{{- with $s.caSecret }}
- name: kafka-ca
  secret:
    secretName: {{ . }}
    items: [{key: ca.crt, path: ca.crt}]
{{- end }}
{{- with index $s.clientCertificateSecrets .principal }}
- name: kafka-client-certificate
  secret:
    secretName: {{ . }}
    defaultMode: 0440
    items: [{key: tls.crt, path: tls.crt}, {key: tls.key, path: tls.key}]
{{- end }}
{{- end }}
{{- end -}}
