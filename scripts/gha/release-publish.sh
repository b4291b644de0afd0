#!/usr/bin/env bash
# release.yml, job publish: SHA256SUMS over the binaries the build jobs made (each already has its
# build-provenance attestation), then the GitHub release for TAG with the binaries, SHA256SUMS and,
# in its notes, the repokid.lock that pins it (docs/setup.md, "Pinning a release").
#
# Environment:
#   TAG       the tag being released, e.g. v0.2.0 (required)
#   DIST      the directory holding repokid-<target> for every release target (default dist)
#   GH_TOKEN  token the gh CLI creates the release with (contents: write; never printed)
#   DRY_RUN   "true": write SHA256SUMS and the notes, print them, publish nothing
#   GITHUB_REPOSITORY  owner/name, set by Actions (the lock's `repository`)
source "$(dirname "$0")/lib.sh"

tag=${TAG:?set TAG to the tag being released}
dist=${DIST:-dist}
version=${tag#v}
targets=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl)

# Exactly the expected files: a missing target, or anything else in DIST, stops the release.
for t in "${targets[@]}"; do
  [ -f "$dist/repokid-$t" ] || die "$dist/repokid-$t is missing: every target's build must succeed"
done
extra=$(find "$dist" -mindepth 1 -maxdepth 1 ! -name 'repokid-*-unknown-linux-musl' ! -name SHA256SUMS ! -name NOTES.md)
[ -z "$extra" ] || die "unexpected files in $dist: $extra"

(cd "$dist" && sha256sum "${targets[@]/#/repokid-}" > SHA256SUMS)
notes=$dist/NOTES.md
{
  echo "Static Linux binaries (musl) with build-provenance attestations. Check one with"
  echo "\`gh attestation verify repokid-x86_64-unknown-linux-musl --repo ${GITHUB_REPOSITORY:-OWNER/REPO}\`."
  echo
  echo "To run this release in the workflows instead of building repokid, commit this as \`repokid.lock\`:"
  echo
  echo '```toml'
  echo "version = \"$version\""
  echo "repository = \"${GITHUB_REPOSITORY:-OWNER/REPO}\""
  echo
  echo "[sha256]"
  while read -r sum file; do echo "${file#repokid-} = \"$sum\""; done < "$dist/SHA256SUMS"
  echo '```'
} > "$notes"
cat "$dist/SHA256SUMS"
cat "$notes"

if [ "${DRY_RUN:-false}" = "true" ]; then
  log "dry run: release $tag not published"
  exit 0
fi
gh release create "$tag" --verify-tag --title "repokid $version" --notes-file "$notes" \
  "${targets[@]/#/$dist/repokid-}" "$dist/SHA256SUMS"
summary "repokid $version released: $(tr '\n' ' ' < "$dist/SHA256SUMS")"
