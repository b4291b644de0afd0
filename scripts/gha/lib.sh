# shellcheck shell=bash
# Shared by the job scripts in scripts/gha/ (sourced, not run). Each workflow job runs exactly
# one of those scripts; tests/workflows.rs runs the same scripts against moto and local git.
#
# Environment every script understands:
#   REPOKID      the repokid binary. Unset: `cargo build --release --locked` and use
#                target/release/repokid. Set to a path that does not exist yet: build, then
#                copy the binary there (the workflows cache that path between jobs).
#   REPOKID_NOW  evaluate as of this instant (RFC 3339), for reproducible dry runs; unset: now.

set -euo pipefail

gha_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

in_actions() { [ "${GITHUB_ACTIONS:-}" = "true" ]; }

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

group() { if in_actions; then echo "::group::$*"; else printf '\n== %s\n' "$*"; fi; }
endgroup() { if in_actions; then echo "::endgroup::"; fi; }

# summary LINE...: appends lines of Markdown to the job summary in Actions (no-op elsewhere).
summary() { if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then printf '%s\n' "$@" >> "$GITHUB_STEP_SUMMARY"; fi; }

# output NAME VALUE: a step output in Actions; printed as NAME=VALUE elsewhere.
output() {
  if [ -n "${GITHUB_OUTPUT:-}" ]; then printf '%s=%s\n' "$1" "$2" >> "$GITHUB_OUTPUT"; fi
  printf '%s=%s\n' "$1" "$2"
}

# accounts_from VALUE: the 12-digit account ids in VALUE (space or comma separated), one a line;
# anything else is an error naming it.
accounts_from() {
  local a
  for a in ${1//,/ }; do
    [[ $a =~ ^[0-9]{12}$ ]] || die "not a 12-digit account id: '$a'"
    printf '%s\n' "$a"
  done
}

# Rust toolchain for a build on a hosted runner: Cargo.toml's rust-version may be newer than
# the image's. Elsewhere the toolchain on PATH is used as it is.
ensure_toolchain() {
  if in_actions && command -v rustup >/dev/null; then
    rustup toolchain install stable --profile minimal --no-self-update >&2
    rustup default stable >&2
  fi
}

# Sets REPOKID to an absolute path of a working binary, building it when needed.
resolve_repokid() {
  local want=${REPOKID:-}
  if [ -n "$want" ] && [ -x "$want" ]; then
    REPOKID=$(cd "$(dirname "$want")" && pwd)/$(basename "$want")
  else
    group "build repokid"
    ensure_toolchain
    (cd "$gha_root" && cargo build --release --locked --quiet)
    endgroup
    if [ -n "$want" ]; then
      mkdir -p "$(dirname "$want")"
      cp "$gha_root/target/release/repokid" "$want"
      REPOKID=$(cd "$(dirname "$want")" && pwd)/$(basename "$want")
    else
      REPOKID=$gha_root/target/release/repokid
    fi
  fi
  export REPOKID
  "$REPOKID" --version >&2
}

# The global options every repokid call gets.
repokid_global=()
if [ -n "${REPOKID_NOW:-}" ]; then repokid_global+=(--now "$REPOKID_NOW"); fi

rk() { "$REPOKID" "${repokid_global[@]}" "$@"; }

# Commits made in Actions are the Actions bot's. Elsewhere an identity already configured is
# left alone; only a repository without one gets the bot's.
git_identity() {
  if in_actions || ! git config user.email >/dev/null; then
    git config user.name "github-actions[bot]"
    git config user.email "41898282+github-actions[bot]@users.noreply.github.com"
  fi
}
