# shellcheck shell=bash
# Shared by the job scripts in scripts/gha/ (sourced, not run). Each workflow job runs exactly
# one of those scripts; tests/workflows.rs runs the same scripts against moto and local git.
#
# Environment every script understands:
#   REPOKID      the repokid binary. Unset: `cargo build --release --locked` and use
#                target/release/repokid. Set to a path that does not exist yet: build, then
#                copy the binary there (the workflows cache that path between jobs).
#   REPOKID_CARGO  the cargo that builds it (default: cargo, on a hosted runner after installing
#                the stable toolchain); tests set it to watch where the build runs.
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
    if [ -z "${REPOKID_CARGO:-}" ]; then ensure_toolchain; fi
    (cd "$gha_root" && "${REPOKID_CARGO:-cargo}" build --release --locked --quiet)
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

# physical PATH: PATH made absolute with the symlinks of its longest existing part resolved, so
# a link cannot disguise where a path really leads. PATH must be absolute.
physical() {
  local p=$1 rest=""
  while [ ! -e "$p" ] && [ ! -L "$p" ] && [ "$p" != / ]; do
    rest=/$(basename "$p")$rest
    p=$(dirname "$p")
  done
  p=$(realpath -- "$p")
  printf '%s\n' "${p%/}$rest"
}

# under PATH DIR: whether PATH is DIR or lies inside it (both physical, see above).
under() { case "$1/" in "${2%/}"/*) return 0 ;; *) return 1 ;; esac; }

# repokid_outside DIR: for a job that must not run anything from DIR (an untrusted checkout),
# before resolve_repokid. REPOKID has to be an absolute path outside DIR, and a build can only
# happen in this script's own tree, which must lie outside DIR too; anything else is refused, so
# a binary committed in DIR (say target/gha/repokid) never runs.
repokid_outside() {
  local dir want
  [ -d "$1" ] || die "no such directory: $1"
  dir=$(physical "$(cd "$1" && pwd)")
  if [ -n "${REPOKID:-}" ]; then
    [[ $REPOKID = /* ]] || die "REPOKID must be an absolute path outside the pull request checkout $dir, not '$REPOKID' (a relative path could name a file in the checkout)"
    want=$(physical "$REPOKID")
    if under "$want" "$dir"; then
      die "REPOKID=$REPOKID is inside the pull request checkout $dir: a file from the checkout is never run as repokid"
    fi
    REPOKID=$want
  fi
  if under "$(physical "$gha_root")" "$dir"; then
    die "these scripts ($gha_root) are inside the pull request checkout $dir: run them from a checkout of the base (verify.yml's trusted/)"
  fi
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
