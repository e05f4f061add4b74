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
The config's instances (config.instances), an empty list for the single-instance file.
*/}}
{{- define "scim-rotator.instances" -}}
{{- toYaml (get (.Values.config | default dict) "instances" | default list) }}
{{- end }}

{{/*
CronJob name of one instance (fleet, cronjob mode): <fullname>-<instance>. Longer than the
52-character limit it keeps 43 characters and adds 8 hex of the full name's sha256, so that
names stay unique. Takes (dict "root" $ "name" "prod").
*/}}
{{- define "scim-rotator.instanceCronJobName" -}}
{{- $full := printf "%s-%s" (include "scim-rotator.fullname" .root) .name }}
{{- if le (len $full) 52 }}
{{- $full }}
{{- else }}
{{- printf "%s-%s" ($full | trunc 43 | trimSuffix "-") ($full | sha256sum | trunc 8) }}
{{- end }}
{{- end }}

{{/*
The one-off commands: a suspended CronJob each (templates/oneoffs.yaml), started by hand as the
NOTES print. "name" is the CronJob name's suffix and the Job name's prefix; "stdin" marks the
one whose pod reads the token on standard input (started with `kubectl run -i`, not as a Job).
*/}}
{{- define "scim-rotator.oneOffCommands" -}}
- {name: status, args: [status], stdin: false}
- {name: check, args: [check], stdin: false}
- {name: dry-run, args: [rotate, --dry-run], stdin: false}
- {name: continue, args: [rotate, --continue], stdin: false}
- {name: stage, args: [stage, --current, --token-id, $(SCIM_ROTATOR_TOKEN_ID)], stdin: true}
{{- end }}

{{/*
CronJob name of a one-off command: <fullname>[-<instance>]-<command>. Longer than the 52-character
limit it keeps the start of <fullname>[-<instance>], 8 hex of its sha256 and the whole command, so
that names stay unique and say what they run. Takes (dict "root" $ "instance" "prod" "command" "check").
*/}}
{{- define "scim-rotator.oneOffName" -}}
{{- $base := include "scim-rotator.fullname" .root }}
{{- with .instance }}
{{- $base = printf "%s-%s" $base . }}
{{- end }}
{{- $full := printf "%s-%s" $base .command }}
{{- if le (len $full) 52 }}
{{- $full }}
{{- else }}
{{- printf "%s-%s-%s" ($base | trunc (int (sub 42 (len .command))) | trimSuffix "-") ($base | sha256sum | trunc 8) .command }}
{{- end }}
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
{{- /* Keys set to null (to drop a default of values.yaml) are left out, as Helm's merge does; `helm lint` keeps them. */}}
{{- range $key, $value := $config }}
{{- if kindIs "invalid" $value }}
{{- $_ := unset $config $key }}
{{- end }}
{{- end }}
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
Takes (dict "root" $ "targets" <the targets of the CronJob's instance>).
*/}}
{{- define "scim-rotator.activeDeadlineSeconds" -}}
{{- $root := .root }}
{{- $confirm := $root.Values.config.confirmTimeout | default "90m" }}
{{- $confirmSeconds := include "scim-rotator.durationSeconds" $confirm }}
{{- if $root.Values.cronjob.activeDeadlineSeconds }}
{{- $deadline := int $root.Values.cronjob.activeDeadlineSeconds }}
{{- if and $confirmSeconds (le $deadline (atoi $confirmSeconds)) }}
{{- fail (printf "cronjob.activeDeadlineSeconds (%d) must be greater than config.confirmTimeout (%s = %s s)" $deadline $confirm $confirmSeconds) }}
{{- end }}
{{- $deadline }}
{{- else }}
{{- if not $confirmSeconds }}
{{- fail (printf "cannot derive cronjob.activeDeadlineSeconds from config.confirmTimeout %q (only whole h/m/s are understood): set cronjob.activeDeadlineSeconds" (toString $confirm)) }}
{{- end }}
{{- $targets := max 1 (len (.targets | default list)) }}
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
{{- with include "scim-rotator.secretRefs" (dict "v" .Values.config "path" "config") | trim }}
{{- if not $.Values.existingSecret }}
{{- fail (printf "%s names a secret, but existingSecret is empty: set existingSecret (a Secret you created with the credentials) and expose it with secretEnv, secretEnvFrom or secretFiles" (first (splitList "\n" .))) }}
{{- end }}
{{- end }}
{{- include "scim-rotator.validateCABundle" . }}
{{- if and (eq .Values.mode "deployment") .Values.dryRun }}
{{- fail "dryRun applies to mode: cronjob only (scim-rotator run has no --dry-run)" }}
{{- end }}
{{- if and .Values.azureWorkloadIdentity.enabled .Values.serviceAccount.create }}
{{- $annotations := tpl (toYaml .Values.serviceAccount.annotations) . | fromYaml }}
{{- if not (index $annotations "azure.workload.identity/client-id") }}
{{- fail "azureWorkloadIdentity.enabled needs the ServiceAccount annotation azure.workload.identity/client-id (serviceAccount.annotations)" }}
{{- end }}
{{- end }}
{{- $instances := include "scim-rotator.instances" . | fromYamlArray }}
{{- if $instances }}
{{- include "scim-rotator.validateInstances" (dict "root" . "instances" $instances) }}
{{- else if eq .Values.mode "cronjob" }}
{{- $_ := include "scim-rotator.activeDeadlineSeconds" (dict "root" . "targets" .Values.config.targets) }}
{{- end }}
{{- end }}

