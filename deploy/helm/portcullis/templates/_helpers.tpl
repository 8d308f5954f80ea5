{{/* Names and labels. */}}
{{- define "portcullis.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "portcullis.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "portcullis.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "portcullis.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "portcullis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "portcullis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "portcullis.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "portcullis.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "portcullis.secretName" -}}
{{- default (include "portcullis.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* Whether more than one pod can run at once. */}}
{{- define "portcullis.several" -}}
{{- if or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1) -}}true{{- end -}}
{{- end -}}

{{/* The keys the Secret holds, as a list (jwt-secret always). */}}
{{- define "portcullis.secretKeys" -}}
{{- $keys := list "jwt-secret" -}}
{{- if .Values.secrets.existingSecret -}}
{{- $keys = concat $keys .Values.secrets.existingSecretKeys -}}
{{- else -}}
{{- $keys = append $keys "assertion-key" -}}
{{- range $k, $v := dict "database-url" .Values.secrets.databaseUrl "smtp-password" .Values.secrets.smtpPassword "admin-password" .Values.secrets.adminPassword "mfa-key" .Values.secrets.mfaEncryptionKey -}}
{{- if $v }}{{ $keys = append $keys $k }}{{ end -}}
{{- end -}}
{{- range $name, $_ := .Values.secrets.oauthClientSecrets -}}
{{- $keys = append $keys (printf "oauth-%s" $name) -}}
{{- end -}}
{{- end -}}
{{- toJson (uniq $keys) -}}
{{- end -}}

{{/* Refuses what cannot work, naming the fix. */}}
{{- define "portcullis.guard" -}}
{{- $keys := include "portcullis.secretKeys" . | fromJsonArray -}}
{{- if not (has .Values.database.kind (list "sqlite" "postgres")) -}}
{{- fail (printf "database.kind must be sqlite or postgres, not %q" .Values.database.kind) -}}
{{- end -}}
{{- if and (eq .Values.database.kind "sqlite") (include "portcullis.several" .) -}}
{{- fail "More than one replica (or autoscaling) needs a shared database: SQLite is one file in one pod. Set database.kind: postgres and the PostgreSQL URL in secrets.databaseUrl (or key database-url of secrets.existingSecret)." -}}
{{- end -}}
{{- if and (eq .Values.database.kind "postgres") (not (has "database-url" $keys)) -}}
{{- fail "database.kind: postgres needs the URL: secrets.databaseUrl, or key database-url of secrets.existingSecret (listed in secrets.existingSecretKeys)." -}}
{{- end -}}
{{- if and .Values.tls.enabled (not .Values.tls.secretName) -}}
{{- fail "tls.enabled needs tls.secretName (a kubernetes.io/tls Secret)." -}}
{{- end -}}
{{- end -}}

{{/* The gateway's config: the user's, with the settings the pod's layout fixes. */}}
{{- define "portcullis.config" -}}
{{- $keys := include "portcullis.secretKeys" . | fromJsonArray -}}
{{- $c := deepCopy (default dict .Values.config) -}}
{{- if not (hasKey $c "upstreams") -}}
{{- $_ := set $c "upstreams" (dict "app" (dict "builtin" "whoami")) -}}
{{- $_ := set $c "routes" (list (dict "name" "public" "path" "/public/**" "upstream" "app" "auth" "none") (dict "name" "app" "path" "/**" "upstream" "app" "auth" "required")) -}}
{{- end -}}
{{- $server := default dict (get $c "server") -}}
{{- $_ := set $server "listen" "0.0.0.0:8080" -}}
{{- $_ := set $server "admin_listen" "0.0.0.0:9090" -}}
{{- $_ := set $server "data_dir" "/var/lib/portcullis" -}}
{{- $_ := set $server "grace_period" (printf "%ds" (int .Values.drain.gracePeriodSeconds)) -}}
{{- if .Values.tls.enabled -}}
{{- $_ := set $server "tls" (dict "listen" "0.0.0.0:8443" "cert_file" "/etc/portcullis/tls/tls.crt" "key_file" "/etc/portcullis/tls/tls.key") -}}
{{- end -}}
{{- $_ := set $c "server" $server -}}
{{- if eq .Values.database.kind "sqlite" -}}
{{- $_ := set $c "database" (merge (dict "url" "sqlite:///var/lib/portcullis/portcullis.db") (default dict (get $c "database"))) -}}
{{- end -}}
{{- /* A pod is production (it listens beyond loopback): mail needs smtp, or files on purpose. */ -}}
{{- $mail := default dict (get $c "mail") -}}
{{- if not (or (hasKey $mail "smtp") (hasKey $mail "outbox")) -}}
{{- $_ := set $mail "outbox" true -}}
{{- $_ := set $c "mail" $mail -}}
{{- end -}}
{{- if has "assertion-key" $keys -}}
{{- $_ := set $c "tokens" (merge (dict "assertion_key_file" "/run/secrets/portcullis/assertion-key") (default dict (get $c "tokens"))) -}}
{{- end -}}
{{- if has "mfa-key" $keys -}}
{{- $_ := set $c "mfa" (merge (dict "encryption_key_file" "/run/secrets/portcullis/mfa-key") (default dict (get $c "mfa"))) -}}
{{- end -}}
{{- toYaml $c -}}
{{- end -}}
