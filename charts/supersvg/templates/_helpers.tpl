{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "supersvg.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name prefix of every resource. The release name is used alone when it already contains
the chart name, so `helm install supersvg` gives supersvg-gateway, not supersvg-supersvg-gateway.
*/}}
{{- define "supersvg.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Name of one component's resources: <fullname>-<component>, at most 63 characters. */}}
{{- define "supersvg.componentName" -}}
{{- printf "%s-%s" (include "supersvg.fullname" .root | trunc 50 | trimSuffix "-") .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "supersvg.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select one component's pods; they never change between upgrades. */}}
{{- define "supersvg.selectorLabels" -}}
app.kubernetes.io/name: {{ include "supersvg.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Standard labels of every resource of a component. */}}
{{- define "supersvg.labels" -}}
helm.sh/chart: {{ include "supersvg.chart" .root }}
{{ include "supersvg.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: supersvg
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Image reference of a component: registry/repository:tag (tag defaults to appVersion). */}}
{{- define "supersvg.image" -}}
{{- $registry := .root.Values.image.registry | trimSuffix "/" }}
{{- $tag := .image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion }}
{{- $repo := .repository | default .image.repository }}
{{- if $registry }}
{{- printf "%s/%s:%s" $registry $repo $tag }}
{{- else }}
{{- printf "%s:%s" $repo $tag }}
{{- end }}
{{- end }}

{{/* Image of the vectorizer: the CUDA build with GPUs, the CPU build without. */}}
{{- define "supersvg.vectorizerImage" -}}
{{- $v := .Values.vectorizer }}
{{- $repo := ternary $v.image.repository $v.image.cpuRepository $v.gpu.enabled }}
{{- include "supersvg.image" (dict "root" . "image" $v.image "repository" $repo) }}
{{- end }}

{{/* Worker pod resources as JSON: CPU/memory from values, plus the GPUs when enabled. */}}
{{- define "supersvg.workerResources" -}}
{{- $v := .Values.vectorizer }}
{{- $res := deepCopy (default dict $v.resources) }}
{{- if $v.gpu.enabled }}
{{- $gpu := dict $v.gpu.resourceName ($v.gpu.count | toString) }}
{{- $_ := set $res "limits" (merge (deepCopy $gpu) (default dict $res.limits)) }}
{{- end }}
{{- toJson $res }}
{{- end }}

{{/* Name of a component's ServiceAccount. */}}
{{- define "supersvg.serviceAccountName" -}}
{{- include "supersvg.componentName" . }}
{{- end }}

{{- define "supersvg.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Pod-level security context shared by every pod of the chart. */}}
{{- define "supersvg.podSecurityContext" -}}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end }}

{{/* Container-level security context shared by every container of the chart. */}}
{{- define "supersvg.containerSecurityContext" -}}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
{{- end }}

{{/* Names of the chart's Secrets and the keys inside them. */}}
{{- define "supersvg.secretName" -}}
{{- include "supersvg.fullname" . }}
{{- end }}

{{- define "supersvg.databaseSecretName" -}}
{{- if and (not .Values.postgresql.enabled) .Values.externalDatabase.existingSecret }}
{{- .Values.externalDatabase.existingSecret }}
{{- else }}
{{- include "supersvg.secretName" . }}
{{- end }}
{{- end }}

{{- define "supersvg.databaseSecretKey" -}}
{{- if and (not .Values.postgresql.enabled) .Values.externalDatabase.existingSecret }}
{{- .Values.externalDatabase.existingSecretKey }}
{{- else }}
{{- print "database-url" }}
{{- end }}
{{- end }}

{{/*
Object storage settings live in a ConfigMap and a Secret whose keys are the environment
variables of docs/contracts.md, so that the operator can hand both to worker pods (envFrom).
*/}}
{{- define "supersvg.storageName" -}}
{{- include "supersvg.componentName" (dict "root" . "component" "storage") }}
{{- end }}

{{- define "supersvg.storageSecretName" -}}
{{- if and (not .Values.minio.enabled) .Values.objectStorage.existingSecret }}
{{- .Values.objectStorage.existingSecret }}
{{- else }}
{{- include "supersvg.storageName" . }}
{{- end }}
{{- end }}

{{- define "supersvg.authSecretName" -}}
{{- default (include "supersvg.secretName" .) .Values.auth.existingSecret }}
{{- end }}

{{- define "supersvg.authSecretKey" -}}
{{- ternary .Values.auth.existingSecretKey "bootstrap-token" (ne .Values.auth.existingSecret "") }}
{{- end }}

{{- define "supersvg.webhookSecretName" -}}
{{- default (include "supersvg.secretName" .) .Values.webhooks.existingSecret }}
{{- end }}

{{- define "supersvg.webhookSecretKey" -}}
{{- ternary .Values.webhooks.existingSecretKey "webhook-secret" (ne .Values.webhooks.existingSecret "") }}
{{- end }}

{{/* In-cluster addresses of the bundled stores and the scheduler. */}}
{{- define "supersvg.postgresqlHost" -}}
{{- include "supersvg.componentName" (dict "root" . "component" "postgresql") }}
{{- end }}

{{/* Labels the operator puts on every worker pod (supersvg.operator.model). */}}
{{- define "supersvg.workerSelectorLabels" -}}
app.kubernetes.io/managed-by: supersvg-operator
{{- end }}

{{- define "supersvg.minioHost" -}}
{{- include "supersvg.componentName" (dict "root" . "component" "minio") }}
{{- end }}

{{- define "supersvg.schedulerAddress" -}}
{{- printf "%s:%d" (include "supersvg.componentName" (dict "root" . "component" "scheduler")) (int .Values.scheduler.service.port) }}
{{- end }}

{{/*
Look up a value in the chart's existing Secret so that generated credentials survive upgrades;
fall back to the given value, or to a new random one.
*/}}
{{- define "supersvg.secretValue" -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace (default (include "supersvg.secretName" .root) .secret) }}
{{- if .value }}
{{- .value }}
{{- else if and $existing $existing.data (hasKey $existing.data .key) }}
{{- index $existing.data .key | b64dec }}
{{- else if .bytes }}
{{- printf "%s%s" (default "" .prefix) (randBytes (int .bytes)) }}
{{- else }}
{{- printf "%s%s" (default "" .prefix) (randAlphaNum (int (default 32 .length))) }}
{{- end }}
{{- end }}

{{/*
Logging and tracing environment: the common names of docs/contracts.md, and the same settings
under the component's own prefix (each component's settings class reads its prefix).
*/}}
{{- define "supersvg.commonEnv" -}}
{{- $v := .root.Values }}
{{- range $prefix := compact (list "SUPERSVG_" .prefix) }}
- name: {{ $prefix }}LOG_LEVEL
  value: {{ $v.logging.level | quote }}
- name: {{ $prefix }}LOG_FORMAT
  value: {{ $v.logging.format | quote }}
{{- with $v.tracing.otlpEndpoint }}
- name: {{ $prefix }}OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* Storage environment of every process that reads or writes artifacts (contracts.md). */}}
{{- define "supersvg.storageEnvFrom" -}}
- configMapRef:
    name: {{ include "supersvg.storageName" . }}
- secretRef:
    name: {{ include "supersvg.storageSecretName" . }}
{{- end }}

{{/* Environment of the scheduler and of its migration Job: the database URL. */}}
{{- define "supersvg.databaseEnv" -}}
- name: SUPERSVG_SCHEDULER_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "supersvg.databaseSecretName" . }}
      key: {{ include "supersvg.databaseSecretKey" . }}
{{- end }}

{{/* Volume for /tmp: the root filesystem is read-only. */}}
{{- define "supersvg.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- end }}

{{- define "supersvg.tmpVolumeMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/*
Mutual TLS on the internal gRPC links. Two Secrets with the keys ca.crt, tls.crt, tls.key
(cert-manager's layout; supersvg.common.tls reads these names): the scheduler's server
certificate, and the client certificate shared by the gateway and the worker pods.
*/}}
{{- define "supersvg.tlsServerSecret" -}}
{{- include "supersvg.componentName" (dict "root" . "component" "grpc-server-tls") }}
{{- end }}

{{- define "supersvg.tlsClientSecret" -}}
{{- include "supersvg.componentName" (dict "root" . "component" "grpc-client-tls") }}
{{- end }}

{{/* DNS names of the scheduler Service that its certificate must carry, as a list. */}}
{{- define "supersvg.schedulerDnsNames" -}}
{{- $svc := include "supersvg.componentName" (dict "root" . "component" "scheduler") }}
{{- $ns := .Release.Namespace }}
{{- list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) | toJson }}
{{- end }}

{{/* Environment naming the mounted certificate files; .prefix is the component's. */}}
{{- define "supersvg.tlsEnv" -}}
{{- if .root.Values.tls.internal.enabled }}
- name: {{ .prefix }}TLS_CA_FILE
  value: /etc/supersvg/tls/ca.crt
- name: {{ .prefix }}TLS_CERT_FILE
  value: /etc/supersvg/tls/tls.crt
- name: {{ .prefix }}TLS_KEY_FILE
  value: /etc/supersvg/tls/tls.key
{{- end }}
{{- end }}

{{/* The certificate Secret as a volume (not subPath: renewed files must reach the pod). */}}
{{- define "supersvg.tlsVolume" -}}
{{- if .root.Values.tls.internal.enabled }}
- name: tls
  secret:
    secretName: {{ .secret }}
    defaultMode: 0440
{{- end }}
{{- end }}

{{- define "supersvg.tlsVolumeMount" -}}
{{- if .Values.tls.internal.enabled }}
- name: tls
  mountPath: /etc/supersvg/tls
  readOnly: true
{{- end }}
{{- end }}

{{/*
Largest request body the gateway accepts: gateway.maxUploadBytes plus the multipart form's
overhead (FORM_OVERHEAD_BYTES in supersvg.gateway.app, 256 KiB; a test holds them equal).
*/}}
{{- define "supersvg.gatewayMaxBodyBytes" -}}
{{- add (int64 .Values.gateway.maxUploadBytes) 262144 }}
{{- end }}

{{/*
Ingress annotations derived from the gateway's limits (ingress-nginx; other controllers
ignore them). The body size is the gateway's limit rounded up to MiB plus 1 MiB, so every
request the gateway would refuse for size still reaches it and gets the API's JSON 413;
the proxy timeouts let a body take as long as the gateway allows. Annotations set in
gateway.ingress.annotations win.
*/}}
{{- define "supersvg.ingressAnnotations" -}}
{{- $g := .Values.gateway }}
{{- $mib := add (div (add (include "supersvg.gatewayMaxBodyBytes" . | int64) 1048575) 1048576) 1 }}
{{- $timeout := $g.bodyTimeoutSeconds | int64 | toString }}
{{- $derived := dict "nginx.ingress.kubernetes.io/proxy-body-size" (printf "%dm" $mib) "nginx.ingress.kubernetes.io/proxy-read-timeout" $timeout "nginx.ingress.kubernetes.io/proxy-send-timeout" $timeout }}
{{- toYaml (merge (deepCopy (default dict $g.ingress.annotations)) $derived) }}
{{- end }}