{{/*
The names of the CronJobs one instance brings (its rotation's in cronjob mode, its one-offs), one
a line. Takes (dict "root" $ "name" "prod").
*/}}
{{- define "scim-rotator.instanceCronJobNames" -}}
{{- $root := .root }}
{{- $name := .name }}
{{- if eq $root.Values.mode "cronjob" }}
{{ include "scim-rotator.instanceCronJobName" (dict "root" $root "name" $name) }}
{{- end }}
{{- if $root.Values.oneOffs.enabled }}
{{- range include "scim-rotator.oneOffCommands" $root | fromYamlArray }}
{{ include "scim-rotator.oneOffName" (dict "root" $root "instance" $name "command" .name) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The config keys that name a secret (a non-empty ...Env or ...File), one path a line: the
credentials come from existingSecret, so without it every run would fail.
Takes (dict "v" <a config value> "path" <its path>).
*/}}
{{- define "scim-rotator.secretRefs" -}}
{{- $path := .path }}
{{- if kindIs "map" .v }}
{{- range $k, $v := .v }}
{{- if and (kindIs "string" $v) $v (or (hasSuffix "Env" $k) (hasSuffix "File" $k)) }}
{{ printf "%s.%s" $path $k }}
{{- else }}
{{- include "scim-rotator.secretRefs" (dict "v" $v "path" (printf "%s.%s" $path $k)) }}
{{- end }}
{{- end }}
{{- else if kindIs "slice" .v }}
{{- range $i, $v := .v }}
{{- include "scim-rotator.secretRefs" (dict "v" $v "path" (printf "%s[%d]" $path $i)) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The fleet checks the schema cannot express: unique names, one form of config file, and in
cronjob mode a deadline and a distinct CronJob name per instance.
Takes (dict "root" $ "instances" <config.instances>).
*/}}
{{- define "scim-rotator.validateInstances" -}}
{{- $root := .root }}
{{- $mixed := list }}
{{- range $key := list "identityCenter" "store" "targets" }}
{{- /* A key set to null is gone after Helm merges values, but `helm lint` keeps it, as null. */}}
{{- if index $root.Values.config $key }}
{{- $mixed = append $mixed (printf "config.%s" $key) }}
{{- end }}
{{- end }}
{{- if $mixed }}
{{- fail (printf "config.instances cannot be combined with %s (the single-instance form): give each instance its own identityCenter, store and targets, and set %s to null in your values to drop the chart's single-instance default" (join ", " $mixed) (join ", " $mixed)) }}
{{- end }}
{{- $seen := dict }}
{{- $cronJobs := dict }}
{{- range $i, $instance := .instances }}
{{- $name := toString $instance.name }}
{{- if hasKey $seen $name }}
{{- fail (printf "config.instances[%d].name: %q is already the name of config.instances[%s]: instance names must be unique" $i $name (get $seen $name)) }}
{{- end }}
{{- $_ := set $seen $name (toString $i) }}
{{- if eq $root.Values.mode "cronjob" }}
{{- $_ = include "scim-rotator.activeDeadlineSeconds" (dict "root" $root "targets" $instance.targets) }}
{{- end }}
{{- /* Its rotation's and one-offs' CronJobs: instance a's one-off <fullname>-a-check would be instance a-check's rotation. */}}
{{- range $cronJob := include "scim-rotator.instanceCronJobNames" (dict "root" $root "name" $name) | trim | splitList "\n" }}
{{- if not $cronJob }}{{ continue }}{{ end }}
{{- if hasKey $cronJobs $cronJob }}
{{- fail (printf "config.instances[%d] (%s) and config.instances[%s] would share the CronJob name %s: rename one of them" $i $name (get $cronJobs $cronJob) $cronJob) }}
{{- end }}
{{- $_ := set $cronJobs $cronJob (toString $i) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Container arguments (the image's entrypoint is the binary). A one-off command (OneOff) gets its
own, the config, its instance and the log format: extraArgs are the rotation's.
*/}}
{{- define "scim-rotator.args" -}}
{{- $args := list }}
{{- $oneOff := get . "OneOff" }}
{{- if $oneOff }}
{{- $args = concat $oneOff.args (list "--config" (include "scim-rotator.configPath" .)) }}
{{- else if eq .Values.mode "deployment" }}
{{- /* run listens on loopback unless told: the probes and the Service need every interface. */}}
{{- $args = list "run" "--config" (include "scim-rotator.configPath" .) "--listen" (printf "0.0.0.0:%s" (include "scim-rotator.port" .)) }}
{{- else }}
{{- $args = list "rotate" "--config" (include "scim-rotator.configPath" .) }}
{{- end }}
{{- with (get . "Instance") }}
{{- $args = concat $args (list "--instance" .) }}
{{- end }}
{{- if and .Values.dryRun (not $oneOff) (eq .Values.mode "cronjob") }}
{{- $args = append $args "--dry-run" }}
{{- end }}
{{- $args = concat $args (list "--log-format" .Values.logFormat) }}
{{- if not $oneOff }}
{{- $args = concat $args .Values.extraArgs }}
{{- end }}
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
{{- if include "scim-rotator.caBundle" . }}
{{- /* Go reads SSL_CERT_FILE (unset: the image's bundle) and then every directory listed here:
the private CA is added to the system roots, never in their place. */}}
- name: SSL_CERT_DIR
  value: {{ printf "%s:%s" .Values.caBundle.systemCertDir .Values.caBundle.mountPath | quote }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
"configMap" or "secret" when caBundle names one (nothing otherwise).
*/}}
{{- define "scim-rotator.caBundle" -}}
{{- if .Values.caBundle.configMap.name }}configMap{{ else if .Values.caBundle.secret.name }}secret{{ end }}
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
{{- with include "scim-rotator.caBundle" . }}
{{- $ref := get $.Values.caBundle . }}
- name: ca-bundle
  {{- if eq . "configMap" }}
  configMap:
    name: {{ $ref.name }}
  {{- else }}
  secret:
    secretName: {{ $ref.name }}
  {{- end }}
    defaultMode: 0444
    items:
      - key: {{ $ref.key }}
        path: ca.crt
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
{{- if include "scim-rotator.caBundle" . }}
- name: ca-bundle
  mountPath: {{ .Values.caBundle.mountPath }}
  readOnly: true
{{- end }}
{{- end }}

