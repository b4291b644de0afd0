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
# A merge queue runs the same check on each merge group (the `merge_group` event): then the
# group's head commit is judged against the group's base commit (merge_group.head_sha and
# .base_sha in $GITHUB_EVENT_PATH; PR_DIR is a checkout of the head, trusted/ of the base), with
# the labels of the pull request the group was made for (its number is in merge_group.head_ref,
# gh-readonly-queue/<branch>/pr-<number>-<sha>), read through the API with GITHUB_TOKEN.
#
# Environment:
#   BASE_REF      the branch the pull request targets, e.g. main (required, except for a merge
#                 group)
#   HEAD_REF      the pull request's head revision (default HEAD)
#   PR_DIR        the pull request's checkout (default: the current directory, for local runs)
#   LABELS        the pull request's labels, comma separated (default: from $GITHUB_EVENT_PATH;
#                 for a merge group, from the API)
#   GITHUB_TOKEN  read-only token for a merge group's pull request labels (never printed;
#                 GITHUB_API_URL, set by Actions, says where the API is)
#   REPOKID       see lib.sh; here it must be an absolute path outside PR_DIR (else refused)
#   REPOKID_CARGO: see lib.sh
source "$(dirname "$0")/lib.sh"

# A merge group's base, head and pull request number, from the event ("" for a pull request).
group=""
if [ -n "${GITHUB_EVENT_PATH:-}" ] && [ -f "$GITHUB_EVENT_PATH" ]; then
  group=$(python3 -c '
import json, re, sys
g = json.load(open(sys.argv[1])).get("merge_group") or {}
if g:
    sha = re.compile(r"[0-9a-f]{40}")
    base, head = g.get("base_sha", ""), g.get("head_sha", "")
    if not (sha.fullmatch(base) and sha.fullmatch(head)):
        sys.exit("merge_group event without a base_sha and head_sha")
    number = re.search(r"/pr-([0-9]+)-", g.get("head_ref", ""))
    print(base, head, number.group(1) if number else "")' "$GITHUB_EVENT_PATH") \
    || die "cannot read the merge group from $GITHUB_EVENT_PATH"
fi
if [ -n "$group" ]; then
  read -r base head_ref group_pr <<<"$group"
else
  base_ref=${BASE_REF:?set BASE_REF to the branch the pull request targets}
  head_ref=${HEAD_REF:-HEAD}
  base="refs/remotes/origin/$base_ref"
fi
pr_dir=$(cd "${PR_DIR:-.}" && pwd) || die "PR_DIR: no such directory: ${PR_DIR:-.}"

# Refuse a binary from the checkout before reading anything. Then work from the trusted tree, so
# that nothing keyed on the working directory (rust-toolchain.toml, .cargo/config.toml) comes
# from the pull request; git and repokid reach the checkout by path.
repokid_outside "$pr_dir"

# pr_labels NUMBER: the pull request's labels, comma separated, through the API (read only).
pr_labels() {
  [ -n "${GITHUB_TOKEN:-}" ] || { log "no GITHUB_TOKEN to read labels with"; return 1; }
  python3 - "$1" "$GITHUB_EVENT_PATH" <<'PY'
import json, os, sys, urllib.request
repo = json.load(open(sys.argv[2]))["repository"]["full_name"]
api = os.environ.get("GITHUB_API_URL") or "https://api.github.com"
req = urllib.request.Request(
    f"{api}/repos/{repo}/issues/{sys.argv[1]}/labels?per_page=100",
    headers={"Authorization": "Bearer " + os.environ["GITHUB_TOKEN"],
             "Accept": "application/vnd.github+json"})
try:
    with urllib.request.urlopen(req, timeout=30) as r:
        print(",".join(l["name"] for l in json.load(r)))
except Exception as e:  # the message names the URL and status, never the token
    sys.exit(f"GET {req.full_url}: {e}")
PY
}
cd "$gha_root" || die "cannot enter $gha_root"
pr_git() { git -C "$pr_dir" "$@"; }

if [ -n "$group" ]; then
  # The group's head descends from its base: a checkout of the head with its history has it.
  pr_git rev-parse -q --verify "$base^{commit}" >/dev/null \
    || pr_git fetch -q --no-tags origin "$base" \
    || die "the merge group's base $base is not in $pr_dir"
  if [ -z "${LABELS:-}" ] && [ -n "$group_pr" ]; then
    LABELS=$(pr_labels "$group_pr") \
      || { log "warning: cannot read the labels of pull request #$group_pr; assuming none"; LABELS=""; }
    echo "merge group of pull request #$group_pr, labels: ${LABELS:-none}"
  fi
elif ! pr_git rev-parse -q --verify "$base^{commit}" >/dev/null; then
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
