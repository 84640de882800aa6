# scripts/lib.sh — shell helpers shared by make check, make bench and make run.
# Source it; it defines functions only.

# PostgreSQL refuses to run as root.  As root, re-run "$@" (a script of this
# tree) as the unprivileged user reflexo-check on a copy of the tree, and
# exit with its status.  Otherwise return and let the caller go on.
# REFLEXO_KEEP=1 keeps the copy (logs, clusters) even when it succeeds.
run_unprivileged() {
	local here=$1
	shift
	[[ $(id -u) -eq 0 ]] || return 0

	local user=reflexo-check work status
	id -u "$user" >/dev/null 2>&1 ||
		useradd --system --user-group --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
	work=$(mktemp -d /tmp/reflexo.XXXXXX)
	tar -C "$here" --exclude=./.git --exclude=./.reflexo --exclude='./tmp_*' \
		--exclude=./output_iso --exclude='*.o' --exclude='*.so' --exclude='*.test' \
		-cf - . | tar -C "$work" -xf -
	chown -R "$user:$user" "$work"
	runuser -u "$user" -- env HOME="$work" PATH="$PATH" "$work/$1" "${@:2}"
	status=$?
	if [[ $status -eq 0 && -z ${REFLEXO_KEEP:-} ]]; then
		rm -rf "$work"
	else
		echo "reflexo: logs and clusters are in $work"
	fi
	exit $status
}

# Copies the server that pg_config describes into <dir> and installs this
# build into the copy; tests and benchmarks then never touch the system
# installation.  Puts the copy's bin first in PATH and sets TMP_PG_CONFIG.
make_temp_install() {
	local dir=$1 pg_config=${PG_CONFIG:-pg_config}
	local bindir sharedir
	bindir=$("$pg_config" --bindir)
	sharedir=$("$pg_config" --sharedir)
	rm -rf "$dir"
	mkdir -p "$dir$(dirname "$(dirname "$bindir")")" "$dir$(dirname "$sharedir")"
	cp -a "$(dirname "$bindir")" "$dir$(dirname "$(dirname "$bindir")")/"
	cp -a "$sharedir" "$dir$(dirname "$sharedir")/"
	make -s install DESTDIR="$dir" PG_CONFIG="$pg_config" >/dev/null || return 1
	TMP_PG_CONFIG=$dir$bindir/pg_config
	export PATH="$dir$bindir:$PATH"
}

# Starts a throwaway cluster in <dir> listening on a Unix socket in <dir>
# only, with extra postgresql.conf lines from stdin, and exports PGHOST etc.
start_cluster() {
	local dir=$1
	rm -rf "$dir"
	mkdir -p "$dir"
	initdb -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 \
		>"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log"; return 1; }
	{
		echo "listen_addresses = ''"
		echo "port = 5432"
		echo "unix_socket_directories = '$dir'"
		cat
	} >>"$dir/data/postgresql.conf"
	pg_ctl -D "$dir/data" -l "$dir/server.log" -w start >/dev/null ||
		{ cat "$dir/server.log"; return 1; }
	export PGHOST=$dir PGPORT=5432 PGUSER=postgres PGDATABASE=postgres
}

stop_cluster() {
	pg_ctl -D "$1/data" -m fast stop >/dev/null 2>&1 || true
}
