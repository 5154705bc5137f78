{{/*
Names are fixed (not derived from the release name): the operator is cluster-wide, its
ClusterRoles, webhook registration and Lease are singletons, and the per-cluster NetworkPolicies
select operator pods by exactly the selector labels below.
*/}}

{{/* The labels the operator's pods carry; OpenBao's policies allow 8200 from exactly these. */}}
{{- define "openbao-operator.selectorLabels" -}}
app.kubernetes.io/component: controller
app.kubernetes.io/name: openbao-operator
{{- end }}

{{/* Labels of every object: the selector labels plus Helm's bookkeeping labels. */}}
{{- define "openbao-operator.labels" -}}
{{ include "openbao-operator.selectorLabels" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* The operator image. */}}
{{- define "openbao-operator.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}
