#!/usr/bin/env bash
# propose.yml, job merge-due: keep every scheduled pull request's repokid/schedule status
# current, and merge those that are due, approved and mergeable (Repokid's repo_scheduled_roles).
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
doc=$(rk repo-scheduled-roles --commit --format json)
printf '%s\n' "$doc"
merged=$(python3 -c '
import json, sys
rows = json.load(sys.stdin)["results"]
print(sum(1 for r in rows if r["result"].get("state") == "merged"))' <<<"$doc")
summary "repokid repo-scheduled-roles: $merged pull request(s) merged"

workflow=${APPLY_WORKFLOW-apply.yml}
if [ "$merged" -gt 0 ] && [ -n "$workflow" ]; then
  gh workflow run "$workflow" --ref "${BASE_BRANCH:-main}"
  echo "started $workflow on ${BASE_BRANCH:-main}"
fi
