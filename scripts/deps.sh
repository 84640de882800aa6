#!/usr/bin/env bash
# Installs the Debian packages Reflexo needs to build, test and run.
# Usage: scripts/deps.sh [build|check|run|bench]   (default: check)
# As root it installs what is missing; otherwise it prints the exact command and fails.
set -euo pipefail

purpose=${1:-check}

build=(make gcc pkg-config postgresql-15 postgresql-server-dev-15 libpq-dev
       libssl-dev libcurl4-openssl-dev libjansson-dev libmicrohttpd-dev libsodium-dev gettext)
check=(postgresql-15-pgtap libipc-run-perl clang libclang-rt-14-dev openssl curl
       locales)
run=(curl openssl)   # make run: health checks, generated secrets
bench=(jq wrk)
# graphile-worker, the push benchmark's baseline, runs on Node.js; a machine
# may already have it from elsewhere (e.g. NodeSource), which Debian's npm
# package would conflict with
command -v npm >/dev/null || bench+=(nodejs npm)

case "$purpose" in
  build) wanted=("${build[@]}") ;;
  check) wanted=("${build[@]}" "${check[@]}") ;;
  run)   wanted=("${build[@]}" "${run[@]}") ;;
  bench) wanted=("${build[@]}" "${check[@]}" "${bench[@]}") ;;
  *) echo "usage: $0 [build|check|run|bench]" >&2; exit 2 ;;
esac

missing=()
for pkg in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$pkg")
done

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
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Spanish message catalogue is tested under es_PE.UTF-8.
if [[ $purpose == check || $purpose == bench ]] && ! locale -a 2>/dev/null | grep -qi '^es_PE\.utf-\?8$'; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "reflexo: locale es_PE.UTF-8 is missing; run: sudo sh -c \"echo 'es_PE.UTF-8 UTF-8' >> /etc/locale.gen && locale-gen\"" >&2
    exit 1
  fi
  grep -q '^es_PE.UTF-8 UTF-8' /etc/locale.gen 2>/dev/null || echo 'es_PE.UTF-8 UTF-8' >> /etc/locale.gen
  locale-gen >/dev/null
fi
