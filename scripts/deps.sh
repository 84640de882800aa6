#!/usr/bin/env bash
# scripts/deps.sh — what Reflexo needs from the machine, verified and installed.
#
#   scripts/deps.sh PURPOSE              verify; as root, install what is missing
#   scripts/deps.sh PURPOSE --path DIR   also fill DIR with links to the commands
#                                        PURPOSE may call (see below)
#
# PURPOSE is extension (make && make install), daemons (make daemons), run
# (make run), check (make check) or bench (make bench).
#
# Each requirement below is a thing a script calls or a build links — a
# command, a pkg-config module, a Perl or Python module or a file — with the
# Debian package that provides it.  Requirements are verified themselves, never
# inferred from a package being installed: a package can be present while
# the command a suite needs comes from another one it only recommends.
#
# --path DIR makes the list provably complete: the suites run with DIR as
# their whole PATH, and DIR holds only the commands of Debian's Essential
# packages (there on every Debian system) and the commands listed here.
# A script that calls anything else fails on every machine, not only on a
# fresh one.
set -euo pipefail

purpose=${1:-check}
farm=
[[ ${2:-} == --path ]] && farm=${3:?--path needs a directory}

pg=15
pg_bindir=/usr/lib/postgresql/$pg/bin
pg_sharedir=/usr/share/postgresql/$pg

# A command found on PATH counts, whoever installed it: a machine with Node.js
# from elsewhere (NodeSource, nvm) keeps it, as Debian's npm would conflict.
# for      kind  what                                         package
requirements=$(cat <<EOF
ext      cmd   make                                         make
ext      cmd   cc                                           gcc
ext      cmd   gcc                                          gcc
ext      cmd   as                                           binutils
ext      cmd   ld                                           binutils
daemons  cmd   ar                                           binutils
ext      cmd   msgfmt                                       gettext
ext      cmd   pg_config                                    postgresql-server-dev-$pg
ext      file  $pg_bindir/postgres                          postgresql-$pg
ext      file  $pg_bindir/psql                              postgresql-client-$pg
ext      file  /usr/include/postgresql/$pg/server/postgres.h postgresql-server-dev-$pg
ext      pc    libcrypto                                    libssl-dev
ext      cmd   pkg-config                                   pkg-config
ext      cmd   awk                                          mawk
daemons  pc    libpq                                        libpq-dev
daemons  pc    libcurl                                      libcurl4-openssl-dev
daemons  pc    jansson                                      libjansson-dev
daemons  pc    libmicrohttpd                                libmicrohttpd-dev
daemons  pc    libsodium                                    libsodium-dev
run      cmd   curl                                         curl
run      cmd   jq                                           jq
run      cmd   locale-gen                                   locales
run      cmd   openssl                                      openssl
run      cmd   setpriv                                      util-linux
run      cmd   runuser                                      util-linux
run      cmd   useradd                                      passwd
check    cmd   pg_prove                                     libtap-parser-sourcehandler-pgtap-perl
check    file  $pg_sharedir/extension/pgtap.control         postgresql-$pg-pgtap
check    cmd   prove                                        perl
check    perl  IPC::Run                                     libipc-run-perl
check    file  /usr/lib/postgresql/$pg/lib/pgxs/src/test/perl/PostgreSQL/Test/Cluster.pm postgresql-client-$pg
check    file  /usr/lib/postgresql/$pg/lib/pgxs/src/test/isolation/pg_isolation_regress postgresql-client-$pg
check    cmd   clang                                        clang
check    file  /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a libclang-rt-14-dev
check    cmd   locale-gen                                   locales
check    cmd   chromium                                     chromium
check    cmd   pg_autoctl                                   pg-auto-failover-cli
check    file  $pg_sharedir/extension/pgautofailover.control postgresql-$pg-auto-failover
check    perl  HTTP::Daemon                                 libhttp-daemon-perl
check    cmd   node                                         nodejs
check    cmd   npm                                          npm
check    cmd   curl                                         curl
check    cmd   openssl                                      openssl
check    cmd   setpriv                                      util-linux
check    cmd   runuser                                      util-linux
check    cmd   useradd                                      passwd
bench    file  $pg_bindir/pgbench                           postgresql-$pg
bench    cmd   wrk                                          wrk
bench    file  /usr/bin/gunicorn                            gunicorn
bench    python django                                      python3-django
bench    python rest_framework                              python3-djangorestframework
bench    python rest_framework_simplejwt                    python3-djangorestframework-simplejwt
bench    python psycopg2                                    python3-psycopg2
EOF
)

