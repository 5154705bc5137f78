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

{{- /*
What reconciling needs, as rules (the list under `rules:`). Keep in sync with
crates/operator/src/install/operator_rbac.rs (the source of deploy/rbac/cluster-role.yaml):
tests/deploy_chart.rs compares the two. Granted by the ClusterRole openbao-operator, or in a namespaced
install (watchNamespaces) by the Role openbao-operator-reconcile in each watched namespace.
*/ -}}
{{- define "openbao-operator.reconcileRules" -}}
{{- $manage := list "get" "list" "watch" "create" "update" "patch" "delete" -}}
# The custom resource: watch, finalizer, status.
- apiGroups: ["openbao.org"]
  resources: ["openbaoclusters"]
  verbs: ["get", "list", "watch", "update", "patch"]
- apiGroups: ["openbao.org"]
  resources: ["openbaoclusters/status"]
  verbs: ["get", "update", "patch"]
- apiGroups: ["openbao.org"]
  resources: ["openbaoclusters/finalizers"]
  verbs: ["update"]
# Restores and tenants: read, and the NotImplemented condition until their machinery exists.
- apiGroups: ["openbao.org"]
  resources: ["openbaorestores", "openbaotenants"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["openbao.org"]
  resources: ["openbaorestores/status", "openbaotenants/status"]
  verbs: ["update", "patch"]
# Children applied by the apply stage.
- apiGroups: ["apps"]
  resources: ["statefulsets"]
  verbs: {{ toJson $manage }}
- apiGroups: [""]
  resources: ["services", "configmaps", "serviceaccounts"]
  verbs: {{ toJson $manage }}
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies", "ingresses"]
  verbs: {{ toJson $manage }}
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: {{ toJson $manage }}
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["rolebindings"]
  verbs: {{ toJson $manage }}
# Roles are only watched and deleted: earlier versions made a <cluster>-discovery Role per
# cluster, which the operator removes (the fixed ClusterRole grants its reads).
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["roles"]
  verbs: ["get", "list", "watch", "delete"]
# The per-cluster RoleBinding to the OpenBao pods' fixed ClusterRole: bind on that one name
# instead of holding its pod write verb (openbao-server-clusterrole.yaml). In a Role it covers
# RoleBindings in the Role's namespace only.
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["clusterroles"]
  resourceNames: ["openbao-operator-openbao-server"]
  verbs: ["bind"]
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["httproutes", "backendtlspolicies"]
  verbs: {{ toJson $manage }}
# Backup (and restore) Jobs: created one at a time per cluster, watched, never updated.
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list", "watch", "create", "delete"]
# Generated Secrets (CA, certificate, unseal key, root token).
- apiGroups: [""]
  resources: ["secrets"]
  verbs: {{ toJson $manage }}
# deletionPolicy DeletePVCs/DeleteAll, the unseal-key safety check, expanding the claims when
# spec.storage.size grows, and the audit claim of spec.auditFileStorage (created once).
- apiGroups: [""]
  resources: ["persistentvolumeclaims"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# Member status and addresses. delete: rollouts replace the server pods one at a time, the
# active member last (the StatefulSet is OnDelete).
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch", "delete"]
# Events.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}
