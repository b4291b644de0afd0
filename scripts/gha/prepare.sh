#!/usr/bin/env bash
# The first job of propose.yml and apply.yml: build (or find) repokid, and cut the accounts into
# batches for the matrix that follows. Run in the policy repository's checkout.
#
# Environment:
#   BATCH_SIZE  accounts per matrix job (default 10; raised when more than 256 jobs would be needed)
#   ACCOUNTS    only these accounts (space or comma separated; default: `accounts` in
#               repokid.toml, else the account directories under policies/)
#   PENDING     "true": only accounts with something to apply (refs/repokid/applied/* are
#               fetched from origin first); the job summary lists them with the commit last
#               applied to each (the catch-up report of apply.yml's scheduled runs)
#   REPOKID, REPOKID_NOW: see lib.sh
# Outputs (step outputs in Actions, NAME=VALUE lines on stdout elsewhere):
#   batches     JSON array of arrays of account ids, for strategy.matrix
#   count       how many accounts in all (0: nothing to do)
source "$(dirname "$0")/lib.sh"

resolve_repokid

args=(accounts --format json --batch-size "${BATCH_SIZE:-10}")
ids=$(accounts_from "${ACCOUNTS:-}")
for a in $ids; do args+=(--account "$a"); done

if [ "${PENDING:-false}" = "true" ]; then
  group "fetch what was applied (refs/repokid/*)"
  git fetch --no-tags origin '+refs/repokid/*:refs/repokid/*'
  endgroup
  args+=(--pending)
fi

doc=$(rk "${args[@]}")
batches=$(python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["batches"], separators=(",", ":")))' <<<"$doc")
count=$(python3 -c 'import json, sys; print(sum(len(b) for b in json.load(sys.stdin)))' <<<"$batches")

output batches "$batches"
output count "$count"
if [ "${PENDING:-false}" = "true" ]; then
  behind=$(python3 -c '
import json, sys
doc = json.load(sys.stdin)
rows = doc.get("pending", [])
rev = doc.get("rev", "")[:10]
if not rows:
    print(f"Nothing to apply: refs/repokid/applied/* hold what {rev} holds for every account.")
else:
    print(f"### Accounts behind {rev} (policies/ACCOUNT differs from refs/repokid/applied/ACCOUNT)\n")
    print("| Account | Last applied |\n|---|---|")
    for r in rows:
        print("| %s | %s |" % (r["account"], (r["applied"] or "never")[:10]))
' <<<"$doc")
  printf '%s\n' "$behind"
  summary "$behind" ""
fi
summary "repokid: $count account(s) in $(python3 -c 'import json, sys; print(len(json.load(sys.stdin)))' <<<"$batches") batch(es)"
