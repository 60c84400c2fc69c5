#!/usr/bin/env bash
# Fails when the committed man pages or completions differ from what the code generates.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$root/scripts/generate.sh" "$tmp"
status=0
for d in man completions; do
  if ! diff -ru "$root/$d" "$tmp/$d"; then
    status=1
  fi
done
if [ "$status" -ne 0 ]; then
  echo "man/ of completions/ wijkt af van de code: draai scripts/generate.sh en commit het resultaat." >&2
fi
exit $status
