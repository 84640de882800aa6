#!/usr/bin/env bash
# make run: the whole of Reflexo on this machine, in the foreground until
# Ctrl-C.  Installs what is missing, builds, starts a private PostgreSQL
# (data under ./.reflexo), creates the database and the extension, starts
# ghl-sim with a demo location (unless .env holds real GHL credentials),
# reflexo-sync and reflexo-api, then prints where everything is.  Running it
# again reuses the data and the generated secrets.
#
# One base URL, http://127.0.0.1:8000, answers every path of the Django
# service: reflexo-api serves the API and passes GHL's webhooks and OAuth
# callback to reflexo-sync.
#
# Ports: REFLEXO_PG_PORT (54329), REFLEXO_HTTP_PORT (8000, the API),
# REFLEXO_SYNC_PORT (8001, reflexo-sync's status page and metrics),
# GHL_SIM_PORT (8090); REFLEXO_STATE_DIR puts the state somewhere other than
# ./.reflexo.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
source scripts/lib.sh

pg_port=${REFLEXO_PG_PORT:-54329}
http_port=${REFLEXO_HTTP_PORT:-8000}
sync_port=${REFLEXO_SYNC_PORT:-8001}
sim_port=${GHL_SIM_PORT:-8090}
# the guide's own example ids (scripts/ghl-sim-demo.json)
sim_location=CRlTCqv7ASS9xOpPQ59O

bold=$([[ -t 1 ]] && printf '\033[1m' || true)
plain=$([[ -t 1 ]] && printf '\033[0m' || true)
step() { printf '%s==> %s%s\n' "$bold" "$*" "$plain"; }
die() { printf 'reflexo: %s\n' "$*" >&2; exit 1; }

step "Checking system packages"
scripts/deps.sh run

# PostgreSQL refuses to run as root: as root, the services run as the
# system user "reflexo", with their state where that user can reach it.
if [[ $(id -u) -eq 0 ]]; then
	id -u reflexo >/dev/null 2>&1 ||
		useradd --system --user-group --home-dir /nonexistent --shell /usr/sbin/nologin reflexo
	if [[ -n ${REFLEXO_STATE_DIR:-} ]]; then
		state=$REFLEXO_STATE_DIR
	elif [[ -d .reflexo && ! -L .reflexo ]]; then
		state=$here/.reflexo
	else
		state=/var/lib/reflexo/run-$(printf '%s' "$here" | md5sum | cut -c1-12)
		mkdir -p "$state"
		ln -sfn "$state" .reflexo
	fi
	as_service=(setpriv --reuid=reflexo --regid=reflexo --clear-groups --)
else
	state=${REFLEXO_STATE_DIR:-$here/.reflexo}
	as_service=()
fi
mkdir -p "$state/bin" "$state/run"
shown=${REFLEXO_STATE_DIR:-.reflexo}   # how messages name the state directory

step "Building"
make -s -j"$(nproc)" all daemons
# a private copy of the server with this build installed; the system's is never touched
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
[[ -x $PG_CONFIG ]] || PG_CONFIG=pg_config
make_temp_install "$state/server" || die "installing into $state/server failed"
cp daemon/build/reflexo-sync daemon/build/reflexo-api daemon/build/ghl-sim scripts/ghl-sim-demo.json "$state/bin/"

# secrets made once and kept: the token key, the JWT secret, passwords
if [[ ! -f $state/secrets.env ]]; then
	umask 077
	cat >"$state/secrets.env" <<EOF
REFLEXO_TOKEN_KEY=$(openssl rand -base64 32)
JWT_SECRET=$(openssl rand -base64 48 | tr -d '/+=\n')
PG_PASSWORD=$(openssl rand -hex 16)
SYNC_PASSWORD=$(openssl rand -hex 16)
API_PASSWORD=$(openssl rand -hex 16)
ADMIN_PASSWORD=$(openssl rand -base64 12 | tr -d '/+=')
SIM_TOKEN=pit-$(openssl rand -hex 16)
EOF
	umask 022
fi
# shellcheck disable=SC1091
source "$state/secrets.env"
# state made by an older make run lacks the API's login
if [[ -z ${API_PASSWORD:-} ]]; then
	API_PASSWORD=$(openssl rand -hex 16)
	echo "API_PASSWORD=$API_PASSWORD" >>"$state/secrets.env"
