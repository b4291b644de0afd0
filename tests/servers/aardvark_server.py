"""Aardvark 0.4.1's real API (the Flask app, its models and its /api/1/advisors view), on a fresh
sqlite database seeded from a JSON file, for tests of repokid's Aardvark client.

    python aardvark_server.py PORT SEED_JSON_FILE [--last-updated 2026-11-21T23:21:28] [--exit-on-stdin-eof]

SEED_JSON_FILE maps role ARNs to Access Advisor entries, as Aardvark's updater stores them:

    {"arn:aws:iam::123456789012:role/app-a": [
        {"serviceNamespace": "s3", "serviceName": "Amazon S3",
         "lastAuthenticated": 1794871288219, "totalAuthenticatedEntities": 1},
        {"serviceNamespace": "sqs", "serviceName": "Amazon SQS", "lastAuthenticated": 0}],
     "arn:aws:iam::123456789012:role/no-data": []}

lastAuthenticated is epoch milliseconds, 0 for never. Every role's lastUpdated (the item's refresh
time, answered as an HTTP date) is --last-updated (naive UTC, ISO 8601) or the current time.

Prints `READY <port>` on stdout once the socket accepts connections. With --exit-on-stdin-eof the
server stops when its parent closes stdin, so a test process that spawned it never leaves it behind.
Needs the venv scripts/test-env builds (target/test-env/aardvark).
"""

import argparse
import datetime
import json
import logging
import os
import shutil
import sys
import tempfile
import threading

from werkzeug.serving import make_server

from aardvark.app import create_app, db
from aardvark.model import AdvisorData, AWSIAMObject


def _exit_on_stdin_eof(tmp):
    sys.stdin.read()
    shutil.rmtree(tmp, ignore_errors=True)
    os._exit(0)


def _seed(app, seed, last_updated):
    with app.app_context():
        db.create_all()
        for arn, entries in seed.items():
            item = AWSIAMObject(arn=arn, lastUpdated=last_updated or datetime.datetime.utcnow())
            db.session.add(item)
            db.session.flush()
            for e in entries:
                last = int(e.get("lastAuthenticated", 0))
                db.session.add(
                    AdvisorData(
                        item_id=item.id,
                        serviceNamespace=e["serviceNamespace"],
                        serviceName=e.get("serviceName", e["serviceNamespace"]),
                        lastAuthenticated=last,
                        lastAuthenticatedEntity=arn if last else None,
                        totalAuthenticatedEntities=e.get("totalAuthenticatedEntities", 1 if last else 0),
                    )
                )
        db.session.commit()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("seed")
    parser.add_argument("--last-updated", type=datetime.datetime.fromisoformat, default=None)
    parser.add_argument("--exit-on-stdin-eof", action="store_true")
    args = parser.parse_args()
    with open(args.seed) as f:
        seed = json.load(f)
    tmp = tempfile.mkdtemp(prefix="aardvark-test-")
    if args.exit_on_stdin_eof:
        threading.Thread(target=_exit_on_stdin_eof, args=(tmp,), daemon=True).start()
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": "sqlite:///" + os.path.join(tmp, "aardvark.db"),
            "SQLALCHEMY_TRACK_MODIFICATIONS": False,
        }
    )
    _seed(app, seed, args.last_updated)

    # One line per request on stderr is noise; errors still go there.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", args.port, app, threaded=True)  # bound and listening here
    print(f"READY {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
