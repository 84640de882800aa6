#!/usr/bin/env bash
# Builds every libFuzzer target (tests/fuzz/fuzz_*.c) with AddressSanitizer
# and UndefinedBehaviorSanitizer, and runs each for FUZZ_SECONDS (default 60)
# from its seed corpus.  Any crash, leak or sanitizer report fails the run.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${FUZZ_SECONDS:-60}
out=${FUZZ_OUT:-tmp_fuzz}
mkdir -p "$out"

echo "+++ fuzzing, ${seconds}s per target +++"
for source in tests/fuzz/fuzz_*.c; do
	name=$(basename "$source" .c)
	target=${name#fuzz_}
	sources=("$source")
	[[ -f extension/$target.c ]] && sources+=("extension/$target.c")
	clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-Iextension -o "$out/$name" "${sources[@]}"
	corpus=$out/corpus-$target
	mkdir -p "$corpus"
	[[ -d tests/fuzz/corpus/$target ]] && cp -n tests/fuzz/corpus/"$target"/* "$corpus"/ 2>/dev/null || true
	if ! "$out/$name" -max_total_time="$seconds" -max_len=4096 -print_final_stats=0 \
		-artifact_prefix="$out/$name-" "$corpus" >"$out/$name.log" 2>&1; then
		tail -40 "$out/$name.log"
		echo "fuzz $target: FAILED (reproducer saved under $out/)"
		exit 1
	fi
	echo "fuzz $target: ok, $(grep -o 'Done [0-9]* runs' "$out/$name.log" | tail -1 | cut -d' ' -f2) runs without a finding"
done