fi
[[ $(id -u) -eq 0 ]] && chown -R reflexo:reflexo "$state"

# real GHL when .env (or the environment) has credentials for it
env_value() { { [[ -f .env ]] && sed -n "s/^$1=//p" .env | tail -1; } || true; }
ghl_token=${GHL_ACCESS_TOKEN:-$(env_value GHL_ACCESS_TOKEN)}
ghl_client=${GHL_CLIENT_ID:-$(env_value GHL_CLIENT_ID)}
if [[ -n $ghl_token || -n $ghl_client ]]; then mode=ghl; else mode=sim; fi

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in "$pg_port" "$http_port" "$sync_port" $([[ $mode == sim ]] && echo "$sim_port"); do
	port_busy "$port" && die "port $port is in use (set REFLEXO_PG_PORT, REFLEXO_HTTP_PORT, REFLEXO_SYNC_PORT or GHL_SIM_PORT)"
done

# The services run in their own sessions, so Ctrl-C reaches only this script,
# which stops them in order: reflexo-api and reflexo-sync (they finish what
# is in flight), ghl-sim, then PostgreSQL.
pids=()
stopping=0
interrupted=0
stop_all() {
	((stopping)) && return
	stopping=1
	step "Stopping"
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do   # the last started first
		kill -TERM "${pids[i]}" 2>/dev/null || true
		wait "${pids[i]}" 2>/dev/null || true
	done
	"${as_service[@]}" "$state/server$("$PG_CONFIG" --bindir)/pg_ctl" -D "$state/data" -m fast -w stop >/dev/null 2>&1 || true
	echo "reflexo: stopped; the data stays in $shown (make run starts it again)"
}
trap 'interrupted=1' INT TERM
trap stop_all EXIT

