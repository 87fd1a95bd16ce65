# Extra PostgreSQL 15 clusters on this machine for the sharding scripts
# (test/cluster/*_shard*.sh): source this file, call shards_start N, then use
# shard_port I / shard_psql I.  Each shard has its own data directory and socket
# directory under one temporary directory, a free port, password (scram) login
# over TCP for postgres_fdw, and loads recsys from TEST_DESTDIR like the main
# cluster (test/virtualenv).  shards_stop (run from the caller's EXIT trap) stops
# them and removes the directory, whatever state they are in.

shards_bin=$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)
shards_root=""
shards_n=0
declare -a shards_ports=()

# runs a command as the clusters' owner: postgres when we are root (initdb and
# the server refuse to run as root), else ourselves
shards_as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# a TCP port nothing listens on (best effort: the server fails to start otherwise)
shards_free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# OpenBLAS's kernel family for the shards: the one test/virtualenv pins for the
# main cluster (the newest the CPU supports), so coordinator and shards compute
# with the same kernels
shards_coretype=
shards_flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
if printf '%s ' "$shards_flags" | grep -qw avx2 && printf '%s ' "$shards_flags" | grep -qw fma; then
	shards_coretype=Haswell
	if printf '%s ' "$shards_flags" | grep -qw avx512f && printf '%s ' "$shards_flags" | grep -qw avx512bw &&
		printf '%s ' "$shards_flags" | grep -qw avx512vl && printf '%s ' "$shards_flags" | grep -qw avx512dq &&
		printf '%s ' "$shards_flags" | grep -qw avx512cd; then
		shards_coretype=SkylakeX
	fi
fi

# shards_start N: initdb and start N clusters; returns non-zero if one fails
shards_start() {
	local n=$1 i dir port
	shards_root=$(mktemp -d /tmp/recsys_shards.XXXXXX)
	chmod 755 "$shards_root"
	[ "$(id -u)" -eq 0 ] && chown postgres "$shards_root"
	echo pw >"$shards_root/pwfile"
	[ "$(id -u)" -eq 0 ] && chown postgres "$shards_root/pwfile"
	for i in $(seq 1 "$n"); do
		dir=$shards_root/$i
		shards_as_owner mkdir -p "$dir/socket"
		shards_as_owner "$shards_bin/initdb" -D "$dir/data" -U postgres --pwfile="$shards_root/pwfile" \
			--auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-sync \
			>"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; return 1; }
		port=$(shards_free_port) || return 1
		{
			echo "port = $port"
			echo "listen_addresses = '127.0.0.1'"
			echo "unix_socket_directories = '$dir/socket'"
			echo "fsync = off"
			echo "max_connections = 40"
			echo "shared_buffers = 32MB"
			[ -n "${TEST_DESTDIR:-}" ] && echo "extension_destdir = '$TEST_DESTDIR'"
		} | shards_as_owner tee -a "$dir/data/postgresql.conf" >/dev/null
		shards_as_owner env ${shards_coretype:+OPENBLAS_CORETYPE=$shards_coretype} \
			"$shards_bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
			>/dev/null 2>&1 || { cat "$dir/server.log" >&2; return 1; }
		shards_ports[$i]=$port
		shards_n=$i
	done
}

# shards_stop: stops every shard started and removes their directory
shards_stop() {
	local i
	for i in $(seq 1 "$shards_n"); do
		shards_as_owner "$shards_bin/pg_ctl" -D "$shards_root/$i/data" -m immediate -w stop \
			>/dev/null 2>&1
	done
	[ -n "$shards_root" ] && rm -rf "$shards_root"
	shards_n=0
}

shard_port() { echo "${shards_ports[$1]}"; }

# shard_psql I [psql options...] SQL: one statement on shard I as its superuser
# (or as SHARD_USER, over its socket)
shard_psql() {
	local i=$1
	shift
	PGHOST=$shards_root/$i/socket PGPORT=${shards_ports[$i]} PGUSER=${SHARD_USER:-postgres} PGDATABASE=postgres \
		q "$@"
}
