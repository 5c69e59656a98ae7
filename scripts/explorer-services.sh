#!/usr/bin/env bash
# Starts (or stops) the services the explorer uses, on loopback only:
#   a PostgreSQL primary, a hot standby streaming from it (made with
#   pg_basebackup -R), and a Redis server without persistence.
#
#   scripts/explorer-services.sh start [DIR]   # prints the variables to export
#   scripts/explorer-services.sh stop  [DIR]
#
# DIR defaults to /tmp/bizra-services. Ports: primary 54320, standby 54321,
# Redis 63790 (override with PRIMARY_PORT, REPLICA_PORT, REDIS_PORT).
# Needs Debian's postgresql and redis-server packages. The clusters trust
# loopback connections: they are for development and tests only.
set -euo pipefail

cmd=${1:-start}
dir=${2:-/tmp/bizra-services}
primary_port=${PRIMARY_PORT:-54320}
replica_port=${REPLICA_PORT:-54321}
redis_port=${REDIS_PORT:-63790}

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$pgbin" ]; then
	echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2
	exit 1
fi

# PostgreSQL refuses to run as root; run its commands as the postgres user then.
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

stop() {
	for c in replica primary; do
		if [ -f "$dir/$c/postmaster.pid" ]; then
			as_pg "$pgbin/pg_ctl" -D "$dir/$c" -m fast -w stop >/dev/null || true
		fi
	done
	if [ -f "$dir/redis.pid" ]; then
		kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
		rm -f "$dir/redis.pid"
	fi
}

start() {
	stop
	# Only a directory this script made (or an empty or missing one) is
	# cleared.
	if [ -d "$dir" ] && [ ! -f "$dir/.bizra-services" ] && [ -n "$(ls -A "$dir")" ]; then
		echo "$dir exists and was not made by this script; choose another directory" >&2
		exit 1
	fi
	rm -rf "$dir"
	mkdir -p "$dir"
	touch "$dir/.bizra-services"
	if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi

	as_pg "$pgbin/initdb" -D "$dir/primary" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log"
	cat >>"$dir/primary/postgresql.conf" <<-EOF
		listen_addresses = '127.0.0.1'
		port = $primary_port
		unix_socket_directories = '$dir'
		wal_level = replica
		max_wal_senders = 4
		hot_standby = on
		fsync = on
		synchronous_commit = on
		shared_buffers = 256MB
		max_connections = 200
	EOF
	echo "host replication postgres 127.0.0.1/32 trust" >>"$dir/primary/pg_hba.conf"
	as_pg "$pgbin/pg_ctl" -D "$dir/primary" -l "$dir/primary.log" -w start >/dev/null

	as_pg "$pgbin/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres -D "$dir/replica" -R -X stream
	cat >>"$dir/replica/postgresql.conf" <<-EOF
		port = $replica_port
		hot_standby_feedback = on
	EOF
	as_pg "$pgbin/pg_ctl" -D "$dir/replica" -l "$dir/replica.log" -w start >/dev/null

	redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no \
		--daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
	for _ in $(seq 50); do
		redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
		sleep 0.1
	done
	if ! redis-cli -p "$redis_port" ping >/dev/null 2>&1; then
		echo "redis did not start; see $dir/redis.log" >&2
		exit 1
	fi

	cat <<-EOF
		export PGHOST=127.0.0.1 PGPORT=$primary_port PGUSER=postgres PGPASSWORD= PGDATABASE=postgres
		export BIZRA_PG_REPLICA=postgres://postgres@127.0.0.1:$replica_port/postgres
		export BIZRA_PG_REPLICA_DATA=$dir/replica BIZRA_PG_CTL=$pgbin/pg_ctl
		export REDIS_URL=redis://127.0.0.1:$redis_port/0
	EOF
}

case "$cmd" in
start) start ;;
stop) stop ;;
*)
	echo "usage: $0 start|stop [DIR]" >&2
	exit 2
	;;
esac