{{/*
Pod template shared by the CronJobs and the Deployment. With OneOff (dict "name" "check" "args"
(list "check") "stdin" false) it is a one-off command's pod, a Job's in both modes: labelled
app.kubernetes.io/component: one-off, with the selector labels, so that the NetworkPolicy lets it
out (a Job's pod is never adopted by the Deployment's ReplicaSet, and without the http port it is
no endpoint of the Service).
*/}}
{{- define "scim-rotator.podTemplate" -}}
{{- $oneOff := get . "OneOff" }}
{{- $daemon := and (eq .Values.mode "deployment") (not $oneOff) }}
{{- $stdin := false }}
{{- if $oneOff }}{{ $stdin = $oneOff.stdin }}{{ end -}}
metadata:
  annotations:
    checksum/config: {{ include "scim-rotator.config" . | sha256sum }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  labels:
    {{- include "scim-rotator.labels" . | nindent 4 }}
    {{- with (get . "Instance") }}
    scim-rotator/instance: {{ . }}
    {{- end }}
    {{- if $oneOff }}
    {{- include "scim-rotator.oneOffLabels" . | nindent 4 }}
    {{- end }}
    {{- if .Values.azureWorkloadIdentity.enabled }}
    azure.workload.identity/use: "true"
    {{- end }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "scim-rotator.serviceAccountName" . }}
  automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
  {{- if not $daemon }}
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
      {{- if $stdin }}
      # The token comes on standard input (`kubectl run -i ... < file`), never in the pod spec;
      # stdinOnce: the process reads to EOF, which kubectl sends when the file ends.
      stdin: true
      stdinOnce: true
      {{- end }}
      env:
        {{- include "scim-rotator.env" . | nindent 8 }}
        {{- if $stdin }}
        # The token's id (not a secret) from the pod annotation `kubectl run --annotations` sets.
        - name: SCIM_ROTATOR_TOKEN_ID
          valueFrom:
            fieldRef:
              fieldPath: metadata.annotations['scim-rotator/token-id']
        {{- end }}
      {{- if .Values.secretEnvFrom }}
      envFrom:
        - secretRef:
            name: {{ .Values.existingSecret }}
      {{- end }}
      {{- if $daemon }}
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
The labels of a one-off command's CronJob, Jobs and pods (besides the common ones).
*/}}
{{- define "scim-rotator.oneOffLabels" -}}
app.kubernetes.io/component: one-off
scim-rotator/command: {{ .OneOff.name }}
{{- end }}

