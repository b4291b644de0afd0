#!/usr/bin/env bash
# propose.yml, one matrix job: for each account of the batch, record live state (sync) and
# propose the least-privilege version as a pull request. Run in a checkout of the protected
# branch (full history: permission ages come from it).
#
# Each account starts from the checked-out commit: its sync commit (if live state changed) and
# its proposal commit go on its own proposal branch, so its pull request carries exactly its own
# account. The protected branch itself is never pushed: the sync commit reaches it when the
# pull request is merged.
#
# Environment:
#   ACCOUNTS      the batch: 12-digit account ids, space or comma separated (required)
#   SCHEDULE      "true": `repokid schedule` (a not-before date held by the repokid/schedule
#                 status) instead of `repokid propose --open-pr`
#   OPEN_PR       "false": a dry run that pushes nothing and needs no token: the proposal branches
#                 stay local and the pull request texts are written to PR_DIR
#   PR_DIR        where the dry run writes <account>.md (default target/gha/proposals)
#   GITHUB_TOKEN  token for the pushes and the GitHub API (never printed; not needed when
#                 OPEN_PR=false)
#   REPOKID, REPOKID_NOW: see lib.sh
source "$(dirname "$0")/lib.sh"

ids=$(accounts_from "${ACCOUNTS:?set ACCOUNTS to the account ids of this batch}")
schedule=${SCHEDULE:-false}
open_pr=${OPEN_PR:-true}
pr_dir=${PR_DIR:-target/gha/proposals}

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
for account in $ids; do
  group "account $account: sync, then ${step[*]}"
  git checkout -q -B "$branch" "$base"
  if ! rk sync --account "$account"; then
    failed+=("$account")
    summary "| $account | sync failed |"
  elif ! rk "${step[@]}" --account "$account"; then
    failed+=("$account")
    summary "| $account | ${step[0]} failed |"
  else
    summary "| $account | ok |"
  fi
  endgroup
done
git checkout -q -B "$branch" "$base"

if [ "$open_pr" = "false" ]; then
  log "dry run: nothing was pushed; proposal branches are local, pull request texts are in $pr_dir/"
fi
if [ ${#failed[@]} -gt 0 ]; then
  die "failed for ${#failed[@]} account(s): ${failed[*]} (see the log above)"
fi
