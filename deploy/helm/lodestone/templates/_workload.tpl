{{/*
One Deployment of the Lodestone image: (dict "root" $ "component" "screening" "args" (list ...)
"prefix" "SCREENING" "role" "screening" "port" 9101 "portName" "metrics" "replicas" 2).
The component's own variables, mounts and volumes come from "lodestone.<component>.env",
".volumeMounts" and ".volumes" (_keys.tpl).
*/}}
{{- define "lodestone.deployment" -}}
{{- $root := .root -}}
{{- $values := index $root.Values .component -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "lodestone.fullname" $root }}-{{ .component }}
  labels:
    {{- include "lodestone.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  {{- if not .autoscaled }}
  replicas: {{ $values.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 1
      maxSurge: 1
  selector:
    matchLabels:
      {{- include "lodestone.selectorLabels" $root | nindent 6 }}
      app.kubernetes.io/component: {{ .component }}
  template:
    metadata:
      labels:
        {{- include "lodestone.labels" $root | nindent 8 }}
        app.kubernetes.io/component: {{ .component }}
    spec:
      {{- include "lodestone.podSpecCommon" (dict "root" $root) | trim | nindent 6 }}
      {{- include "lodestone.affinity" (dict "root" $root "component" .component) | trim | nindent 6 }}
      {{- with $values.terminationGracePeriodSeconds }}
      terminationGracePeriodSeconds: {{ . }}
      {{- end }}
      containers:
        - name: {{ .component }}
          image: {{ include "lodestone.image" $root | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args:
            {{- toYaml .args | nindent 12 }}
          env:
            {{- include "lodestone.commonEnv" $root | nindent 12 }}
            {{- include "lodestone.databaseEnv" (dict "root" $root "role" .role) | nindent 12 }}
            {{- range $key, $value := $values.settings }}
            - name: {{ printf "LODESTONE_%s_%s" $.prefix ($key | snakecase | upper) }}
              value: {{ $value | quote }}
            {{- end }}
            {{- with include (printf "lodestone.%s.env" .component) $root | trim }}
            {{- . | nindent 12 }}
            {{- end }}
          ports:
            - name: {{ .portName }}
              containerPort: {{ .port }}
              protocol: TCP
          startupProbe:
            httpGet: {path: /healthz, port: {{ .portName }}}
            periodSeconds: 2
            failureThreshold: 60
          livenessProbe:
            httpGet: {path: /healthz, port: {{ .portName }}}
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          readinessProbe:
            httpGet: {path: /readyz, port: {{ .portName }}}
            periodSeconds: 5
            timeoutSeconds: 3
            failureThreshold: 2
          resources:
            {{- toYaml $values.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            - name: state
              mountPath: /var/lib/lodestone
            {{- with include (printf "lodestone.%s.volumeMounts" .component) $root | trim }}
            {{- . | nindent 12 }}
            {{- end }}
      volumes:
        {{- include "lodestone.tmpVolume" $root | nindent 8 }}
        - name: state
          emptyDir:
            sizeLimit: 16Mi
        {{- with include (printf "lodestone.%s.volumes" .component) $root | trim }}
        {{- . | nindent 8 }}
        {{- end }}
{{- end -}}

{{/* A PodDisruptionBudget for one component: (dict "root" $ "component" "screening"). */}}
{{- define "lodestone.pdb" -}}
{{- $values := index .root.Values .component -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "lodestone.fullname" .root }}-{{ .component }}
  labels:
    {{- include "lodestone.labels" .root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  maxUnavailable: {{ $values.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "lodestone.selectorLabels" .root | nindent 6 }}
      app.kubernetes.io/component: {{ .component }}
{{- end -}}