{{/*
One CronJob. Takes (dict "ctx" <root, with Instance for a fleet's instance and OneOff for a
one-off command> "name" <CronJob name> "targets" <the targets it rotates, for the derived deadline>).
A one-off's CronJob never runs on its own: suspended, on a schedule that never comes (February
31st); its Jobs are created by hand (`kubectl create job --from=cronjob/...`) and deleted
oneOffs.ttlSecondsAfterFinished after they finish. Its deadline is the rotation's (rotate
--continue waits for the confirmations), left out in deployment mode when confirmTimeout is a
duration the chart cannot read (the daemon does not need cronjob.activeDeadlineSeconds).
*/}}
{{- define "scim-rotator.cronJob" -}}
{{- $ctx := .ctx -}}
{{- $oneOff := get $ctx "OneOff" -}}
{{- $deadline := "" -}}
{{- if or (not $oneOff) (eq $ctx.Values.mode "cronjob") $ctx.Values.cronjob.activeDeadlineSeconds (include "scim-rotator.durationSeconds" ($ctx.Values.config.confirmTimeout | default "90m")) -}}
{{- $deadline = include "scim-rotator.activeDeadlineSeconds" (dict "root" $ctx "targets" .targets) -}}
{{- end -}}
apiVersion: batch/v1
kind: CronJob
metadata:
  name: {{ .name }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "scim-rotator.labels" $ctx | nindent 4 }}
    {{- with (get $ctx "Instance") }}
    scim-rotator/instance: {{ . }}
    {{- end }}
    {{- if $oneOff }}
    {{- include "scim-rotator.oneOffLabels" $ctx | nindent 4 }}
    {{- end }}
