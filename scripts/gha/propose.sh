#!/usr/bin/env bash
# propose.yml, one matrix job: for each account of the batch, record live state (sync) and
# propose the least-privilege version as a pull request. Run in a checkout of the protected
# branch (full history: permission ages come from it).
#
# Each account starts from the checked-out commit. Its sync commit (if live state changed) is
# recorded on the protected branch through a recording pull request that repokid merges itself
# (`repokid record`; it waits when the branch's rules refuse, e.g. verify failing because the
# recorded state adds access), so permission ages accumulate even on nights with nothing to
# propose. Its proposal commit goes on its own proposal branch, so its pull request carries
# exactly its own account. The protected branch itself is never pushed to.
#
# Environment:
#   ACCOUNTS      the batch: 12-digit account ids, space or comma separated (required)
#   SCHEDULE      "true": `repokid schedule` (a not-before date held by the repokid/schedule
#                 status) instead of `repokid propose --open-pr`
#   OPEN_PR       "false": a dry run that pushes nothing and needs no token: the proposal branches
#                 stay local and the pull request texts are written to PR_DIR
#   PR_DIR        where the dry run writes <account>.md (default target/gha/proposals)
#   RECORD        "false": do not record live state through recording pull requests (sync
#                 commits then reach the protected branch only inside merged proposals);
#                 default "true", except in the OPEN_PR=false dry run
#   GITHUB_TOKEN  token for the pushes and the GitHub API (never printed; not needed when
#                 OPEN_PR=false)
#   REPOKID, REPOKID_NOW: see lib.sh
source "$(dirname "$0")/lib.sh"

ids=$(accounts_from "${ACCOUNTS:?set ACCOUNTS to the account ids of this batch}")
schedule=${SCHEDULE:-false}
open_pr=${OPEN_PR:-true}
pr_dir=${PR_DIR:-target/gha/proposals}
record=${RECORD:-$open_pr}

resolve_repokid
git_identity

branch=$(git symbolic-ref -q --short HEAD) \
  || die "HEAD is detached: check out the protected branch (sync commits on it)"
base=$(git rev-parse HEAD)

case "$schedule/$open_pr" in
  true/false) die "SCHEDULE=true opens scheduled pull requests; it cannot be combined with OPEN_PR=false" ;;
  true/*) step=(schedule) ;;
  */false) step=(propose --pr-dir "$pr_dir") ;;
  *) step=(propose --open-pr) ;;
esac

failed=()
summary "| account | result |" "|---|---|"
# reuse_recording ACCOUNT: when tonight's sync recorded exactly what an open recording pull
# request already holds (same policies/ACCOUNT tree), continue from that commit instead: its time
# is when the state was first seen (permission ages count from it), and its checks have run, so
# it can be merged now rather than restarted every night.
reuse_recording() {
  local rec="refs/remotes/origin/repokid/record/$1"
  git rev-parse -q --verify "$rec^{commit}" >/dev/null || return 0
  [ "$(git rev-parse "HEAD:policies/$1")" = "$(git rev-parse -q --verify "$rec:policies/$1")" ] || return 0
  git merge-base --is-ancestor "$rec^" "$base" || return 0
  git reset -q --hard "$rec"
}

for account in $ids; do
  group "account $account: sync, then ${step[*]}"
  git checkout -q -B "$branch" "$base"
  if ! rk sync --account "$account"; then
    failed+=("$account")
    summary "| $account | sync failed |"
    endgroup
    continue
  fi
  result=ok
  # A failed recording does not stop the proposal: its sync commit then travels in the proposal.
  if [ "$record" = "true" ] && [ "$(git rev-parse HEAD)" != "$base" ] \
      && ! { reuse_recording "$account" && rk record --account "$account"; }; then
    failed+=("$account")
    result="record failed"
  fi
  if ! rk "${step[@]}" --account "$account"; then
    failed+=("$account")
    result="${step[0]} failed"
  fi
  summary "| $account | $result |"
  endgroup
done
git checkout -q -B "$branch" "$base"

if [ "$open_pr" = "false" ]; then
  log "dry run: nothing was pushed; proposal branches are local, pull request texts are in $pr_dir/"
fi
if [ ${#failed[@]} -gt 0 ]; then
  die "failed for ${#failed[@]} account(s): ${failed[*]} (see the log above)"
fi