case "$purpose" in
  extension) tags='ext' ;;
  daemons) tags='ext daemons' ;;
  run) tags='ext daemons run' ;;
  check) tags='ext daemons run check' ;;
  bench) tags='ext daemons run check bench' ;;
  *) echo "usage: $0 extension|daemons|run|check|bench [--path DIR]" >&2; exit 2 ;;
esac

wanted() { awk -v tags=" $tags " 'index(tags, " " $1 " ") { print $2, $3, $4 }' <<<"$requirements"; }

present() {
  local kind=$1 what=$2
  case $kind in
    cmd) command -v "$what" >/dev/null ;;
    file) compgen -G "$what" >/dev/null ;;   # a path, or a glob for version-named ones
    pc) command -v pkg-config >/dev/null && pkg-config --exists "$what" ;;
    perl) perl -M"$what" -e 1 2>/dev/null ;;
    python) [[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c "import $what" 2>/dev/null ;;   # Debian's, not another on PATH
  esac
}

missing_packages() {
  local kind what package
  while read -r kind what package; do
    present "$kind" "$what" || echo "$package"
  done < <(wanted) | sort -u
}

mapfile -t missing < <(missing_packages)
if ((${#missing[@]})); then
  cmd="apt-get install -y --no-install-recommends ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    echo "reflexo: missing Debian packages: ${missing[*]}" >&2
    echo "reflexo: run:  sudo apt-get update && sudo $cmd" >&2
    exit 1
  fi
  echo "reflexo: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Installed is not enough: every requirement must now be there.
broken=0
while read -r kind what package; do
  if ! present "$kind" "$what"; then
    echo "reflexo: $kind '$what' is still missing after installing Debian package $package" >&2
    broken=1
  fi
done < <(wanted)
((broken)) && exit 1

# The API speaks Spanish through the es_PE.UTF-8 locale (reflexo.spanish_locale);
# the tests need it.  make run without it answers in English, and says so.
if [[ $purpose != extension && $purpose != daemons ]] && ! locale -a 2>/dev/null | grep -qi '^es_PE\.utf-\?8$'; then
  if [[ $(id -u) -eq 0 ]]; then
    grep -q '^es_PE.UTF-8 UTF-8' /etc/locale.gen 2>/dev/null || echo 'es_PE.UTF-8 UTF-8' >> /etc/locale.gen
    locale-gen >/dev/null
  else
    echo "reflexo: locale es_PE.UTF-8 is missing; run: sudo sh -c \"echo 'es_PE.UTF-8 UTF-8' >> /etc/locale.gen && locale-gen\"" >&2
    [[ $purpose == run ]] || exit 1
  fi
fi

[[ -n $farm ]] || exit 0

# The command farm: Essential packages' commands, then the listed ones.
rm -rf "$farm"
mkdir -p "$farm"
link() { [[ -e $farm/$(basename "$1") ]] || ln -s "$1" "$farm/$(basename "$1")"; }
while read -r package; do
  while read -r file; do
    [[ -x $file && ! -d $file ]] && link "$file"
  done < <(dpkg-query -L "$package" | grep -E '^(/usr)?/s?bin/[^/]+$')
done < <(dpkg-query -W -f='${Essential} ${Package}\n' | awk '$1 == "yes" { print $2 }')
while read -r kind what _; do
  [[ $kind == cmd ]] && ln -sfn "$(command -v "$what")" "$farm/$what"
done < <(wanted)
exit 0