spec:
  {{- if $oneOff }}
  # Started by hand only (see the NOTES).
  schedule: "0 0 31 2 *"
  suspend: true
  {{- else }}
  schedule: {{ $ctx.Values.schedule | quote }}
  {{- with $ctx.Values.cronjob.timeZone }}
  timeZone: {{ . | quote }}
  {{- end }}
  {{- end }}
  {{- if not $oneOff }}
  # Never two rotations at once: a run still waiting for a sync blocks the next one.
  {{- end }}
  concurrencyPolicy: Forbid
  startingDeadlineSeconds: {{ $ctx.Values.cronjob.startingDeadlineSeconds }}
  successfulJobsHistoryLimit: {{ $ctx.Values.cronjob.successfulJobsHistoryLimit }}
  failedJobsHistoryLimit: {{ $ctx.Values.cronjob.failedJobsHistoryLimit }}
  {{- if not $oneOff }}
  suspend: {{ $ctx.Values.cronjob.suspend }}
  {{- end }}
  jobTemplate:
    metadata:
      labels:
        {{- include "scim-rotator.labels" $ctx | nindent 8 }}
        {{- with (get $ctx "Instance") }}
        scim-rotator/instance: {{ . }}
        {{- end }}
        {{- if $oneOff }}
        {{- include "scim-rotator.oneOffLabels" $ctx | nindent 8 }}
        {{- end }}
    spec:
      {{- if $oneOff }}
      # No retries: a failed one-off is read, fixed and started again by hand.
      {{- else }}
      # No retries: the rotator records its progress and the next scheduled run resumes it.
      {{- end }}
      backoffLimit: 0
      {{- with $deadline }}
      activeDeadlineSeconds: {{ . }}
      {{- end }}
      {{- if $oneOff }}
      ttlSecondsAfterFinished: {{ $ctx.Values.oneOffs.ttlSecondsAfterFinished }}
      {{- end }}
      template:
        {{- include "scim-rotator.podTemplate" $ctx | nindent 8 }}
{{- end }}

{{/*
NOTES.txt's one-off commands for one instance (--instance NAME), or for the single-instance file
with "instance" "": each starts a Job from the command's suspended CronJob (templates/oneoffs.yaml)
under a new name per run (<command>-<epoch seconds>), in either mode. Takes (dict "root" $
"instance" "prod").
stage --current reads the live token on standard input, and a Job created from a CronJob has none:
`kubectl run -i` makes the pod instead, from the pod template of the -stage CronJob (--overrides:
a JSON merge patch, whose containers list replaces the one kubectl generates, --image included),
and streams the file to it (stdin, stdinOnce: the token never is in the pod spec, an argument or an
environment variable). The token's id, not a secret, goes in as a pod annotation (--annotations
is merged, not replaced) that the container reads through the downward API: a Job from that
CronJob has no annotation, and stage then stops on the missing --token-id. Attaching to a Job's
pod instead would race with its start (`kubectl attach` does not wait for the container).
*/}}
{{- define "scim-rotator.notesCommands" -}}
{{- $root := .root }}
{{- $ns := $root.Release.Namespace }}
{{- $cronJob := dict }}
{{- range include "scim-rotator.oneOffCommands" $root | fromYamlArray }}
{{- $_ := set $cronJob .name (include "scim-rotator.oneOffName" (dict "root" $root "instance" $.instance "command" .name)) }}
{{- end }}
{{- if $root.Values.oneOffs.enabled }}

Show the token status (live token, expiry, rotation in progress):

  kubectl -n {{ $ns }} create job --from=cronjob/{{ get $cronJob "status" }} status-$(date +%s)

Check the configuration and every system's credentials without changing anything:

  kubectl -n {{ $ns }} create job --from=cronjob/{{ get $cronJob "check" }} check-$(date +%s)

Show what a rotation would do now (rotate --dry-run), changing nothing:

  kubectl -n {{ $ns }} create job --from=cronjob/{{ get $cronJob "dry-run" }} dry-run-$(date +%s)

After a hand-off (outcome AwaitingHandoff: you pasted the new token into the IdP), confirm the
sync and finish the rotation (it waits up to confirmTimeout; interrupted, it resumes next time):

  kubectl -n {{ $ns }} create job --from=cronjob/{{ get $cronJob "continue" }} continue-$(date +%s)

