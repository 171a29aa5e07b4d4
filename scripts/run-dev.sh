#!/usr/bin/env bash
# Web server, Celery worker and beat side by side; Ctrl-C or SIGTERM (to this script or to its
# whole process group, as `make run` gets it) stops all within seconds; either one dying stops all.
set -euo pipefail
cd "$(dirname "$0")/.."

# The worker runs in a session of its own, so a signal to this process group never reaches its
# prefork children directly. One that did (kill -TERM -<pgid>) killed an idle child while it held
# the pool's queue lock, and the worker then waited for that lock at exit for ever ("Warm
# shutdown" and nothing more). Here only this script signals the worker: TERM (warm shutdown:
# running tasks finish), then QUIT after GRACE seconds (cold: they are cut off), then KILL.
# A cold stop loses no work: jobs are acknowledged late, and a job cut off mid-run has a Job row
# whose lease runs out, so the outbox sweep sends it again once a worker is back.
GRACE=${STOP_GRACE_SECONDS:-8}
worker="" web=""
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
wait_gone() {  # wait_gone seconds pid: true once the process is gone
  local ticks=$(($1 * 10))
  while alive "$2" && [ "$ticks" -gt 0 ]; do sleep 0.1; ticks=$((ticks - 1)); done
  ! alive "$2"
}
stop() {
  trap - INT TERM EXIT
  alive "$web" && kill -TERM "$web" 2>/dev/null
  if alive "$worker"; then
    kill -TERM "$worker" 2>/dev/null
    wait_gone "$GRACE" "$worker" || { kill -QUIT "$worker" 2>/dev/null; wait_gone 3 "$worker"; } \
      || kill -KILL -- "-$worker" 2>/dev/null
    kill -KILL -- "-$worker" 2>/dev/null  # pool children or beat left behind, if any
  fi
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

# Links in e-mails point where this server answers (unless SITE_URL says otherwise).
host="${HOST:-127.0.0.1}"
[ "$host" = "0.0.0.0" ] && host=127.0.0.1
export SITE_URL="${SITE_URL:-http://${host}:${PORT:-8000}}"

# One worker with an embedded beat (database scheduler: schedules are edited in Django admin).
# setsid execs the worker in place (a background job of a script is no group leader), so $! is
# the worker and its process group id.
setsid .venv/bin/celery -A config worker --beat --loglevel=INFO --concurrency=2 \
  --without-mingle --without-gossip --pidfile= --schedule=var/celerybeat-schedule &
worker=$!
.venv/bin/python manage.py runserver "${HOST:-127.0.0.1}:${PORT:-8000}" &
web=$!

cat <<MSG

  Tiered-funnel CRM is running at http://${HOST:-127.0.0.1}:${PORT:-8000}/
  Demo users (password crm-demo-2026): admin, manager, risk, rm1, rm2
  Ctrl-C stops the web server, the worker and beat.

MSG
wait -n
