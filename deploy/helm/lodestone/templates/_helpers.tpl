{{/* Names, labels and the pieces every Lodestone container shares. */}}

{{- define "lodestone.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "lodestone.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "lodestone.labels" -}}
{{ include "lodestone.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The image reference: a digest wins over a tag; the tag defaults to the appVersion. */}}
{{- define "lodestone.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* LODESTONE_* settings shared by every container: broker and topics. */}}
{{- define "lodestone.commonEnv" -}}
- name: LODESTONE_KAFKA_BOOTSTRAP
  value: {{ .Values.kafka.bootstrap | quote }}
- name: LODESTONE_TOPIC_SHIPMENTS
  value: {{ .Values.kafka.topics.shipments | quote }}
- name: LODESTONE_TOPIC_LICENSES
  value: {{ .Values.kafka.topics.licenses | quote }}
- name: LODESTONE_TOPIC_CONTROLS
  value: {{ .Values.kafka.topics.controls | quote }}
- name: LODESTONE_TOPIC_DECISIONS
  value: {{ .Values.kafka.topics.decisions | quote }}
- name: LODESTONE_TOPIC_DEAD_LETTERS
  value: {{ .Values.kafka.topics.deadLetters | quote }}
- name: LODESTONE_TOPIC_ANCHORS
  value: {{ .Values.kafka.topics.anchors | quote }}
- name: LODESTONE_TOPIC_PARTIES
  value: {{ .Values.kafka.topics.parties | quote }}
- name: LODESTONE_TOPIC_REVIEWS
  value: {{ .Values.kafka.topics.reviews | quote }}
- name: LODESTONE_LOG_FORMAT
  value: json
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* A database URL taken from the referenced Secret: (dict "root" $ "role" "screening"). */}}
{{- define "lodestone.databaseEnv" -}}
- name: {{ printf "LODESTONE_%s_DATABASE_URL" (upper .role) }}
  valueFrom:
    secretKeyRef:
      name: {{ .root.Values.database.existingSecret }}
      key: {{ index .root.Values.database.keys .role }}
{{- end -}}

{{/* Pod-level settings shared by every workload: (dict "root" $ "component" "screening"). */}}
{{- define "lodestone.podSpecCommon" -}}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- end -}}

{{/* Spread replicas over nodes unless the values give an affinity of their own. */}}
{{- define "lodestone.affinity" -}}
{{- $values := index .root.Values .component -}}
{{- if $values.affinity }}
affinity:
  {{- toYaml $values.affinity | nindent 2 }}
{{- else }}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "lodestone.selectorLabels" .root | nindent 14 }}
              app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- with $values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The writable scratch space of a read-only container. */}}
{{- define "lodestone.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end -}}