Record the token your IdP uses today, so that a rotation can roll back to it: put its value in
live-token.txt (never on the command line) and replace TOKEN_ID with its id (IAM Identity Center
console). kubectl run makes the pod from the template of {{ get $cronJob "stage" }} and streams the file to it:

  T=$(kubectl -n {{ $ns }} get cronjob {{ get $cronJob "stage" }} -o jsonpath='{.spec.jobTemplate.spec.template}')
  kubectl -n {{ $ns }} run stage-$(date +%s) -i --rm --restart=Never --image=unused --annotations=scim-rotator/token-id=TOKEN_ID --overrides="$T" < live-token.txt
{{- end }}
{{- end }}

{{/*
The schedule the rotator runs on: the CronJob's, or the daemon's (config.schedule, else schedule).
*/}}
{{- define "scim-rotator.effectiveSchedule" -}}
{{- if eq .Values.mode "deployment" }}
{{- (include "scim-rotator.config" . | fromYaml).schedule }}
{{- else }}
{{- .Values.schedule }}
{{- end }}
{{- end }}

{{/*
The longest time in seconds between two runs of the effective schedule, for the forms it can
read: the @ descriptors, "@every <h/m/s duration>", and 5-field specs with "*" as day of
month, month and day of week whose hour is "*", a step ("*" slash N) or a list (with a fixed
minute), or whose minute is a step (hour "*"). Prints nothing for any other form, which
callers treat as unknown.
*/}}
{{- define "scim-rotator.scheduleSeconds" -}}
{{- $s := include "scim-rotator.effectiveSchedule" . | trim }}
{{- $fixed := dict "@hourly" 3600 "@daily" 86400 "@midnight" 86400 "@weekly" 604800 "@monthly" 2678400 "@yearly" 31622400 "@annually" 31622400 }}
{{- if hasKey $fixed $s }}
{{- get $fixed $s }}
{{- else if hasPrefix "@every " $s }}
{{- include "scim-rotator.durationSeconds" (trimPrefix "@every " $s | trim) }}
{{- else }}
{{- $f := splitList " " (regexReplaceAll "\\s+" $s " ") }}
{{- if and (eq (len $f) 5) (eq (index $f 2) "*") (eq (index $f 3) "*") (eq (index $f 4) "*") }}
{{- $m := index $f 0 }}
{{- $h := index $f 1 }}
{{- if regexMatch "^[0-9]+$" $m }}
{{- if eq $h "*" }}
{{- 3600 }}
{{- else if regexMatch "^\\*/[0-9]+$" $h }}
{{- mul (trimPrefix "*/" $h | atoi) 3600 }}
{{- else if regexMatch "^[0-9]+(,[0-9]+)*$" $h }}
{{- /* The largest gap from one listed hour to the next, around midnight too. */}}
{{- $hours := splitList "," $h }}
{{- $gap := 0 }}
{{- range $a := $hours }}
{{- $next := 24 }}
{{- range $b := $hours }}
{{- $d := mod (add (sub (atoi $b) (atoi $a)) 24) 24 }}
{{- if and (gt $d 0) (lt $d $next) }}
{{- $next = $d }}
{{- end }}
{{- end }}
{{- $gap = max $gap $next }}
{{- end }}
{{- mul $gap 3600 }}
{{- end }}
{{- else if and (eq $h "*") (regexMatch "^\\*/[0-9]+$" $m) }}
{{- mul (trimPrefix "*/" $m | atoi) 60 }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Seconds in a Prometheus duration made of weeks, days, hours, minutes and seconds ("48h", "2d12h").
*/}}
{{- define "scim-rotator.promDurationSeconds" -}}
{{- $units := dict "w" 604800 "d" 86400 "h" 3600 "m" 60 "s" 1 }}
{{- $total := 0 }}
{{- range regexFindAll "[0-9]+[wdhms]" (toString .) -1 }}
{{- $total = add $total (mul (regexFind "^[0-9]+" . | atoi) (get $units (regexFind "[wdhms]$" .))) }}
{{- end }}
{{- $total }}
{{- end }}

