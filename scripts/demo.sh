#!/usr/bin/env bash
# `make demo`: import the real sample data into a fresh SQLite store, add example monitors,
# then show what perron found.
set -euo pipefail
DB="${1:-demo/perron-demo.db}"
P=".venv/bin/perron"
rm -f "$DB" "$DB-wal" "$DB-shm"
export PERRON_DB="$DB"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "1. Example monitors (they tag posts as they are imported)"
$P monitor add brexit '#brexit OR brexit OR "people'"'"'s vote"'
$P monitor add kpop '#kpop OR bts OR blackpink OR "k-pop"'
$P monitor add medias-fr 'lang:fr (journaliste* OR médias OR "l'"'"'info")'
$P monitor add nytimes '@nytimes_com OR nytimes OR "new york times"'

say "2. Import (formats are detected; CSVs use a column mapping)"
$P import --no-progress demo/data/twitter-v2-brexit-kpop.jsonl demo/data/twitter-v2-geo.jsonl \
  demo/data/mastodon-status.json demo/data/bluesky-jetstream-events.jsonl
$P import --no-progress demo/data/bluesky-snowball.csv --format csv \
  --map source=source,id=uri,text=text,author=author_handle,author_id=author_did,created_at=created_at,lang=lang,likes=like_count,reposts=repost_count,replies=reply_count
$P import --no-progress demo/data/ftr-french-tweets.csv --format csv --map source=source,id=row_id,text=text

say "3. Importing the same files again adds nothing"
$P import --no-progress demo/data/twitter-v2-brexit-kpop.jsonl

say "4. Understanding: language, sentiment, hostility, irony, complaints, claims, triage"
$P facts add "le vaccin contient une puce 5G" --false-claim \
  --correction "Aucun vaccin ne contient de puce électronique." --source https://www.who.int/
$P enrich

say "5. What the store holds"
$P stats

say "6. Search: accents and elisions do not matter (l'État = etat)"
$P search 'lang:fr (etat OR "l'"'"'État")' -n 5

say "7. Search: #Brexit posts that are not retweets, with a link"
$P search '#brexit -is:repost has:link' -n 5

say "8. The responder's queue: what to answer first, and why"
$P triage list --outcome restoration -n 5
first=$($P triage list --outcome restoration -n 1 --json | .venv/bin/python -c 'import json,sys; print(json.loads(sys.stdin.readline())["id"])')
$P triage explain "$first"

say "9. Influence by what people do (not follower counts) on #Brexit"
$P influencers brexit --top 8

say "10. The dashboard: one demo workspace over this store, one demo user per role"
CONTROL="${DB%.db}-control.db"
rm -f "$CONTROL" "$CONTROL-wal" "$CONTROL-shm"
.venv/bin/python - "$CONTROL" "$DB" <<'PY'
import sys
from perron.web.demo import seed_demo
for email, password, role in seed_demo(sys.argv[1], sys.argv[2]):
    print(f"  {role:<10} {email:<24} password: {password}")
PY
PORT="${DEMO_PORT:-8000}"
printf '\nStore: %s — try: PERRON_DB=%s %s search "votre requête"\n' "$DB" "$DB" "$P"
printf 'Dashboard: http://127.0.0.1:%s/w/demo/inbox  (log in with a demo user above; demo passwords only)\n' "$PORT"
if [ "${DEMO_SERVE:-1}" = "1" ]; then
  printf 'Serving until Ctrl-C (DEMO_SERVE=0 make demo skips this step).\n'
  exec $P serve --db "$CONTROL" --port "$PORT"
fi
