#!/usr/bin/env bash
# verify.yml: the pull-request check. Run in a checkout of the pull request (full history, so
# the merge base with the base branch is there).
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
#   LABELS    the pull request's labels, comma separated (default: from $GITHUB_EVENT_PATH)
#   REPOKID: see lib.sh
source "$(dirname "$0")/lib.sh"

base_ref=${BASE_REF:?set BASE_REF to the branch the pull request targets}
head_ref=${HEAD_REF:-HEAD}
base="refs/remotes/origin/$base_ref"

if ! git rev-parse -q --verify "$base^{commit}" >/dev/null; then
  git fetch -q --no-tags origin "+refs/heads/$base_ref:$base"
fi
merge_base=$(git merge-base "$base" "$head_ref")

if git diff --quiet "$merge_base" "$head_ref" -- policies filters.toml; then
  echo "nothing under policies/ and no filters.toml change: nothing to verify"
  summary "repokid verify: nothing under policies/ and no filters.toml change"
  exit 0
fi

resolve_repokid
args=(verify --base "$base" --head "$head_ref")
if [ -n "${LABELS:-}" ]; then args+=(--labels "$LABELS"); fi
rk "${args[@]}"
