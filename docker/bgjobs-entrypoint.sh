#!/usr/bin/env bash
# bgjobs-entrypoint.sh: adds the server settings bgjobs needs, then hands over to the
# official image's docker-entrypoint.sh (see the Dockerfile for why this is a wrapper).
#
# Each setting is appended as `-c name=value` only when the command line does not set it
# already (as `-c name=value`, `-cname=value` or `--name=value`), so your own flags win:
#   shared_preload_libraries  = pg_cron
#   cron.database_name        = $CRON_DATABASE_NAME, else $POSTGRES_DB, else $POSTGRES_USER,
#                               else postgres (the *_FILE variants are honoured too)
#   cron.use_background_workers = on   (jobs run as background workers: no libpq
#                                        connection, so no password or pg_hba entry needed)
#   max_worker_processes      = 40     (room for pg_cron's workers next to the others)
set -Eeo pipefail

# Same rule as docker-entrypoint.sh: a first argument that looks like a flag means postgres.
if [ "${1:0:1}" = '-' ]; then
	set -- postgres "$@"
fi

# _env_or_file VAR: the value of $VAR, else the contents of the file named by $VAR_FILE.
_env_or_file() {
	local var="$1" file_var="${1}_FILE"
	if [ -n "${!var:-}" ]; then
		printf '%s' "${!var}"
	elif [ -n "${!file_var:-}" ] && [ -r "${!file_var}" ]; then
		printf '%s' "$(< "${!file_var}")"
	fi
}

# _has_setting NAME ARGS...: true if ARGS already set NAME (dashes and underscores alike).
_has_setting() {
	local want="${1//-/_}"; shift
	local prev='' arg setting name
	for arg; do
		setting=''
		if [ "$prev" = '-c' ]; then
			setting="$arg"
		elif [ "${arg:0:2}" = '-c' ] && [ "${#arg}" -gt 2 ]; then
			setting="${arg:2}"
		elif [ "${arg:0:2}" = '--' ]; then
			setting="${arg:2}"
		fi
		prev="$arg"
		[ -n "$setting" ] || continue
		case "$setting" in *=*) ;; *) continue ;; esac
		name="${setting%%=*}"
		if [ "${name//-/_}" = "$want" ]; then
			return 0
		fi
	done
	return 1
}

_wants_help() {
	local arg
	for arg; do
		case "$arg" in
			-'?'|--help|--describe-config|-V|--version|-C) return 0 ;;
		esac
	done
	return 1
}

if [ "$1" = 'postgres' ] && ! _wants_help "$@"; then
	cron_db="${CRON_DATABASE_NAME:-}"
	[ -n "$cron_db" ] || cron_db="$(_env_or_file POSTGRES_DB)"
	[ -n "$cron_db" ] || cron_db="$(_env_or_file POSTGRES_USER)"
	[ -n "$cron_db" ] || cron_db='postgres'

	extra=()
	for setting in \
		'shared_preload_libraries=pg_cron' \
		"cron.database_name=${cron_db}" \
		'cron.use_background_workers=on' \
		'max_worker_processes=40'
	do
		if ! _has_setting "${setting%%=*}" "$@"; then
			extra+=( -c "$setting" )
		fi
	done
	set -- "$@" "${extra[@]}"
fi

exec docker-entrypoint.sh "$@"
