{{/*
What each workload adds to the shared Deployment: the signing keys it uses (and no other), as
read-only files from their Secrets; the audit service's anchor file; the broker's security.
Private keys are mounted with mode 0440 (the pods' fsGroup reads them).
*/}}

{{- define "lodestone.screening.env" -}}
{{ include "lodestone.kafkaSecurity.env" (dict "root" . "principal" "screening") }}
- name: LODESTONE_DECISION_SIGNING_KEY_FILE
  value: {{ printf "/etc/lodestone/keys/decision-signing/%s" .Values.signingKeys.decisionSigning.key | quote }}
{{- end -}}

{{- define "lodestone.screening.volumeMounts" -}}
{{ include "lodestone.kafkaSecurity.volumeMounts" (dict "root" . "principal" "screening") }}
- name: decision-signing-key
  mountPath: /etc/lodestone/keys/decision-signing
  readOnly: true
{{- end -}}

{{- define "lodestone.screening.volumes" -}}
{{ include "lodestone.kafkaSecurity.volumes" (dict "root" . "principal" "screening") }}
- name: decision-signing-key
  secret:
    secretName: {{ .Values.signingKeys.decisionSigning.existingSecret }}
    defaultMode: 0440
    items: [{key: {{ .Values.signingKeys.decisionSigning.key }}, path: {{ .Values.signingKeys.decisionSigning.key }}}]
{{- end -}}

{{- define "lodestone.audit.env" -}}
{{ include "lodestone.kafkaSecurity.env" (dict "root" . "principal" "audit") }}
{{- $files := list }}
{{- range .Values.signingKeys.decisionPublic.keys }}
{{- $files = append $files (printf "/etc/lodestone/keys/decision-public/%s" .) }}
{{- end }}
{{- if not $files }}
{{- fail "signingKeys.decisionPublic.keys: the audit service records only decisions signed by a listed key" }}
{{- end }}
- name: LODESTONE_DECISION_PUBLIC_KEY_FILES
  value: {{ join "," $files | quote }}
- name: LODESTONE_AUDIT_LOG_SIGNING_KEY_FILE
  value: {{ printf "/etc/lodestone/keys/audit-log-signing/%s" .Values.signingKeys.auditLogSigning.key | quote }}
{{- if .Values.audit.anchorVolumeClaim }}
- name: POD_NAME
  valueFrom:
    fieldRef: {fieldPath: metadata.name}
- name: LODESTONE_AUDIT_ANCHOR_FILE
  value: /var/lib/lodestone/anchors/$(POD_NAME).jsonl
{{- end }}
{{- end -}}

{{- define "lodestone.audit.volumeMounts" -}}
{{ include "lodestone.kafkaSecurity.volumeMounts" (dict "root" . "principal" "audit") }}
- name: decision-public-keys
  mountPath: /etc/lodestone/keys/decision-public
  readOnly: true
- name: audit-log-signing-key
  mountPath: /etc/lodestone/keys/audit-log-signing
  readOnly: true
{{- if .Values.audit.anchorVolumeClaim }}
- name: anchors
  mountPath: /var/lib/lodestone/anchors
{{- end }}
{{- end -}}

{{- define "lodestone.audit.volumes" -}}
{{ include "lodestone.kafkaSecurity.volumes" (dict "root" . "principal" "audit") }}
- name: decision-public-keys
  secret:
    secretName: {{ .Values.signingKeys.decisionPublic.existingSecret }}
    items:
      {{- range .Values.signingKeys.decisionPublic.keys }}
      - {key: {{ . }}, path: {{ . }}}
      {{- end }}
- name: audit-log-signing-key
  secret:
    secretName: {{ .Values.signingKeys.auditLogSigning.existingSecret }}
    defaultMode: 0440
    items: [{key: {{ .Values.signingKeys.auditLogSigning.key }}, path: {{ .Values.signingKeys.auditLogSigning.key }}}]
{{- with .Values.audit.anchorVolumeClaim }}
- name: anchors
  persistentVolumeClaim:
    claimName: {{ . }}
{{- end }}
{{- end -}}

{{- define "lodestone.api.env" -}}
- name: LODESTONE_AUDIT_API_TOKENS
  valueFrom:
    secretKeyRef: {name: {{ .Values.api.tokensSecret.name }}, key: {{ .Values.api.tokensSecret.key }}}
- name: LODESTONE_AUDIT_LOG_PUBLIC_KEY_FILE
  value: {{ printf "/etc/lodestone/keys/audit-log-public/%s" .Values.signingKeys.auditLogPublic.key | quote }}
{{- end -}}

{{- define "lodestone.api.volumeMounts" -}}
- name: audit-log-public-key
  mountPath: /etc/lodestone/keys/audit-log-public
  readOnly: true
{{- end -}}

{{- define "lodestone.api.volumes" -}}
- name: audit-log-public-key
  secret:
    secretName: {{ .Values.signingKeys.auditLogPublic.existingSecret }}
    items: [{key: {{ .Values.signingKeys.auditLogPublic.key }}, path: {{ .Values.signingKeys.auditLogPublic.key }}}]
{{- end -}}

{{- define "lodestone.console.env" -}}
{{ include "lodestone.kafkaSecurity.env" (dict "root" . "principal" "console") }}
{{- $files := list }}
{{- range .Values.signingKeys.decisionPublic.keys }}
{{- $files = append $files (printf "/etc/lodestone/keys/decision-public/%s" .) }}
{{- end }}
{{- if not $files }}
{{- fail "signingKeys.decisionPublic.keys: the console's live view shows only decisions signed by a listed key" }}
{{- end }}
{{- if not .Values.console.usersSecret.name }}
{{- fail "console.usersSecret.name: the console needs its users (lodestone console hash-secret prints an entry)" }}
{{- end }}
- name: LODESTONE_CONSOLE_HOST
  value: "0.0.0.0"
- name: LODESTONE_CONSOLE_PORT
  value: "8103"
- name: LODESTONE_CONSOLE_USERS
  valueFrom:
    secretKeyRef: {name: {{ .Values.console.usersSecret.name }}, key: {{ .Values.console.usersSecret.key }}}
- name: LODESTONE_DECISION_PUBLIC_KEY_FILES
  value: {{ join "," $files | quote }}
- name: LODESTONE_AUDIT_LOG_PUBLIC_KEY_FILE
  value: {{ printf "/etc/lodestone/keys/audit-log-public/%s" .Values.signingKeys.auditLogPublic.key | quote }}
{{- end -}}

{{- define "lodestone.console.volumeMounts" -}}
{{ include "lodestone.kafkaSecurity.volumeMounts" (dict "root" . "principal" "console") }}
- name: decision-public-keys
  mountPath: /etc/lodestone/keys/decision-public
  readOnly: true
- name: audit-log-public-key
  mountPath: /etc/lodestone/keys/audit-log-public
  readOnly: true
{{- end -}}

{{- define "lodestone.console.volumes" -}}
{{ include "lodestone.kafkaSecurity.volumes" (dict "root" . "principal" "console") }}
- name: decision-public-keys
  secret:
    secretName: {{ .Values.signingKeys.decisionPublic.existingSecret }}
    items:
      {{- range .Values.signingKeys.decisionPublic.keys }}
      - {key: {{ . }}, path: {{ . }}}
      {{- end }}
- name: audit-log-public-key
  secret:
    secretName: {{ .Values.signingKeys.auditLogPublic.existingSecret }}
    items: [{key: {{ .Values.signingKeys.auditLogPublic.key }}, path: {{ .Values.signingKeys.auditLogPublic.key }}}]
{{- end -}}
