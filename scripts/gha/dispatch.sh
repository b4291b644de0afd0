#!/usr/bin/env bash
# dispatch.yml: answer the `/repokid …` commands of an issue or pull-request comment (show,
# opt-out, remove-opt-out, rollback, help), one reply each. Run in a checkout of the default
# branch (full history), never of pull-request code: the comment is untrusted input and reaches
# repokid only through the event file.
#
# Environment:
#   GITHUB_EVENT_PATH  the issue_comment event (set by Actions)
#   GITHUB_TOKEN       token for replies, pushes and pull requests (never printed)
#   REPOKID: see lib.sh
source "$(dirname "$0")/lib.sh"

event=${GITHUB_EVENT_PATH:?GITHUB_EVENT_PATH must name the issue_comment event}
resolve_repokid
git_identity
rk dispatch --event "$event"
