#!/usr/bin/env bash
# Checks that native/ is formatted as .clang-format says (part of `npm run lint`).
# Fix with: clang-format -i native/*.cc native/*.h native/launcher/*.c native/launcher/*.h
# The style was applied with Debian bookworm's clang-format 14 (.ci/prereqs.sh installs it);
# other major versions may disagree on a few lines.
set -euo pipefail
cd "$(dirname "$0")/.."
CF="${CLANG_FORMAT:-}"
if [ -z "$CF" ]; then
    if command -v clang-format-14 >/dev/null; then CF=clang-format-14; else CF=clang-format; fi
fi
if ! command -v "$CF" >/dev/null; then
    echo "clang-format-check: $CF not found (apt-get install clang-format, or run bash .ci/prereqs.sh)" >&2
    exit 1
fi
major=$("$CF" --version | sed -n 's/.*version \([0-9]*\).*/\1/p')
[ "$major" = 14 ] || echo "clang-format-check: note: $CF is version $major; the style was applied with 14" >&2
if "$CF" --dry-run --Werror native/*.cc native/*.h native/launcher/*.c native/launcher/*.h; then
    echo "clang-format-check: native/ ok ($("$CF" --version))"
else
    echo "clang-format-check: native/ is not formatted; run: $CF -i native/*.cc native/*.h native/launcher/*.c native/launcher/*.h" >&2
    exit 1
fi
