#!/usr/bin/env bash
# The thread pool as plain C (test/unit/pool_test.c with src/pool.c): the paths a
# backend cannot show on demand, namely a worker that never returns after an
# interrupt (given up on and parked, so the backend can exit instead of hanging),
# threads that cannot be started, and OpenBLAS scratch that cannot be mapped.
set -u
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cflags=$(pkg-config --cflags openblas 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/openblas-pthread)
libs=$(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
if ! gcc -O1 -Wall -Isrc $cflags -o "$out/pool_test" test/unit/pool_test.c src/pool.c $libs -lpthread -lm \
	>"$out/cc.log" 2>&1; then
	echo "1..1"
	echo "not ok 1 - test/unit/pool_test.c builds"
	sed 's/^/# /' "$out/cc.log"
	exit 1
fi
exec "$out/pool_test"
