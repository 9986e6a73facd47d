#!/usr/bin/env bash
# The playground in a real browser, with the network closed to all but localhost:
# check that the committed assets are what `make playground` builds from the
# pinned npm packages, build the binary, serve it on a free port over a throwaway
# database with the demo workspace (as `make run`), create an admin token for it
# through the CLI, then
# drive Debian's Chromium through the page with Playwright (browser.mjs). Installs
# Chromium and Node.js when missing. The screenshot lands in .ci/playground/out/
# (or $PLAYGROUND_OUT); its path is printed. Needs PostgreSQL (as the tests do).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/local/go/bin"

out="${PLAYGROUND_OUT:-$PWD/.ci/playground/out}"

missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs npm)
[ -x /usr/bin/chromium ] || missing+=(chromium chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
  echo "playground: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Playwright for a current Chromium needs Node.js 20 or later (Debian 12's own is 18).
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "playground: Node.js $(node --version) is too old for Playwright; install Node.js 20 or later"
  exit 1
fi

echo "playground: the committed assets must be what 'make playground' builds"
make -s playground
if [ -n "$(git status --porcelain -- internal/playground/dist)" ]; then
  git status --short -- internal/playground/dist
  echo "playground: internal/playground/dist is stale; run 'make playground' and commit"
  exit 1
fi

source .ci/server.sh
# The demo workspace of `make run`: the README's examples are written against it.
start_server loggraph_ci_playground --demo
token=$(DATABASE_URL="$db_url" "$work/loggraph" token create --workspace demo --role admin --name browser-test | tail -1)

(cd .ci/playground && npm ci --no-audit --no-fund --loglevel=error)
node .ci/playground/browser.mjs "$base" "$token" "$out"
