#!/usr/bin/env bash
# System binaries the test suite needs: PostgreSQL server binaries (the tests start their own
# throw-away server on 127.0.0.1; nothing is configured system-wide) and Chromium for the
# end-to-end tests of the dashboard. Installed with apt-get when missing and running as root.
set -euo pipefail
have_pg() {
  command -v pg_ctl >/dev/null 2>&1 && return 0
  compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null 2>&1
}
have_chromium() { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }

missing=()
have_pg || missing+=(postgresql)
have_chromium || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} (apt-get)…"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  missing=()
  have_pg || missing+=(postgresql)
  have_chromium || missing+=(chromium)
  [ ${#missing[@]} -eq 0 ] && exit 0
fi
msg="missing system packages: ${missing[*]}. Install them (Debian/Ubuntu: sudo apt-get install ${missing[*]}; macOS: brew install postgresql chromium) and re-run."
if [ "${CI:-}" = "true" ]; then echo "error: $msg" >&2; exit 1; fi
echo "warning: $msg The tests that need them will be skipped." >&2
