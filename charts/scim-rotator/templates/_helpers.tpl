{{/*
Chart name, truncated to 63 characters (the DNS label limit).
*/}}
{{- define "scim-rotator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: release-chart unless the release name already contains the chart name, truncated to 63.
*/}}
{{- define "scim-rotator.fullname" -}}
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

{{/*
CronJob name: the API server limits it to 52 characters (Job names get an 11-character suffix).
*/}}
{{- define "scim-rotator.cronJobName" -}}
{{- include "scim-rotator.fullname" . | trunc 52 | trimSuffix "-" }}
{{- end }}

{{/*
Chart label value.
*/}}
{{- define "scim-rotator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "scim-rotator.labels" -}}
helm.sh/chart: {{ include "scim-rotator.chart" . }}
{{ include "scim-rotator.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels.
*/}}
{{- define "scim-rotator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "scim-rotator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
ServiceAccount name.
*/}}
{{- define "scim-rotator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "scim-rotator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Image reference: digest wins over tag; the tag defaults to appVersion.
*/}}
{{- define "scim-rotator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
Where the config file is mounted; the container also gets SCIM_ROTATOR_CONFIG so that
`kubectl exec ... -- /scim-rotator status` finds it without flags.
*/}}
{{- define "scim-rotator.configDir" -}}/etc/scim-rotator{{- end }}
{{- define "scim-rotator.configPath" -}}/etc/scim-rotator/config.yaml{{- end }}

{{/*
The daemon's listen port (deployment mode).
*/}}
{{- define "scim-rotator.port" -}}8080{{- end }}

{{/*
The config file content. In deployment mode the top-level `schedule` value becomes the
daemon's `schedule` unless config.schedule is set, so one value drives both modes.
*/}}
{{- define "scim-rotator.config" -}}
{{- $config := deepCopy (.Values.config | default dict) }}
{{- if and (eq .Values.mode "deployment") (not (hasKey $config "schedule")) .Values.schedule }}
{{- $_ := set $config "schedule" .Values.schedule }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/*
Seconds in a Go duration string made of whole hours, minutes and seconds ("90m", "1h30m",
"5400s"). Prints nothing for any other form (fractions, ms), which callers treat as unknown.
*/}}
{{- define "scim-rotator.durationSeconds" -}}
{{- $d := toString . }}
{{- if and $d (regexMatch "^([0-9]+h)?([0-9]+m)?([0-9]+s)?$" $d) }}
{{- $h := regexFind "[0-9]+h" $d | trimSuffix "h" | default "0" | atoi }}
{{- $m := regexFind "[0-9]+m" $d | trimSuffix "m" | default "0" | atoi }}
{{- $s := regexFind "[0-9]+s" $d | trimSuffix "s" | default "0" | atoi }}
{{- add (mul $h 3600) (mul $m 60) $s }}
{{- end }}
{{- end }}

{{/*
Job deadline. It must exceed confirmTimeout (the rotator's longest wait, for one target's
sync to be confirmed), or every rotation would be killed while waiting. When unset it is
derived as targets x confirmTimeout + 1800 s (issue, store, push, promote and delete fit
comfortably in 30 min); the rotator's default confirmTimeout, 90m, applies when the config
leaves it out. A rotation cut off by the deadline resumes on the next run.
*/}}
{{- define "scim-rotator.activeDeadlineSeconds" -}}
{{- $confirm := .Values.config.confirmTimeout | default "90m" }}
{{- $confirmSeconds := include "scim-rotator.durationSeconds" $confirm }}
{{- if .Values.cronjob.activeDeadlineSeconds }}
{{- $deadline := int .Values.cronjob.activeDeadlineSeconds }}
{{- if and $confirmSeconds (le $deadline (atoi $confirmSeconds)) }}
{{- fail (printf "cronjob.activeDeadlineSeconds (%d) must be greater than config.confirmTimeout (%s = %s s)" $deadline $confirm $confirmSeconds) }}
{{- end }}
{{- $deadline }}
{{- else }}
{{- if not $confirmSeconds }}
{{- fail (printf "cannot derive cronjob.activeDeadlineSeconds from config.confirmTimeout %q (only whole h/m/s are understood): set cronjob.activeDeadlineSeconds" (toString $confirm)) }}
{{- end }}
{{- $targets := max 1 (len (.Values.config.targets | default list)) }}
{{- add (mul (atoi $confirmSeconds) $targets) 1800 }}
{{- end }}
{{- end }}

{{/*
Checks that the schema cannot express. Included by the ConfigMap, which is always rendered.
*/}}
{{- define "scim-rotator.validate" -}}
{{- if and (not .Values.existingSecret) (or .Values.secretEnvFrom .Values.secretEnv .Values.secretFiles.enabled) }}
{{- fail "secretEnvFrom, secretEnv and secretFiles need existingSecret: the name of a Secret you created (the chart never takes secret values)" }}
{{- end }}
{{- if and (eq .Values.mode "deployment") .Values.dryRun }}
{{- fail "dryRun applies to mode: cronjob only (scim-rotator run has no --dry-run)" }}
{{- end }}
{{- if and .Values.azureWorkloadIdentity.enabled .Values.serviceAccount.create }}
{{- $annotations := tpl (toYaml .Values.serviceAccount.annotations) . | fromYaml }}
{{- if not (index $annotations "azure.workload.identity/client-id") }}
{{- fail "azureWorkloadIdentity.enabled needs the ServiceAccount annotation azure.workload.identity/client-id (serviceAccount.annotations)" }}
{{- end }}
{{- end }}
{{- if eq .Values.mode "cronjob" }}
{{- $_ := include "scim-rotator.activeDeadlineSeconds" . }}
{{- end }}
{{- end }}

{{/*
Container arguments (the image's entrypoint is the binary).
*/}}
{{- define "scim-rotator.args" -}}
{{- $args := list }}
{{- if eq .Values.mode "deployment" }}
{{- /* run listens on loopback unless told: the probes and the Service need every interface. */}}
{{- $args = list "run" "--config" (include "scim-rotator.configPath" .) "--listen" (printf "0.0.0.0:%s" (include "scim-rotator.port" .)) }}
{{- else }}
{{- $args = list "rotate" "--config" (include "scim-rotator.configPath" .) }}
{{- if .Values.dryRun }}
{{- $args = append $args "--dry-run" }}
{{- end }}
{{- end }}
{{- $args = concat $args (list "--log-format" .Values.logFormat) .Values.extraArgs }}
{{- toYaml $args }}
{{- end }}

{{/*
Environment: the config path, selected Secret keys, then non-secret extras.
*/}}
{{- define "scim-rotator.env" -}}
- name: SCIM_ROTATOR_CONFIG
  value: {{ include "scim-rotator.configPath" . }}
{{- range .Values.secretEnv }}
- name: {{ required "secretEnv[].name is required" .name }}
  valueFrom:
    secretKeyRef:
      name: {{ $.Values.existingSecret }}
      key: {{ required "secretEnv[].key is required" .key }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Volumes: the config, an emptyDir /tmp (the root filesystem is read-only) and, optionally,
the existing Secret as read-only files.
*/}}
{{- define "scim-rotator.volumes" -}}
- name: config
  configMap:
    name: {{ include "scim-rotator.fullname" . }}
