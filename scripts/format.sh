#!/usr/bin/env bash
# clang-format (.clang-format) over every C/C++ file git tracks.
#   scripts/format.sh          reformat them in place
#   scripts/format.sh --check  change nothing; exit 1 naming each file that is not formatted (CI)
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG_FORMAT=${CLANG_FORMAT:-clang-format-22}
mapfile -t files < <(git ls-files '*.c' '*.h' '*.cpp')
if [ "${1:-}" = --check ]; then
  "$CLANG_FORMAT" --dry-run -Werror "${files[@]}"
else
  "$CLANG_FORMAT" -i "${files[@]}"
fi
