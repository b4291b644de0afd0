#!/usr/bin/env bash
# release.yml, job build (one per target): the static Linux binary of the tagged tree for TARGET,
# as DIST/repokid-TARGET. Each target builds on a runner of its own architecture, so the only
# toolchain pieces needed are the target's standard library (rustup) and musl's C compiler
# (musl-tools, for the C in libgit2 and aws-lc).
#
# Refused before any build: an unknown target, or a tag that is not v<the version in
# Cargo.toml> (a release must be what its name says). Refused after it: a binary that is not
# statically linked, or that does not say the tag's version.
#
# Environment:
#   TARGET  x86_64-unknown-linux-musl or aarch64-unknown-linux-musl (required)
#   TAG     the tag being released, e.g. v0.2.0 (required)
#   DIST    where the binary goes (default dist)
#   REPOKID_CARGO: see lib.sh (set, the hosted runner's setup is skipped)
source "$(dirname "$0")/lib.sh"

target=${TARGET:?set TARGET to the Rust target to build}
tag=${TAG:?set TAG to the tag being released}
dist=${DIST:-dist}

case "$target" in
  x86_64-unknown-linux-musl | aarch64-unknown-linux-musl) ;;
  *) die "not a release target: '$target' (x86_64-unknown-linux-musl, aarch64-unknown-linux-musl)" ;;
esac
version=$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["package"]["version"])' "$gha_root/Cargo.toml")
[ "$tag" = "v$version" ] || die "tag $tag is not v$version, the version in Cargo.toml: bump Cargo.toml or tag v$version"

cd "$gha_root"
if [ -z "${REPOKID_CARGO:-}" ]; then
  group "toolchain: stable, the $target standard library, musl-gcc"
  ensure_toolchain
  if in_actions; then
    rustup target add "$target" >&2
    sudo apt-get install -y --no-install-recommends musl-tools >&2
  fi
  endgroup
fi

group "build repokid $version for $target"
# musl's C compiler for the target's C code only (build scripts keep the host's); Rust links the
# static binary itself. Stripped: the release profile's line tables make a 179 MB binary.
env "CC_${target//-/_}=musl-gcc" CARGO_PROFILE_RELEASE_STRIP=symbols \
  "${REPOKID_CARGO:-cargo}" build --release --locked --target "$target"
endgroup

mkdir -p "$dist"
out=$dist/repokid-$target
cp "target/$target/release/repokid" "$out"

# Static: no program interpreter, no shared library (a musl static-pie has a dynamic section
# but needs nothing).
headers=$(readelf -lW "$out" 2>&1) || die "$out is not an ELF binary: $headers"
if grep -q 'program interpreter' <<<"$headers" || readelf -dW "$out" 2>/dev/null | grep -q '(NEEDED)'; then
  die "$out is not statically linked:"$'\n'"$(readelf -dW "$out" | grep NEEDED || true)"
fi
said=$("$out" --version)
[ "$said" = "repokid $version" ] || die "$out --version says '$said', not 'repokid $version'"

sha256sum "$out"
summary "repokid $version for $target: $(sha256sum "$out" | cut -d' ' -f1)"
