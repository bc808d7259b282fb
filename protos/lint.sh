#!/usr/bin/env bash
# Runs `buf lint` over the protos. buf cannot fetch googleapis here, so the
# Debian copies are laid beside ours in a temporary module.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
buf=${BUF:-buf}
if ! "$buf" --version >/dev/null 2>&1; then
  echo "buf not found ($buf): run scripts/install-deps.sh --with-buf" >&2
  exit 1
fi
googleapis=${COUNSEL_GOOGLEAPIS_DIR:-/usr/share/gocode/src/github.com/gogo/googleapis}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/proto" "$work/deps"
cp -r "$here/counsel" "$work/proto/"
for f in google/api/annotations.proto google/api/http.proto google/rpc/status.proto \
         google/rpc/code.proto google/rpc/error_details.proto; do
  mkdir -p "$work/deps/$(dirname "$f")"
  cp "$googleapis/$f" "$work/deps/$f"
done
cat > "$work/buf.yaml" <<'YAML'
version: v2
modules:
  - path: proto
    lint:
      use:
        - STANDARD
      except:
        - RPC_RESPONSE_STANDARD_NAME
        - RPC_REQUEST_RESPONSE_UNIQUE
  - path: deps
YAML
cd "$work"
# Lint only our module; the googleapis copies are there to resolve imports.
"$buf" lint proto
echo "buf lint: ok"
