#!/usr/bin/env bash
# Fuzzes the packet validator (Sources/PacketModel) with libFuzzer for a bounded time.
#
#   fuzz/run.sh [SECONDS]        default 60
#
# Builds .build-fuzz/packet-fuzzer with `swiftc -sanitize=fuzzer,address` from the model files and
# fuzz/PacketFuzzer.swift (no SwiftPM involved), fuzzes a copy of fuzz/corpus (new inputs stay in
# .build-fuzz/corpus, crash artifacts go to .build-fuzz/artifacts), and prints one summary line:
#   fuzz: N executions in S s (E exec/s), crashes: C
# Exits non-zero when a crash artifact was produced, printing its path and bytes as a Swift array
# literal for a regression test in Tests/PacketModelTests/PacketValidatorTests+Fuzz.swift.
# Environment: SWIFTC (default: swiftc on PATH), FUZZ_MAX_LEN (default 4096), FUZZ_ARGS (extra libFuzzer flags).
set -euo pipefail

seconds="${1:-60}"
[[ "$seconds" =~ ^[0-9]+$ && "$seconds" -gt 0 ]] || { echo "usage: fuzz/run.sh [SECONDS]" >&2; exit 2; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/.build-fuzz"
binary="$out/packet-fuzzer"
model="$root/Sources/PacketModel"
swiftc="${SWIFTC:-swiftc}"

command -v "$swiftc" >/dev/null || {
    echo "fuzz: swiftc not found; install a Swift toolchain (https://swift.org/install) or set SWIFTC" >&2
    exit 2
}
# -sanitize=fuzzer links clang's libFuzzer runtime, which Swift toolchains ship next to swiftc.
resource_dir="$(dirname "$(command -v "$swiftc")")/../lib/clang"
if ! compgen -G "$resource_dir/*/lib/linux/libclang_rt.fuzzer-$(uname -m).a" >/dev/null \
    && ! compgen -G "$resource_dir/*/lib/$(uname -m)-unknown-linux-gnu/libclang_rt.fuzzer.a" >/dev/null; then
    echo "fuzz: libFuzzer runtime (libclang_rt.fuzzer) not found under $resource_dir." >&2
    echo "      Use a full swift.org toolchain, or install the clang runtime: apt-get install libclang-rt-dev" >&2
    echo "      (or the versioned libclang-rt-<N>-dev matching the toolchain's clang)." >&2
    exit 2
fi

sources=(
    "$model/JSONScanner.swift" "$model/JSONScanner+Objects.swift" "$model/JSONScanner+Packet.swift"
    "$model/JSONScanner+Strings.swift" "$model/Packet.swift" "$model/PacketLimits.swift" "$model/LogLevel.swift"
    "$model/ValidationError.swift" "$model/PacketValidator.swift" "$root/fuzz/PacketFuzzer.swift"
)
mkdir -p "$out"
echo "fuzz: building $binary"
if ! "$swiftc" -sanitize=fuzzer,address -parse-as-library -O -module-name PacketFuzz \
    -module-cache-path "$out/module-cache" "${sources[@]}" -o "$binary" 2>"$out/build.log"; then
    cat "$out/build.log" >&2
    if grep -q -- "-lstdc++\|libstdc++" "$out/build.log"; then
        echo "fuzz: the link needs the C++ standard library: apt-get install libstdc++-12-dev (or your GCC's libstdc++-N-dev)" >&2
    elif grep -q "crt1.o\|crti.o\|-lc\b" "$out/build.log"; then
        echo "fuzz: the link needs the C library objects: apt-get install libc6-dev" >&2
    elif grep -q "clang_rt\|fuzzer" "$out/build.log"; then
        echo "fuzz: the sanitizer runtimes are missing: apt-get install libclang-rt-dev" >&2
    elif grep -q "linker\|ld\b\|gold\|lld" "$out/build.log"; then
        echo "fuzz: no usable linker: apt-get install binutils (the gold linker) or lld" >&2
    fi
    exit 2
fi

# Fuzz a copy: libFuzzer adds what it finds to the first corpus directory, and fuzz/corpus stays small seeds.
work="$out/corpus"
artifacts="$out/artifacts/"
mkdir -p "$work" "$artifacts"
cp -n "$root"/fuzz/corpus/* "$work"/ 2>/dev/null || true
marker="$out/.fuzz-started"
touch "$marker"
log="$out/fuzz.log"

echo "fuzz: fuzzing for ${seconds}s (log: $log)"
start=$(date +%s.%N)
set +e
# shellcheck disable=SC2086
# Swift's own crash backtracer would fight ASan for the crashing process; libFuzzer reports instead.
SWIFT_BACKTRACE="enable=no" ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}" "$binary" \
    -max_total_time="$seconds" -print_final_stats=1 -max_len="${FUZZ_MAX_LEN:-4096}" -timeout=10 \
    -dict="$root/fuzz/json.dict" -artifact_prefix="$artifacts" ${FUZZ_ARGS:-} "$work" >"$log" 2>&1
status=$?
set -e
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.0f", e - s }')

grep -E "^(#[0-9]+ +DONE|Done|stat::)" "$log" || tail -n 20 "$log"
executions="$(awk '/^stat::number_of_executed_units:/ { n = $NF } END { print n }' "$log")"
rate="$(awk '/^stat::average_exec_per_sec:/ { n = $NF } END { print n }' "$log")"
if [[ -z "$executions" ]]; then  # a crash ends the run before the final stats
    executions="$(awk 'match($0, /^#[0-9]+/) { n = substr($0, 2, RLENGTH - 1) } END { print n }' "$log")"
    executions="${executions:-0}"
fi
if [[ -z "$rate" || ( "$rate" == 0 && "$elapsed" -gt 0 ) ]]; then
    rate=$(( elapsed > 0 ? executions / elapsed : executions ))
fi

new_artifacts=()
while IFS= read -r file; do new_artifacts+=("$file"); done < <(find "$artifacts" -type f -newer "$marker" | sort)
crashes=${#new_artifacts[@]}

echo "fuzz: $executions executions in $elapsed s ($rate exec/s), crashes: $crashes"

if (( crashes > 0 )); then
    grep -E "Fatal error|ERROR: (AddressSanitizer|libFuzzer)|SUMMARY|invariant broken" "$log" | head -n 10 || true
    for name in "${new_artifacts[@]}"; do
        path="$name"
        echo "fuzz: artifact $path ($(wc -c <"$path") bytes):"
        echo "    $(od -An -v -tu1 "$path" | tr -s ' \n' ' ' | sed -E 's/^ //; s/ $//; s/ /, /g; s/^/[/; s/$/]/')"
    done
    exit 1
fi
if (( status != 0 )); then
    echo "fuzz: libFuzzer exited with status $status without an artifact; see $log" >&2
    exit "$status"
fi
