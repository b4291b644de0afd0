#!/usr/bin/env bash
# verify.yml: the pull-request check. The pull request must not be able to change the check, so
# verify.yml runs this script from a checkout of the base commit (trusted/) and points PR_DIR at
# the pull request's checkout (full history, so the merge base is there). That checkout is read
# as data only: git and `repokid verify` read its objects and files, and nothing in it is run.
# repokid is built from this script's own tree, never from PR_DIR (lib.sh: repokid_outside).
#
# Only files under policies/ and filters.toml are the check's business: when the pull request
# changes neither, it passes at once (so `verify` can be a required check on every pull request
# without a path filter leaving it pending forever). Otherwise `repokid verify`: every changed
# policy file is valid and no role gains an action unless the pull request carries the allow
# label (read from the event at $GITHUB_EVENT_PATH, or LABELS).
#
# Environment:
#   BASE_REF  the branch the pull request targets, e.g. main (required)
#   HEAD_REF  the pull request's head revision (default HEAD)
#   PR_DIR    the pull request's checkout (default: the current directory, for local runs)
#   LABELS    the pull request's labels, comma separated (default: from $GITHUB_EVENT_PATH)
#   REPOKID   see lib.sh; here it must be an absolute path outside PR_DIR (else refused)
#   REPOKID_CARGO: see lib.sh
source "$(dirname "$0")/lib.sh"

base_ref=${BASE_REF:?set BASE_REF to the branch the pull request targets}
head_ref=${HEAD_REF:-HEAD}
base="refs/remotes/origin/$base_ref"
pr_dir=$(cd "${PR_DIR:-.}" && pwd) || die "PR_DIR: no such directory: ${PR_DIR:-.}"

# Refuse a binary from the checkout before reading anything. Then work from the trusted tree, so
# that nothing keyed on the working directory (rust-toolchain.toml, .cargo/config.toml) comes
# from the pull request; git and repokid reach the checkout by path.
repokid_outside "$pr_dir"
cd "$gha_root" || die "cannot enter $gha_root"
pr_git() { git -C "$pr_dir" "$@"; }

if ! pr_git rev-parse -q --verify "$base^{commit}" >/dev/null; then
  pr_git fetch -q --no-tags origin "+refs/heads/$base_ref:$base"
fi
merge_base=$(pr_git merge-base "$base" "$head_ref")

# Changed workflows and scripts did not judge this pull request, so passing says nothing about
# them, yet they run once merged: say so where the reviewer looks.
changed_ci=$(pr_git diff --name-only "$merge_base" "$head_ref" -- .github/workflows scripts)
if [ -n "$changed_ci" ]; then
  notice="this pull request changes .github/workflows/ or scripts/: this check ran the base branch's scripts, not the changed ones, but they run after the merge, so they need the CODEOWNERS review (a changed workflow file runs even now: GitHub runs the pull request's own)"
  if in_actions; then echo "::warning title=repokid verify::$notice"; fi
  printf 'notice: %s:\n' "$notice"
  printf '  %s\n' "${changed_ci//$'\n'/$'\n  '}"
  summary "repokid verify: $notice"
fi

if pr_git diff --quiet "$merge_base" "$head_ref" -- policies filters.toml; then
  echo "nothing under policies/ and no filters.toml change: nothing to verify"
  summary "repokid verify: nothing under policies/ and no filters.toml change"
  exit 0
fi

resolve_repokid
# --repo: the checkout's own history, whatever its repokid.toml says `repo` is. --config: the
# base's settings (the size limit), not the ones the pull request may have edited.
args=(verify --repo "$pr_dir" --base "$base" --head "$head_ref")
if [ -f "$gha_root/repokid.toml" ]; then args=(--config "$gha_root/repokid.toml" "${args[@]}"); fi
if [ -n "${LABELS:-}" ]; then args+=(--labels "$LABELS"); fi
(cd "$pr_dir" && rk "${args[@]}")
