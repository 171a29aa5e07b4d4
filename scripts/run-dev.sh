#!/usr/bin/env bash
# Web server, Celery worker and beat side by side; Ctrl-C (or either one dying) stops all.
set -euo pipefail
cd "$(dirname "$0")/.."
children=()
stop() {
  trap - INT TERM EXIT
  [ ${#children[@]} -gt 0 ] && kill "${children[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

# Links in e-mails point where this server answers (unless SITE_URL says otherwise).
host="${HOST:-127.0.0.1}"
[ "$host" = "0.0.0.0" ] && host=127.0.0.1
export SITE_URL="${SITE_URL:-http://${host}:${PORT:-8000}}"

# One worker with an embedded beat (database scheduler: schedules are edited in Django admin).
.venv/bin/celery -A config worker --beat --loglevel=INFO --concurrency=2 \
  --without-mingle --without-gossip --pidfile= --schedule=var/celerybeat-schedule &
children+=($!)
.venv/bin/python manage.py runserver "${HOST:-127.0.0.1}:${PORT:-8000}" &
children+=($!)

cat <<MSG

  Tiered-funnel CRM is running at http://${HOST:-127.0.0.1}:${PORT:-8000}/
  Demo users (password crm-demo-2026): admin, manager, risk, rm1, rm2
  Ctrl-C stops the web server, the worker and beat.

MSG
wait -n
