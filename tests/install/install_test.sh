#!/usr/bin/env bash
# `cmake --install` into a prefix that is then moved (an installed starc must not depend on
# the source tree or on where it was installed): the installed binary finds its stdlib and
# kernel sources under the new prefix, checks and runs a model, builds an AOT library; a
# C++ program built with find_package(starc) runs a stdlib model through the installed API
# and prints what the installed `starc run` prints.
#   tests/install/install_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$tmp/installed" >/dev/null
mv "$tmp/installed" "$tmp/moved"
p=$tmp/moved
cd "$tmp"

version=$("$p/bin/starc" --version)
echo "$version"
grep -qx "stdlib: $p/share/starc/stdlib" <<<"$version" || fail "the moved starc does not use its own stdlib"
grep -qx "kernel sources: $p/share/starc/kernels" <<<"$version" || fail "the moved starc does not use its own kernels"

cat >m.net <<'NET'
use std.nn
model M(x: f32[B, 3]) -> f32[B, 2] {
    return x |> dense(2) |> tanh
}
NET
"$p/bin/starc" check m.net || fail "starc check of a model that uses std.nn"
"$p/bin/starc" compile "$p/share/starc/stdlib/astro/photoz.net" -o aot >/dev/null || fail "starc compile"
test -s aot/libPhotozMLP.so || fail "no libPhotozMLP.so"

mkdir consumer
cp "$here/consumer/CMakeLists.txt" "$here/consumer/main.cpp" consumer/
cmake -S consumer -B consumer/build -G Ninja -DCMAKE_PREFIX_PATH="$p" -DCMAKE_BUILD_TYPE=Release >consumer.log 2>&1 ||
  { cat consumer.log; fail "find_package(starc)"; }
cmake --build consumer/build >>consumer.log 2>&1 || { cat consumer.log; fail "building the API consumer"; }
got=$(consumer/build/consumer "$p/share/starc/stdlib/astro/photoz.net" mags.npy)
want=$("$p/bin/starc" run "$p/share/starc/stdlib/astro/photoz.net" --in mags.npy --seed 0 2>/dev/null)
echo "consumer: $got"
echo "starc run: $want"
[ "$got" = "$want" ] || fail "the API consumer and starc run differ"
echo "install test passed"
