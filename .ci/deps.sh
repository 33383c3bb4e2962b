#!/usr/bin/env bash
# .ci/deps.sh PACKAGE... — installs the Debian packages of the list that are
# missing: with apt-get when root, else prints the exact command and fails.
# The Makefile runs it once behind a stamp (build/.deps-*.ok).
set -u
if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "note: not a Debian system; make sure these are installed: $*"
    exit 0
fi
missing=""
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "installing Debian packages:$missing"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null || exit 1
else
    echo "missing Debian packages; run: sudo apt-get install -y$missing" >&2
    exit 1
fi
