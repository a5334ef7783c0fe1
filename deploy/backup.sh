#!/usr/bin/env bash
# Nightly backup: a new dated directory under BACKUP_ROOT, old ones pruned, an optional off-site copy.
#   BACKUP_ROOT        where backups go (default /var/backups/frontdesk)
#   BACKUP_KEEP_DAYS   daily backups kept (default 14); the backup of the 1st of each month is kept
#                      BACKUP_KEEP_MONTHS months (default 12)
#   BACKUP_OFFSITE     optional rsync target (e.g. backup@offsite.example:/srv/frontdesk/); leave empty for none
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${BACKUP_ROOT:-/var/backups/frontdesk}
KEEP_DAYS=${BACKUP_KEEP_DAYS:-14}
KEEP_MONTHS=${BACKUP_KEEP_MONTHS:-12}
STAMP=$(date +%Y-%m-%d_%H%M)
mkdir -p "$ROOT"
chmod 700 "$ROOT"

.venv/bin/flask --app wsgi backup "$ROOT/$STAMP"

# prune: dailies older than KEEP_DAYS, except monthlies (made on the 1st) younger than KEEP_MONTHS
find "$ROOT" -mindepth 1 -maxdepth 1 -type d -name '20??-??-??_*' | while read -r dir; do
  name=$(basename "$dir")
  day=${name:0:10}
  age_days=$(( ( $(date +%s) - $(date -d "$day" +%s) ) / 86400 ))
  keep=$KEEP_DAYS
  [[ ${day:8:2} == "01" ]] && keep=$(( KEEP_MONTHS * 31 ))
  if (( age_days > keep )); then
    rm -rf -- "$dir"
  fi
done

if [[ -n "${BACKUP_OFFSITE:-}" ]]; then
  # the same pruned set, to another building/provider; --delete mirrors the retention
  rsync -a --delete "$ROOT/" "$BACKUP_OFFSITE"
fi
echo "backup $ROOT/$STAMP done"
