#!/bin/sh
# Prepares a release build for GitHub Pages, which has no rewrites and sends no custom headers:
#
#   sh deploy/github-pages/prepare.sh DIST TENANT_ORIGIN API_ORIGIN
#
# - adds the Content-Security-Policy as a <meta> element (csp-meta.html) to DIST/index.html,
#   right after <meta charset>, before any script or stylesheet;
# - copies index.html to 404.html: GitHub Pages answers every path with no file (/callback,
#   deep links) with 404.html, so the app starts there too (with status 404);
# - adds .nojekyll, so that a branch-based deployment publishes the files as they are.
#
# TENANT_ORIGIN and API_ORIGIN are origins (https://dev-abc.us.auth0.com,
# https://api.example.com), the ones config.json names. Run it once per build.
set -eu

if [ $# -ne 3 ]; then
    echo "usage: $0 DIST TENANT_ORIGIN API_ORIGIN" >&2
    exit 2
fi
dist=$1
tenant=${2%/}
api=${3%/}
here=$(dirname "$0")

case "$tenant$api" in
    *'|'* | *' '* | *"'"* | *'"'*) echo "$0: origins may not contain | ' \" or spaces" >&2; exit 2 ;;
esac
if ! grep -q '<meta charset=' "$dist/index.html"; then
    echo "$0: $dist/index.html has no <meta charset=...> to put the policy after" >&2
    exit 1
fi
if grep -q 'http-equiv="Content-Security-Policy"' "$dist/index.html"; then
    echo "$0: $dist/index.html already has a Content-Security-Policy; run this once per build" >&2
    exit 1
fi

meta=$(mktemp)
trap 'rm -f "$meta"' EXIT
sed -e "s|__TENANT_ORIGIN__|$tenant|g" -e "s|__API_ORIGIN__|$api|g" "$here/csp-meta.html" > "$meta"
sed -i "/<meta charset=/r $meta" "$dist/index.html"

cp "$dist/index.html" "$dist/404.html"
touch "$dist/.nojekyll"
echo "prepared $dist for GitHub Pages: CSP meta element, 404.html, .nojekyll"
