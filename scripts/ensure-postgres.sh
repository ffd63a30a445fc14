#!/usr/bin/env bash
# Make sure PostgreSQL server binaries exist for the test suite (the tests start their own
# throw-away server on 127.0.0.1; nothing is configured system-wide).
set -euo pipefail
have_pg() {
  command -v pg_ctl >/dev/null 2>&1 && return 0
  compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null 2>&1
}
if have_pg; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing PostgreSQL server binaries (apt-get)…"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  have_pg && exit 0
fi
msg="PostgreSQL server binaries (pg_ctl, initdb) not found. Install them (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql) and re-run."
if [ "${CI:-}" = "true" ]; then echo "error: $msg" >&2; exit 1; fi
echo "warning: $msg The PostgreSQL tests will be skipped." >&2
