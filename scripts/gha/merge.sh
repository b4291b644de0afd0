#!/usr/bin/env bash
# propose.yml, job merge-due: keep every scheduled pull request's repokid/schedule status
# current, and merge those that are due, approved and mergeable (Repokid's repo_scheduled_roles).
# Each is re-checked first with fresh usage, from the sources repokid.toml names (so this job
# takes the read-only AWS credentials propose has) and the full history of this checkout: only
# what its branch announced can go, and what was used during the notice period stays (a commit
# on its branch and a comment say so; it merges on a later run). A due pull request that cannot
# be re-checked is not merged and fails the job.
# Merges made with the workflow's own GITHUB_TOKEN start no push workflow, so when anything was
# merged, apply.yml is started explicitly (workflow_dispatch) on the base branch.
#
# Environment:
#   GITHUB_TOKEN    token for the GitHub API: statuses, reviews, merges (never printed)
#   GH_TOKEN        token the gh CLI starts apply.yml with (the job's own token, actions: write)
#   BASE_BRANCH     the protected branch (default main)
#   APPLY_WORKFLOW  the workflow to start after a merge (default apply.yml; "" to start none)
#   REPOKID: see lib.sh
source "$(dirname "$0")/lib.sh"

resolve_repokid
status=0
doc=$(rk repo-scheduled-roles --commit --format json) || status=$?
printf '%s\n' "$doc"
[ -n "$doc" ] || die "repo-scheduled-roles failed (exit $status), see above"
read -r merged updated <<<"$(python3 -c '
import json, sys
rows = json.load(sys.stdin)["results"]
count = lambda s: sum(1 for r in rows if r["result"].get("state") == s)
print(count("merged"), count("updated"))' <<<"$doc")"
summary "repokid repo-scheduled-roles: $merged pull request(s) merged, $updated updated to keep what was used since the announcement"

workflow=${APPLY_WORKFLOW-apply.yml}
if [ "$merged" -gt 0 ] && [ -n "$workflow" ]; then
  gh workflow run "$workflow" --ref "${BASE_BRANCH:-main}"
  echo "started $workflow on ${BASE_BRANCH:-main}"
fi
if [ "$status" -ne 0 ]; then
  die "repo-scheduled-roles failed (exit $status): a due pull request could not be re-checked, see above"
fi
