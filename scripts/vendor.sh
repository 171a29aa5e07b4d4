#!/usr/bin/env bash
# Copy the front-end files this project serves from their npm packages into static/vendor/,
# and axe-core (accessibility checks, tests only) into tests/e2e/vendor/.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fetch() { (cd "$tmp" && npm pack --silent "$1" >/dev/null && mkdir -p "$2" && tar xzf ./*.tgz -C "$2" && rm ./*.tgz); }
fetch htmx.org@2.0.11 htmx
fetch bootstrap@5.3.9 bootstrap
fetch bootstrap-icons@1.13.2 icons
fetch sortablejs@1.15.7 sortable
fetch chart.js@4.6.1 chartjs
# For the accessibility tests only (tests/e2e/test_accessibility.py): never served by the app.
fetch axe-core@4.14.1 axe
v=static/vendor
mkdir -p $v/htmx $v/bootstrap $v/bootstrap-icons/fonts $v/sortablejs $v/chartjs
cp "$tmp"/htmx/package/dist/htmx.min.js "$tmp"/htmx/package/LICENSE $v/htmx/
cp "$tmp"/bootstrap/package/dist/css/bootstrap.min.css{,.map} "$tmp"/bootstrap/package/LICENSE $v/bootstrap/
cp "$tmp"/bootstrap/package/dist/js/bootstrap.bundle.min.js{,.map} $v/bootstrap/
cp "$tmp"/icons/package/font/bootstrap-icons.min.css "$tmp"/icons/package/LICENSE $v/bootstrap-icons/
cp "$tmp"/icons/package/font/fonts/* $v/bootstrap-icons/fonts/
cp "$tmp"/sortable/package/Sortable.min.js "$tmp"/sortable/package/LICENSE $v/sortablejs/
cp "$tmp"/chartjs/package/dist/chart.umd.min.js{,.map} "$tmp"/chartjs/package/LICENSE.md $v/chartjs/
mkdir -p tests/e2e/vendor/axe-core
cp "$tmp"/axe/package/axe.min.js "$tmp"/axe/package/LICENSE tests/e2e/vendor/axe-core/
echo "vendored into $v and tests/e2e/vendor"
