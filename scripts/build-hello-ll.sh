#!/usr/bin/env bash
# Builds libfuse3's hello_ll example (from Debian's libfuse3-dev) for the FUSE benchmark
# (bench/fuse.ts), patched so it serves a large file that 4 KiB and 1 MiB reads can use.
#
# Usage: scripts/build-hello-ll.sh [OUT_DIR]   (default: node_modules/.cache/pfs-bench)
# Prints the path of the binary. Idempotent: rebuilds only when the source or this script changed.
#
# Patches to the copy of hello_ll.c (the served file system is otherwise unchanged):
#  - the file's content is HELLO_LL_SIZE bytes (default 64 MiB) of "Hello World!\n" repeated,
#    built once at start-up, so reads of any size up to that are served from memory;
#  - nothing else: open() replies without keep_cache or direct_io, timeouts stay 1.0 s.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/../node_modules/.cache/pfs-bench}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

src=""
for c in /usr/share/doc/libfuse3-dev/examples/hello_ll.c /usr/share/doc/libfuse3-dev/examples/hello_ll.c.gz; do
  [ -f "$c" ] && { src="$c"; break; }
done
if [ -z "$src" ]; then
  echo "build-hello-ll: hello_ll.c not found; install libfuse3-dev (apt-get install libfuse3-dev)" >&2
  exit 1
fi
command -v gcc >/dev/null || { echo "build-hello-ll: gcc not found (apt-get install gcc)" >&2; exit 1; }
command -v pkg-config >/dev/null || { echo "build-hello-ll: pkg-config not found (apt-get install pkg-config)" >&2; exit 1; }
pkg-config --exists fuse3 || { echo "build-hello-ll: pkg-config cannot find fuse3 (apt-get install libfuse3-dev)" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
if [[ "$src" == *.gz ]]; then gzip -dc "$src" > "$tmp/hello_ll.c"; else cp "$src" "$tmp/hello_ll.c"; fi

# The served content: a buffer filled at start-up in place of the 13-byte string. strlen() of
# it is replaced by the fixed size so binary-safe sizes work.
sed -i \
  -e 's|^static const char \*hello_str = "Hello World!\\n";|static char *hello_str;\n#ifndef HELLO_LL_SIZE\n#define HELLO_LL_SIZE (64u << 20)\n#endif\nstatic void hello_fill(void) { static const char p[] = "Hello World!\\n"; hello_str = malloc(HELLO_LL_SIZE); if (!hello_str) abort(); for (size_t i = 0; i < HELLO_LL_SIZE; i++) hello_str[i] = p[i % 13]; }|' \
  -e 's|strlen(hello_str)|(size_t)HELLO_LL_SIZE|g' \
  -e 's|^\tstruct fuse_args args = FUSE_ARGS_INIT(argc, argv);|\thello_fill();\n&|' \
  "$tmp/hello_ll.c"
grep -q 'hello_fill();' "$tmp/hello_ll.c" && grep -q 'static char \*hello_str;' "$tmp/hello_ll.c" \
  || { echo "build-hello-ll: patching $src failed (its layout changed?)" >&2; exit 1; }
[ "$(grep -c 'strlen(hello_str)' "$tmp/hello_ll.c")" = 0 ] || { echo "build-hello-ll: strlen(hello_str) left in the patched source" >&2; exit 1; }

stamp="$( (cat "$tmp/hello_ll.c"; pkg-config fuse3 --modversion) | sha256sum | cut -c1-16)"
bin="$out/hello_ll"
if [ -x "$bin" ] && [ "$(cat "$out/hello_ll.stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "$bin"
  exit 0
fi
cp "$tmp/hello_ll.c" "$out/hello_ll.c"
# shellcheck disable=SC2046
gcc -O2 -Wall -o "$bin.tmp" "$out/hello_ll.c" $(pkg-config fuse3 --cflags --libs)
mv "$bin.tmp" "$bin"
echo "$stamp" > "$out/hello_ll.stamp"
echo "$bin"
