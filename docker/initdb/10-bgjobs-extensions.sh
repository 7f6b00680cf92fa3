#!/usr/bin/env bash
# 10-bgjobs-extensions.sh: run once by docker-entrypoint.sh on the first start with an empty
# data directory, against its temporary init server (Unix socket only). That server gets
# the same -c flags as the real one (see bgjobs-entrypoint.sh), so pg_cron is preloaded.
#
#   pg_cron    -> in the database named by cron.database_name (asked from the server, so it
#                 is always the one the scheduler really uses); created if missing
#   plpython3u -> in POSTGRES_DB (the database bgjobs is installed into)
#
# `bgjobs install` creates both too (IF NOT EXISTS); doing it here makes the image usable
# for roles that may not create untrusted-language extensions.
#
# The entrypoint executes this file when it is executable and sources it otherwise, so the
# body runs in a subshell with its own error handling and never calls `exit` at top level.

bgjobs_create_extensions() (
	set -Eeuo pipefail

	local_psql() {
		PGHOST= PGHOSTADDR= psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password \
			--username "${POSTGRES_USER:-postgres}" "$@"
	}

	app_db="${POSTGRES_DB:-${POSTGRES_USER:-postgres}}"

	if ! cron_db="$(local_psql --dbname "$app_db" -XAtq -c 'SHOW cron.database_name')"; then
		echo "bgjobs: pg_cron is not preloaded (shared_preload_libraries); was the entrypoint overridden?" >&2
		return 1
	fi

	exists="$(local_psql --dbname postgres -XAtq --set db="$cron_db" <<-'EOSQL'
		SELECT 1 FROM pg_database WHERE datname = :'db';
	EOSQL
	)"
	if [ -z "$exists" ]; then
		echo "bgjobs: creating database ${cron_db} for pg_cron (cron.database_name)"
		local_psql --dbname postgres --set db="$cron_db" <<-'EOSQL'
			CREATE DATABASE :"db";
		EOSQL
	fi

	echo "bgjobs: CREATE EXTENSION pg_cron in ${cron_db}"
	local_psql --dbname "$cron_db" -q <<-'EOSQL'
		CREATE EXTENSION IF NOT EXISTS pg_cron;
	EOSQL

	echo "bgjobs: CREATE EXTENSION plpython3u in ${app_db}"
	local_psql --dbname "$app_db" -q <<-'EOSQL'
		CREATE EXTENSION IF NOT EXISTS plpython3u;
		-- PL/Python runs the system python3: check that the job code's dependency imports.
		DO LANGUAGE plpython3u $check$
import croniter
$check$;
	EOSQL
)

bgjobs_create_extensions
