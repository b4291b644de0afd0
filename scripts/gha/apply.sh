#!/usr/bin/env bash
# apply.yml, one matrix job: make IAM hold what the protected branch holds, for each account of
# the batch. Run in a checkout of the protected branch (full history), with credentials that can
# push refs/repokid/* to origin.
#
# 1. Fetch what was applied before (refs/repokid/applied/<account>: the baseline of the drift
#    guard; docs/aws.md) and the branch's tip on origin.
# 2. Apply the tip, whichever commit the run was started for: when origin's branch has moved
#    past the checked-out commit, the tip is checked out (it holds this commit's changes), so a
#    merge is applied even when a later commit touched nothing under policies/ and started no
#    run. Nothing older than the tip is ever applied, and repokid refuses an account whose
#    applied ref is not in the tip's history (applying it would undo what was applied).
# 3. `repokid apply --commit` for the batch: drift is skipped and reported, never overwritten.
# 4. Push the refs of this batch's accounts, also when some account failed: the accounts that
#    succeeded are recorded, the others keep their old baseline and are retried next time.
# 5. Report, also when the apply failed (`repokid apply-report`): a comment on each merged pull
#    request behind the applied commits (applied, drift with the live diff, failed, per role),
#    and the tracking issue labelled repokid:apply-failed opened or updated on failure, closed
#    once every account in it is applied. Exit non-zero if anything failed.
#
# Environment:
#   ACCOUNTS      the batch: 12-digit account ids, space or comma separated (required)
#   APPLY_ROLE    the role to assume in each account for writing (default: [aws] assume-role)
#   DRY_RUN       "true": read live IAM and print what would be written; write, push and post
#                 nothing
#   GITHUB_TOKEN  token for the comments and the tracking issue (pull-requests: write,
#                 issues: write; never printed); unset: nothing is posted
#   REPOKID, REPOKID_NOW: see lib.sh
source "$(dirname "$0")/lib.sh"

ids=$(accounts_from "${ACCOUNTS:?set ACCOUNTS to the account ids of this batch}")
dry_run=${DRY_RUN:-false}

resolve_repokid
git_identity

branch=$(git symbolic-ref -q --short HEAD) \
  || die "HEAD is detached: check out the protected branch (its tip on origin is what is applied)"

group "fetch what was applied (refs/repokid/*) and origin/$branch"
git fetch --no-tags origin '+refs/repokid/*:refs/repokid/*'
git fetch -q --no-tags origin "+refs/heads/$branch:refs/remotes/origin/$branch"
endgroup

started=$(git rev-parse HEAD)
tip=$(git rev-parse "refs/remotes/origin/$branch^{commit}")
if [ "$tip" != "$started" ]; then
  if git merge-base --is-ancestor "$started" "$tip"; then
    holds="which holds it"
  else
    holds="which does not hold it (history rewritten?)"
  fi
  echo "origin/$branch is at ${tip:0:10}, not ${started:0:10} (the commit this run was started for): applying the tip, $holds"
  summary "repokid apply: origin/$branch is at ${tip:0:10}, not ${started:0:10} (this run's commit): applied the tip, $holds" ""
  git checkout -q --detach "$tip"
fi

report=$(mktemp)
trap 'rm -f "$report"' EXIT

args=(apply --report "$report")
if [ "$dry_run" != "true" ]; then args+=(--commit); fi
if [ -n "${APPLY_ROLE:-}" ]; then args+=(--assume-role "$APPLY_ROLE"); fi
for account in $ids; do args+=(--account "$account"); done

status=0
rk "${args[@]}" || status=$?

if [ "$dry_run" = "true" ]; then exit "$status"; fi

push_failed=false
refs=()
for account in $ids; do
  ref="refs/repokid/applied/$account"
  if git rev-parse -q --verify "$ref" >/dev/null; then refs+=("$ref"); fi
done
if [ ${#refs[@]} -gt 0 ]; then
  group "record what was applied: push ${refs[*]}"
  git push origin "${refs[@]}" || { log "error: pushing the applied refs failed"; status=1; push_failed=true; }
  endgroup
fi

if [ -z "${GITHUB_TOKEN:-}" ]; then
  log "no GITHUB_TOKEN: the results are not posted to the pull requests or the tracking issue"
  exit "$status"
fi
post=(apply-report --input "$report")
for account in $ids; do post+=(--account "$account"); done
if [ "$push_failed" = "true" ]; then post+=(--push-failed); fi
if [ -n "${GITHUB_SERVER_URL:-}" ] && [ -n "${GITHUB_REPOSITORY:-}" ] && [ -n "${GITHUB_RUN_ID:-}" ]; then
  post+=(--run-url "$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID")
fi
group "report: comments on the merged pull requests, the tracking issue"
rk "${post[@]}" || { log "error: posting the results to GitHub failed (see above)"; status=1; }
endgroup
exit "$status"
