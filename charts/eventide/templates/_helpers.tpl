{{/* Names and labels. */}}
{{- define "eventide.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "eventide.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "eventide.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "eventide.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "eventide.selectorLabels" -}}
app.kubernetes.io/name: {{ include "eventide.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "eventide.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "eventide.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "eventide.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "eventide.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The namespaces a namespaced install watches, as a JSON list. */}}
{{- define "eventide.watchNamespaces" -}}
{{- if .Values.rbac.namespaces }}{{ toJson .Values.rbac.namespaces }}{{ else }}{{ list .Release.Namespace | toJson }}{{ end }}
{{- end }}

{{/* The path of the data volume: spool and dead letters. */}}
{{- define "eventide.dataDir" -}}/var/lib/eventide{{- end }}

{{/*
The route file: .Values.config with what the chart manages filled in.
- spool.dir and deadLetter.path default to the data volume.
- replicas > 1 turns leaderElection on; a config turning it off fails.
- a namespaced install sets namespace to the watched namespaces; a config
  naming others fails.
*/}}
{{- define "eventide.defaultConfig" -}}
logLevel: info
logFormat: json
maxEventAgeSeconds: 60
route:
  routes:
    - id: warnings
      match:
        - type: Warning
          receiver: stdout
receivers:
  - name: stdout
    stdout: {}
{{- end }}

{{- define "eventide.config" -}}
{{- $cfg := deepCopy (.Values.config | default dict) }}
{{- if not (or (hasKey $cfg "route") (hasKey $cfg "receivers")) }}
{{- $cfg = mergeOverwrite (include "eventide.defaultConfig" . | fromYaml) $cfg }}
{{- end }}
{{- $spool := get $cfg "spool" | default dict }}
{{- if not (hasKey $spool "dir") }}{{ $_ := set $spool "dir" (printf "%s/spool" (include "eventide.dataDir" .)) }}{{ end }}
{{- $_ := set $cfg "spool" $spool }}
{{- $dl := get $cfg "deadLetter" | default dict }}
{{- if not (hasKey $dl "path") }}{{ $_ := set $dl "path" (printf "%s/dead-letter.jsonl" (include "eventide.dataDir" .)) }}{{ end }}
{{- $_ := set $cfg "deadLetter" $dl }}
{{- if gt (int .Values.replicas) 1 }}
{{- $le := get $cfg "leaderElection" | default dict }}
{{- if and (hasKey $le "enabled") (not $le.enabled) }}
{{- fail (printf "replicas is %d but config.leaderElection.enabled is false: several replicas without leader election would each send every event. Remove config.leaderElection.enabled (the chart turns it on) or set replicas to 1." (int .Values.replicas)) }}
{{- end }}
{{- $_ := set $le "enabled" true }}
{{- if not (get $le "leaderElectionID") }}{{ $_ := set $le "leaderElectionID" (include "eventide.fullname" .) }}{{ end }}
{{- $_ := set $cfg "leaderElection" $le }}
{{- end }}
{{- if not .Values.rbac.clusterWide }}
{{- $watch := include "eventide.watchNamespaces" . | fromJsonArray }}
{{- if hasKey $cfg "namespace" }}
{{- $given := get $cfg "namespace" }}
{{- if kindIs "string" $given }}{{ $given = list $given }}{{ end }}
{{- if not (eq (toJson (sortAlpha $given)) (toJson (sortAlpha $watch))) }}
{{- fail (printf "rbac.clusterWide is false and config.namespace is %s, but the chart grants access to %s: set rbac.namespaces to the namespaces to watch and leave config.namespace out." (toJson $given) (toJson $watch)) }}
{{- end }}
{{- end }}
{{- $_ := set $cfg "namespace" $watch }}
{{- end }}
{{- toYaml $cfg }}
{{- end }}

{{- define "eventide.leaderElection" -}}
{{- $le := get (.Values.config | default dict) "leaderElection" | default dict }}
{{- if or (gt (int .Values.replicas) 1) (get $le "enabled") }}true{{ end }}
{{- end }}

{{/* The metric name prefix: config.metricsNamePrefix, or eventide. */}}
{{- define "eventide.metricPrefix" -}}
{{- get (.Values.config | default dict) "metricsNamePrefix" | default "eventide" | trimSuffix "_" }}
{{- end }}

{{/*
The names of eventide's own objects, as eventide derives them from the
rendered route file (pkg/exporter/config/config.go): the Lease is
leaderElectionID (default eventide), the checkpoint ConfigMap
checkpoint.name (default <leaderElectionID>-checkpoint), the group state
<checkpoint name>-groups. The Role grants access to these names only.
*/}}
{{- define "eventide.leaseName" -}}
{{- $le := get (include "eventide.config" . | fromYaml) "leaderElection" | default dict }}
{{- get $le "leaderElectionID" | default "eventide" }}
{{- end }}

{{- define "eventide.checkpointName" -}}
{{- $cp := get (include "eventide.config" . | fromYaml) "checkpoint" | default dict }}
{{- get $cp "name" | default (printf "%s-checkpoint" (include "eventide.leaseName" .)) }}
{{- end }}

{{- define "eventide.groupStateName" -}}
{{- printf "%s-groups" (include "eventide.checkpointName" .) }}
{{- end }}