{{/*
A number of seconds as the shortest Prometheus duration: 43200 -> 12h, 172800 -> 2d.
*/}}
{{- define "scim-rotator.promDuration" -}}
{{- $s := int . }}
{{- if eq (mod $s 86400) 0 }}{{ div $s 86400 }}d
{{- else if eq (mod $s 3600) 0 }}{{ div $s 3600 }}h
{{- else if eq (mod $s 60) 0 }}{{ div $s 60 }}m
{{- else }}{{ $s }}s
{{- end }}
{{- end }}

{{/*
How long without a successful run before ScimRotatorNoRecentSuccess: prometheusRule.noSuccessFor,
else twice the schedule's longest interval. Prints "<seconds> <duration>".
*/}}
{{- define "scim-rotator.noSuccessWindow" -}}
{{- $set := .Values.prometheusRule.noSuccessFor }}
{{- if $set }}
{{- printf "%s %s" (include "scim-rotator.promDurationSeconds" $set) $set }}
{{- else }}
{{- $interval := include "scim-rotator.scheduleSeconds" . }}
{{- if not $interval }}
{{- fail (printf "prometheusRule.noSuccessFor: cannot derive twice the interval of the schedule %q: set it (a Prometheus duration such as 48h)" (include "scim-rotator.effectiveSchedule" .)) }}
{{- end }}
{{- $s := mul (atoi $interval) 2 }}
{{- printf "%d %s" $s (include "scim-rotator.promDuration" $s) }}
{{- end }}
{{- end }}

{{/*
A series selector with the extra matchers of prometheusRule.selector.
Takes (dict "root" $ "metric" "scim_rotator_..." "match" "result=~\"...\"").
*/}}
{{- define "scim-rotator.series" -}}
{{- $matchers := list }}
{{- with .match }}{{ $matchers = append $matchers . }}{{ end }}
{{- with .root.Values.prometheusRule.selector }}{{ $matchers = append $matchers . }}{{ end }}
{{- .metric }}{{ if $matchers }}{{ printf "{%s}" (join "," $matchers) }}{{ end }}
{{- end }}

{{/*
Name of the Grafana dashboard's ConfigMap.
*/}}
{{- define "scim-rotator.dashboardName" -}}
{{- printf "%s-dashboard" (include "scim-rotator.fullname" . | trunc 53 | trimSuffix "-") }}
{{- end }}

{{/*
caBundle: one source, a key, and a directory of its own: a mount nested in the read-only config
or Secret volume fails to start (the kubelet cannot create its mount point there), and one over
the system certificates would hide them.
*/}}
{{- define "scim-rotator.validateCABundle" -}}
{{- $cb := .Values.caBundle }}
{{- if and $cb.configMap.name $cb.secret.name }}
{{- fail "caBundle: set configMap or secret, not both" }}
{{- end }}
{{- with include "scim-rotator.caBundle" . }}
{{- if not (get $cb .).key }}
{{- fail (printf "caBundle.%s.key: the key of %s %q that holds the CA certificates (PEM)" . . (get $cb .).name) }}
{{- end }}
{{- $dir := trimSuffix "/" $cb.mountPath }}
{{- $others := concat (list (include "scim-rotator.configDir" $) "/tmp") (splitList ":" $cb.systemCertDir) }}
{{- if $.Values.secretFiles.enabled }}{{ $others = append $others (trimSuffix "/" $.Values.secretFiles.mountPath) }}{{ end }}
{{- range $others }}
{{- if or (eq $dir .) (hasPrefix (printf "%s/" .) $dir) (hasPrefix (printf "%s/" $dir) .) }}
{{- fail (printf "caBundle.mountPath %s overlaps %s (a volume mounted there, or the system certificates): give the CA a directory of its own" $dir .) }}
{{- end }}
{{- end }}
{{- range $.Values.extraEnv }}
{{- if eq .name "SSL_CERT_DIR" }}
{{- fail "extraEnv sets SSL_CERT_DIR, which caBundle sets (system certificates, then the mounted CA): list more directories in caBundle.systemCertDir" }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
