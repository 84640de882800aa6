#!/usr/bin/env bash
# Builds every libFuzzer target (tests/fuzz/fuzz_*.c) with AddressSanitizer
# (leaks included) and UndefinedBehaviorSanitizer, and runs each for
# FUZZ_SECONDS (default 60) from its seed corpus in tests/fuzz/corpus/.
# Any crash, leak or sanitizer report fails the run and keeps a reproducer.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${FUZZ_SECONDS:-60}
out=${FUZZ_OUT:-tmp_fuzz}
mkdir -p "$out"

# the daemons' libraries, built by clang with libFuzzer's coverage
# instrumentation (daemon/Makefile, SANITIZE=fuzz); each target links them
make -s -C daemon SANITIZE=fuzz libraries >/dev/null
daemon_pkgs="libmicrohttpd jansson libcurl libcrypto libpq libsodium"
daemon_libs="daemon/build-fuzz/libapi.a daemon/build-fuzz/libsync.a daemon/build-fuzz/libsim.a daemon/build-fuzz/libcommon.a"

# what each target is built from
sources_of() {
	case $1 in
		week_schedule) echo "-Iextension extension/week_schedule.c" ;;
		*) echo "-Idaemon $(pkg-config --cflags $daemon_pkgs) $daemon_libs $(pkg-config --libs $daemon_pkgs) -lpthread" ;;
	esac
}

echo "+++ fuzzing, ${seconds}s per target +++"
for source in tests/fuzz/fuzz_*.c; do
	name=$(basename "$source" .c)
	target=${name#fuzz_}
	# shellcheck disable=SC2046
	clang -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-o "$out/$name" "$source" $(sources_of "$target")
	corpus=$out/corpus-$target
	mkdir -p "$corpus"
	cp -n tests/fuzz/corpus/"$target"/* "$corpus"/ 2>/dev/null || true
	if ! "$out/$name" -max_total_time="$seconds" -max_len=4096 -print_final_stats=0 -timeout=10 \
		-artifact_prefix="$out/$name-" "$corpus" >"$out/$name.log" 2>&1; then
		tail -40 "$out/$name.log"
		echo "fuzz $target: FAILED (reproducer saved under $out/)"
		exit 1
	fi
	echo "fuzz $target: ok, $(grep -o 'Done [0-9]* runs' "$out/$name.log" | tail -1 | cut -d' ' -f2) runs without a finding"
done