bindir=$state/server$("$PG_CONFIG" --bindir)
export PATH="$bindir:$PATH" PGHOST=127.0.0.1 PGPORT=$pg_port PGUSER=postgres PGPASSWORD=$PG_PASSWORD
if [[ ! -f $state/data/PG_VERSION ]]; then
	step "Creating a PostgreSQL cluster in $shown/data"
	printf '%s\n' "$PG_PASSWORD" >"$state/pwfile"
	[[ $(id -u) -eq 0 ]] && chown reflexo:reflexo "$state/pwfile"
	"${as_service[@]}" initdb -D "$state/data" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
		--pwfile="$state/pwfile" -E UTF8 --locale=C.UTF-8 >"$state/initdb.log" 2>&1 ||
		{ cat "$state/initdb.log"; die "initdb failed"; }
	rm -f "$state/pwfile"
	socket_dir=$state/run
	((${#socket_dir} < 90)) || socket_dir=''
	cat >>"$state/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$socket_dir'
shared_preload_libraries = 'reflexo'
EOF
fi
step "Starting PostgreSQL on 127.0.0.1:$pg_port"
setsid -w "${as_service[@]}" pg_ctl -D "$state/data" -l "$state/postgres.log" -o "-p $pg_port" -w start >/dev/null ||
	{ tail -20 "$state/postgres.log"; die "PostgreSQL did not start (log: $shown/postgres.log)"; }

step "Creating the database and the extension"
psql -X -q -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'reflexo'" | grep -q 1 ||
	psql -X -q -d postgres -c "CREATE DATABASE reflexo"
psql -X -q -d reflexo -v ON_ERROR_STOP=1 >/dev/null <<SQL
CREATE EXTENSION IF NOT EXISTS reflexo;
ALTER EXTENSION reflexo UPDATE;
SELECT reflexo.set_jwt_secret('$JWT_SECRET');
SELECT api.create_user('admin', '$ADMIN_PASSWORD', 'admin')
 WHERE NOT EXISTS (SELECT FROM reflexo.users WHERE username = 'admin');
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'reflexo_sync_login') THEN
    CREATE ROLE reflexo_sync_login LOGIN IN ROLE reflexo_sync;
  END IF;
END \$\$;
ALTER ROLE reflexo_sync_login PASSWORD '$SYNC_PASSWORD';
ALTER ROLE reflexo_authenticator PASSWORD '$API_PASSWORD';
SQL
db_url="postgresql://postgres:$PG_PASSWORD@127.0.0.1:$pg_port/reflexo"

base_url=http://127.0.0.1:$http_port
sync_env=(DATABASE_URL="postgresql://reflexo_sync_login:$SYNC_PASSWORD@127.0.0.1:$pg_port/reflexo"
	REFLEXO_TOKEN_KEY="$REFLEXO_TOKEN_KEY" REFLEXO_HTTP_ADDR="127.0.0.1:$sync_port"
	REFLEXO_PUBLIC_URL="$base_url/api/ghl" FRONTEND_URL="$(env_value FRONTEND_URL)")
api_env=(DATABASE_URL="postgresql://reflexo_authenticator:$API_PASSWORD@127.0.0.1:$pg_port/reflexo"
	JWT_SECRET="$JWT_SECRET" REFLEXO_API_ADDR="127.0.0.1:$http_port" REFLEXO_SYNC_URL="http://127.0.0.1:$sync_port"
	CORS_ALLOWED_ORIGINS="${CORS_ALLOWED_ORIGINS:-$(env_value CORS_ALLOWED_ORIGINS)}"
	CORS_ALLOW_ALL_ORIGINS="${CORS_ALLOW_ALL_ORIGINS:-$(env_value CORS_ALLOW_ALL_ORIGINS)}"
	REFLEXO_API_LANGUAGE="${REFLEXO_API_LANGUAGE:-es}")
if [[ $mode == sim ]]; then
	step "Starting ghl-sim (a simulated GoHighLevel) on 127.0.0.1:$sim_port"
	setsid "${as_service[@]}" "$state/bin/ghl-sim" --listen "127.0.0.1:$sim_port" --seed "$state/bin/ghl-sim-demo.json" \
		--private-token "$SIM_TOKEN" --webhook-url "$base_url/api/webhooks/ghl/" \
		--keys-dir "$state/ghl-sim-keys" 2>>"$state/ghl-sim.log" &
	pids+=($!)
	for _ in $(seq 50); do curl -fs "http://127.0.0.1:$sim_port/_sim/state" >/dev/null && break; sleep 0.2; done
	curl -fs "http://127.0.0.1:$sim_port/_sim/state" >/dev/null || die "ghl-sim did not start (log: $shown/ghl-sim.log)"
	sync_env+=(GHL_API_BASE="http://127.0.0.1:$sim_port" GHL_OAUTH_URL="http://127.0.0.1:$sim_port" GHL_LOCATION_ID="$sim_location"
		GHL_ACCESS_TOKEN="$SIM_TOKEN" GHL_WEBHOOK_PUBLIC_KEY="$state/ghl-sim-keys/ghl-sim-ed25519.pub.pem"
		GHL_WEBHOOK_RSA_PUBLIC_KEY="$state/ghl-sim-keys/ghl-sim-rsa.pub.pem")
	sync_options=()
else
	step "Using GoHighLevel with the credentials in .env"
	sync_options=(--env-file "$here/.env")
	# .env wins over what make run would choose (the environment would win over --env-file)
	kept=()
	for assignment in "${sync_env[@]}"; do
		[[ -n $(env_value "${assignment%%=*}") ]] || kept+=("$assignment")
	done
	sync_env=("${kept[@]}")
fi

step "Starting reflexo-sync on 127.0.0.1:$sync_port"
env "${sync_env[@]}" "$state/bin/reflexo-sync" "${sync_options[@]}" --check-config >"$state/check-config.txt" 2>&1 ||
	{ cat "$state/check-config.txt"; die "reflexo-sync --check-config found problems"; }
grep '^warn' "$state/check-config.txt" || true
setsid "${as_service[@]}" env "${sync_env[@]}" "$state/bin/reflexo-sync" "${sync_options[@]}" 2>>"$state/reflexo-sync.log" &
pids+=($!)
step "Starting reflexo-api on $base_url"
env "${api_env[@]}" "$state/bin/reflexo-api" --check-config >"$state/api-check-config.txt" 2>&1 ||
	{ cat "$state/api-check-config.txt"; die "reflexo-api --check-config found problems"; }
setsid "${as_service[@]}" env "${api_env[@]}" "$state/bin/reflexo-api" 2>>"$state/reflexo-api.log" &
pids+=($!)
printf 'waiting until they are ready'
for _ in $(seq 120); do
	curl -fs "http://127.0.0.1:$sync_port/readyz" >/dev/null && curl -fs "$base_url/readyz" >/dev/null &&
		[[ $(psql -X -q -d reflexo -tAc "SELECT count(*) FROM reflexo.calendars") != 0 ]] && break
	((interrupted)) && exit 0
	kill -0 "${pids[-2]}" 2>/dev/null || { echo; tail -5 "$state/reflexo-sync.log"; die "reflexo-sync exited"; }
	kill -0 "${pids[-1]}" 2>/dev/null || { echo; tail -5 "$state/reflexo-api.log"; die "reflexo-api exited"; }
	printf '.'
	sleep 0.5
done
echo
curl -fs "http://127.0.0.1:$sync_port/readyz" >/dev/null ||
	die "reflexo-sync is not ready: curl http://127.0.0.1:$sync_port/readyz says why"
curl -fs "$base_url/readyz" >/dev/null || die "reflexo-api is not ready: curl $base_url/readyz says why"

calendar=$(psql -X -q -d reflexo -tAc "SELECT ghl_calendar_id FROM reflexo.calendars WHERE is_active ORDER BY id LIMIT 1")
monday=$(date -d 'next monday' +%F)
cat <<EOF

${bold}Reflexo is running.${plain}
  API          $base_url/api/   (every URL of the Django service: citas, calendars, locations, metrics, webhooks)
  API user     admin / $ADMIN_PASSWORD   (POST $base_url/api/architect/login/)
  database     psql "$db_url"
  sync status  http://127.0.0.1:$sync_port/   (metrics: /metrics, /metrics.json, /readyz)
EOF
[[ $mode == sim ]] && echo "  ghl-sim      http://127.0.0.1:$sim_port/_sim/state   (a simulated GHL; real credentials in .env use GHL)"
cat <<EOF
  logs         $shown/reflexo-api.log, $shown/reflexo-sync.log, $shown/postgres.log$([[ $mode == sim ]] && echo ", $shown/ghl-sim.log")

Three things to try:
  1. Log in and book a cita as the clinic's front end does; it reaches GHL within a second:
       TOKEN=\$(curl -s -X POST $base_url/api/architect/login/ -H 'Content-Type: application/json' \\
         -d '{"username": "admin", "password": "$ADMIN_PASSWORD"}' | sed 's/.*"access":"\\([^"]*\\)".*/\\1/')
       curl -s -X POST $base_url/api/ghl/citas/ -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' \\
         -d '{"title": "Primera consulta", "contact_id": "contact-1", "ghl_calendar_id": "$calendar", "start_time": "${monday}T10:00:00-05:00", "end_time": "${monday}T10:45:00-05:00"}'
       curl -s $base_url/api/ghl/citas/ -H "Authorization: Bearer \$TOKEN"
  2. Book the same slot again: the database refuses it, naming the cita in the way.
       curl -s -X POST $base_url/api/ghl/citas/ -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' \\
         -d '{"title": "Choque", "ghl_calendar_id": "$calendar", "start_time": "${monday}T10:30:00-05:00", "end_time": "${monday}T11:00:00-05:00"}'
EOF
if [[ $mode == sim ]]; then
	cat <<EOF
  3. Move it as a GHL user would; the signed webhook brings the change back:
       curl -s -X PUT http://127.0.0.1:$sim_port/_sim/ghl/appointments/\$(psql "$db_url" -tAc "SELECT ghl_appointment_id FROM reflexo.appointments LIMIT 1") \\
         -H 'Content-Type: application/json' -d '{"startTime": "${monday}T15:00:00-05:00", "endTime": "${monday}T15:45:00-05:00"}'
       curl -s $base_url/api/ghl/citas/ -H "Authorization: Bearer \$TOKEN"
EOF
else
	echo "  3. Open the sync status page and watch pushes and webhooks arrive."
fi
printf '\nPress Ctrl-C to stop.\n'

# until Ctrl-C, or until a service dies
status=0
while ((!interrupted)); do
	for pid in "${pids[@]}"; do
		kill -0 "$pid" 2>/dev/null && continue
		echo "reflexo: a service exited; see the logs in $shown/"
		status=1
		break 2
	done
	sleep 1 &
	wait $! || true
done
exit $status
