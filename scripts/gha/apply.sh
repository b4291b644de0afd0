#!/usr/bin/env bash
# apply.yml, one matrix job: make IAM hold what the protected branch holds, for each account of
# the batch. Run in a checkout of the protected branch (full history), with credentials that can
# push refs/repokid/* to origin.
#
# 1. Fetch what was applied before (refs/repokid/applied/<account>: the baseline of the drift
#    guard; docs/aws.md).
# 2. If origin's branch has moved past the checked-out commit, stop: the run for the newer
#    commit applies this one too, and applying an older commit would undo newer changes.
# 3. `repokid apply --commit` for the batch: drift is skipped and reported, never overwritten.
# 4. Push the refs of this batch's accounts, also when some account failed: the accounts that
#    succeeded are recorded, the others keep their old baseline and are retried next time.
#    Exit non-zero if anything failed.
#
# Environment:
#   ACCOUNTS    the batch: 12-digit account ids, space or comma separated (required)
#   APPLY_ROLE  the role to assume in each account for writing (default: [aws] assume-role)
#   DRY_RUN     "true": read live IAM and print what would be written; write and push nothing
#   REPOKID, REPOKID_NOW: see lib.sh
source "$(dirname "$0")/lib.sh"

ids=$(accounts_from "${ACCOUNTS:?set ACCOUNTS to the account ids of this batch}")
dry_run=${DRY_RUN:-false}

resolve_repokid
git_identity

group "fetch what was applied (refs/repokid/*)"
git fetch --no-tags origin '+refs/repokid/*:refs/repokid/*'
endgroup

if branch=$(git symbolic-ref -q --short HEAD); then
  git fetch -q --no-tags origin "+refs/heads/$branch:refs/remotes/origin/$branch"
  if ! git merge-base --is-ancestor "refs/remotes/origin/$branch" HEAD; then
    echo "origin/$branch has moved past $(git rev-parse --short HEAD): the run for the newer commit applies it; nothing done here"
    summary "repokid apply: skipped, origin/$branch has a newer commit"
    exit 0
  fi
fi

args=(apply)
if [ "$dry_run" != "true" ]; then args+=(--commit); fi
if [ -n "${APPLY_ROLE:-}" ]; then args+=(--assume-role "$APPLY_ROLE"); fi
for account in $ids; do args+=(--account "$account"); done

status=0
rk "${args[@]}" || status=$?

if [ "$dry_run" != "true" ]; then
  refs=()
  for account in $ids; do
    ref="refs/repokid/applied/$account"
    if git rev-parse -q --verify "$ref" >/dev/null; then refs+=("$ref"); fi
  done
  if [ ${#refs[@]} -gt 0 ]; then
    group "record what was applied: push ${refs[*]}"
    git push origin "${refs[@]}" || { log "error: pushing the applied refs failed"; status=1; }
    endgroup
  fi
fi
exit "$status"
