#!/usr/bin/env bash
# ci.yml: the tool's own build and tests, exactly as `.ci/run` runs them (format, lint, docs,
# catalog drift, actionlint on these workflows, the stand-ins, every test).
source "$(dirname "$0")/lib.sh"

ensure_toolchain
if in_actions && command -v rustup >/dev/null; then
  rustup component add clippy rustfmt >&2
fi
exec "$gha_root/.ci/run"