- name: tmp
  emptyDir:
    sizeLimit: 16Mi
{{- if .Values.secretFiles.enabled }}
- name: secrets
  secret:
    secretName: {{ .Values.existingSecret }}
    defaultMode: 0440
    {{- with .Values.secretFiles.items }}
    items:
      {{- toYaml . | nindent 6 }}
    {{- end }}
{{- end }}
{{- end }}

{{- define "scim-rotator.volumeMounts" -}}
- name: config
  mountPath: {{ include "scim-rotator.configDir" . }}
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- if .Values.secretFiles.enabled }}
- name: secrets
  mountPath: {{ .Values.secretFiles.mountPath }}
  readOnly: true
{{- end }}
{{- end }}

{{/*
Pod template shared by the CronJob and the Deployment.
*/}}
{{- define "scim-rotator.podTemplate" -}}
metadata:
  annotations:
    checksum/config: {{ include "scim-rotator.config" . | sha256sum }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  labels:
    {{- include "scim-rotator.labels" . | nindent 4 }}
    {{- if .Values.azureWorkloadIdentity.enabled }}
    azure.workload.identity/use: "true"
    {{- end }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "scim-rotator.serviceAccountName" . }}
  automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
  {{- if eq .Values.mode "cronjob" }}
  restartPolicy: Never
  {{- else }}
  terminationGracePeriodSeconds: {{ .Values.deployment.terminationGracePeriodSeconds }}
  {{- end }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  containers:
    - name: scim-rotator
      image: {{ include "scim-rotator.image" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        {{- include "scim-rotator.args" . | nindent 8 }}
      env:
        {{- include "scim-rotator.env" . | nindent 8 }}
      {{- if .Values.secretEnvFrom }}
      envFrom:
        - secretRef:
            name: {{ .Values.existingSecret }}
      {{- end }}
      {{- if eq .Values.mode "deployment" }}
      ports:
        - name: http
          containerPort: {{ include "scim-rotator.port" . }}
          protocol: TCP
      livenessProbe:
        httpGet:
          path: /healthz
          port: http
        {{- toYaml .Values.deployment.livenessProbe | nindent 8 }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: http
        {{- toYaml .Values.deployment.readinessProbe | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      volumeMounts:
        {{- include "scim-rotator.volumeMounts" . | nindent 8 }}
  volumes:
    {{- include "scim-rotator.volumes" . | nindent 4 }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/*
JSON for `kubectl run --overrides` (NOTES.txt): a one-off pod with the rotator's
ServiceAccount, config and secrets running one command (status, check, rotate --continue,
stage --current). The default override type (merge) replaces the containers list, so the
container is complete here. With "stdin" true the container reads `kubectl run -i`'s stdin
(a token piped in, never on the command line).
Takes (dict "root" $ "name" "pod-name" "args" (list "status") "stdin" false).
*/}}
{{- define "scim-rotator.oneOffOverrides" -}}
{{- $root := .root }}
{{- $container := dict "name" .name "image" (include "scim-rotator.image" $root) "args" .args }}
{{- if .stdin }}
{{- $_ := set $container "stdin" true }}
{{- $_ = set $container "stdinOnce" true }}
{{- end }}
{{- $_ := set $container "env" (include "scim-rotator.env" $root | fromYamlArray) }}
{{- $_ = set $container "volumeMounts" (include "scim-rotator.volumeMounts" $root | fromYamlArray) }}
{{- $_ = set $container "securityContext" $root.Values.securityContext }}
{{- if $root.Values.secretEnvFrom }}
{{- $_ = set $container "envFrom" (list (dict "secretRef" (dict "name" $root.Values.existingSecret))) }}
{{- end }}
{{- $spec := dict "serviceAccountName" (include "scim-rotator.serviceAccountName" $root) "automountServiceAccountToken" $root.Values.serviceAccount.automountServiceAccountToken "securityContext" $root.Values.podSecurityContext "restartPolicy" "Never" "containers" (list $container) }}
{{- $_ = set $spec "volumes" (include "scim-rotator.volumes" $root | fromYamlArray) }}
{{- $labels := dict }}
{{- if $root.Values.azureWorkloadIdentity.enabled }}
{{- $_ = set $labels "azure.workload.identity/use" "true" }}
{{- end }}
{{- toJson (dict "apiVersion" "v1" "metadata" (dict "labels" $labels) "spec" $spec) }}
{{- end }}
