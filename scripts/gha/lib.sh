# shellcheck shell=bash
# Shared by the job scripts in scripts/gha/ (sourced, not run). Each workflow job runs exactly
# one of those scripts; tests/it/workflows/ runs the same scripts against moto and local git.
#
# Environment every script understands:
#   REPOKID      the repokid binary: an absolute path outside the checkout the job works in (the
#                workflows use the runner's temporary directory), so that no file of the checkout
#                is ever run as repokid, e.g. one committed at target/gha/repokid. Where it comes
#                from (resolve_repokid):
#                - repokid.lock beside these scripts' tree pins a release: downloaded there if
#                  absent, and run only if its SHA-256 is the lock's;
#                - else an existing file (restored from the cache the workflows key on the
#                  sources and save only from the protected branch);
#                - else built from these scripts' tree and copied there.
#                Unset, outside Actions only: build and use target/release/repokid of this tree.
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

# Sets REPOKID to an absolute path of a binary that may run (see the header), building or
# downloading it when needed.
resolve_repokid() {
  local want=${REPOKID:-} lock=$gha_root/repokid.lock tmp
  if [ -z "$want" ]; then
    # Only a person's own tree builds in place; a job always names a path outside its checkout.
    if in_actions; then die "REPOKID is not set: the workflow names a path outside the checkout (\${{ runner.temp }}/repokid-bin/repokid)"; fi
    build_repokid "$gha_root/target"
    REPOKID=$gha_root/target/release/repokid
  else
    [[ $want = /* ]] || die "REPOKID must be an absolute path outside the checkout $job_checkout, not '$want' (a relative path names a file in the checkout)"
    want=$(physical "$want")
    if under "$want" "$job_checkout"; then
      die "REPOKID=$REPOKID is inside the checkout $job_checkout: a file from the checkout is never run as repokid"
    fi
    REPOKID=$want
    if [ -f "$lock" ]; then
      install_release "$lock"
    elif [ ! -x "$REPOKID" ]; then
      tmp=$(build_dir)
      build_repokid "$tmp/repokid-target"
      mkdir -p "$(dirname "$REPOKID")"
      cp "$build_target/release/repokid" "$REPOKID"
    fi
  fi
  export REPOKID
  "$REPOKID" --version >&2
}

# build_dir: a fresh directory for a build, outside the checkout (the runner's temporary
# directory in Actions), so that nothing committed under target/ can pass for a finished build.
build_dir() {
  local d=${RUNNER_TEMP:-}
  if [ -z "$d" ]; then d=$(mktemp -d); fi
  d=$(physical "$d")
  if under "$d" "$job_checkout"; then die "build directory $d is inside the checkout $job_checkout"; fi
  printf '%s\n' "$d"
}

# build_repokid TARGET_DIR: `cargo build --release --locked` of this scripts' tree (the reviewed
# one: the protected branch's checkout, or verify's trusted/), into TARGET_DIR (build_target).
build_repokid() {
  build_target=$1
  group "build repokid from $gha_root"
  if [ -z "${REPOKID_CARGO:-}" ]; then ensure_toolchain; fi
  (cd "$gha_root" && "${REPOKID_CARGO:-cargo}" build --release --locked --quiet --target-dir "$build_target")
  endgroup
}

# release_target: the Rust target of this machine's release binary (release.yml builds these).
release_target() {
  case "$(uname -s)/$(uname -m)" in
    Linux/x86_64) echo x86_64-unknown-linux-musl ;;
    Linux/aarch64 | Linux/arm64) echo aarch64-unknown-linux-musl ;;
    *) die "no repokid release for $(uname -s)/$(uname -m): remove repokid.lock to build from source" ;;
  esac
}

# install_release LOCK: the release LOCK pins, at REPOKID. Downloaded when REPOKID is absent;
# either way its SHA-256 must be the lock's for this machine, else it is deleted and refused.
install_release() {
  local lock=$1 target fields version url sha got
  target=$(release_target)
  # version, url and sha256 for this target, one a line; the lock is TOML (docs/setup.md).
  fields=$(python3 - "$lock" "$target" <<'PY'
import sys, tomllib
path, target = sys.argv[1], sys.argv[2]
try:
    with open(path, "rb") as f:
        lock = tomllib.load(f)
    version = lock["version"]
    repo = lock.get("repository", "")
    sha = lock["sha256"][target]
except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as e:
    sys.exit(f"{path}: {type(e).__name__}: {e} (needs version, repository and sha256.{target})")
url = lock.get("url") or f"https://github.com/{repo}/releases/download/v{{version}}/repokid-{{target}}"
print(version)
print(url.replace("{version}", version).replace("{target}", target))
print(sha.lower())
PY
) || die "cannot read $lock"
  { read -r version; read -r url; read -r sha; } <<<"$fields"
  [[ $sha =~ ^[0-9a-f]{64}$ ]] || die "$lock: sha256.$target is not a SHA-256: '$sha'"
  if [ ! -e "$REPOKID" ]; then
    group "download repokid $version ($target), pinned by repokid.lock"
    mkdir -p "$(dirname "$REPOKID")"
    curl -fsSL --proto '=https,file' --retry 3 -o "$REPOKID.download" "$url" \
      || die "cannot download $url"
    mv "$REPOKID.download" "$REPOKID"
    endgroup
  fi
  got=$(sha256sum "$REPOKID" | cut -d' ' -f1)
  if [ "$got" != "$sha" ]; then
    rm -f "$REPOKID"
    die "$REPOKID has SHA-256 $got, but repokid.lock pins $sha for $version ($target): refused, not run"
  fi
  chmod +x "$REPOKID"
  log "repokid $version ($target) matches repokid.lock"
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

# repokid_outside DIR: for a job that must not run anything from DIR (an untrusted checkout besides
# the one it works in), before resolve_repokid. REPOKID has to be an absolute path outside DIR,
# and a build can only happen in this script's own tree, which must lie outside DIR too; anything
# else is refused, so a binary committed in DIR (say target/gha/repokid) never runs.
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

# The checkout this job works in: Actions' workspace, elsewhere the git work tree around the
# directory the script started in. No file in it is ever run as repokid (resolve_repokid).
job_checkout=$(physical "${GITHUB_WORKSPACE:-$(git rev-parse --show-toplevel 2>/dev/null || pwd)}")

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
