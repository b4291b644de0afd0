"""moto's server (IAM + STS) with the Access Advisor calls moto lacks.

GenerateServiceLastAccessedDetails / GetServiceLastAccessedDetails answer from data seeded over HTTP:

    POST /_aa/seed {"<role arn>": [ {"ServiceNamespace": "s3", "ServiceName": "Amazon S3",
                                     "LastAuthenticated": "2026-11-10T00:00:00Z",
                                     "TrackedActionsLastAccessed": [...]}, ... ]}
    POST /_aa/seed {"<role arn>": {"JobStatus": "FAILED", "Message": "why"}}   # a failing job

Every job reports IN_PROGRESS on its first poll (so clients must poll), and results are paged by
MaxItems/Marker like IAM's. With --exit-on-stdin-eof the server stops when its parent closes stdin,
so a test process that spawned it never leaves it behind.

Relies on moto 5.x internals (ActionResult, DomainDispatcherApplication): keep moto pinned.
"""

import datetime
import json
import os
import sys
import threading
import uuid

from moto.core.responses import ActionResult
from moto.iam.exceptions import NotFoundException
from moto.iam.responses import IamResponse

AA, JOBS = {}, {}
# Per-account clocks (POST /_aa/clock {"account": ID, "now": RFC 3339}): jobs for that account's
# roles complete at that instant, so a test can replay nights without the data going stale.
# Per account, because one server serves many tests at once.
CLOCKS = {}


def _date(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _generate(self):
    job = str(uuid.uuid4())
    arn = self._get_param("Arn") or ""
    parts = arn.split(":")
    account = parts[4] if len(parts) > 4 else ""
    JOBS[job] = {
        "arn": arn,
        "granularity": self._get_param("Granularity", "SERVICE_LEVEL"),
        "created": CLOCKS.get(account, datetime.datetime.now(datetime.timezone.utc)),
        "polls": 0,
    }
    return ActionResult({"JobId": job})


def _service(entry, arn, granularity):
    s = {
        "ServiceName": entry["ServiceName"],
        "ServiceNamespace": entry["ServiceNamespace"],
        "TotalAuthenticatedEntities": entry.get("TotalAuthenticatedEntities", 0),
    }
    if entry.get("LastAuthenticated"):
        s["LastAuthenticated"] = _date(entry["LastAuthenticated"])
        s["LastAuthenticatedEntity"] = arn
        s["LastAuthenticatedRegion"] = entry.get("LastAuthenticatedRegion", "us-east-1")
    if granularity == "ACTION_LEVEL" and "TrackedActionsLastAccessed" in entry:
        actions = []
        for a in entry["TrackedActionsLastAccessed"]:
            out = {"ActionName": a["ActionName"]}
            if a.get("LastAccessedTime"):
                out["LastAccessedTime"] = _date(a["LastAccessedTime"])
                out["LastAccessedEntity"] = arn
                out["LastAccessedRegion"] = a.get("LastAccessedRegion", "us-east-1")
            actions.append(out)
        s["TrackedActionsLastAccessed"] = actions
    return s


def _get(self):
    job_id = self._get_param("JobId")
    if job_id not in JOBS:
        raise NotFoundException(f"JobId {job_id} not found")
    job = JOBS[job_id]
    job["polls"] += 1
    base = {"JobType": job["granularity"], "JobCreationDate": job["created"]}
    if job["polls"] == 1:
        return ActionResult(dict(base, JobStatus="IN_PROGRESS", ServicesLastAccessed=[]))
    seeded = AA.get(job["arn"], [])
    if isinstance(seeded, dict) and seeded.get("JobStatus") == "FAILED":
        return ActionResult(
            dict(base, JobStatus="FAILED", JobCompletionDate=job["created"], ServicesLastAccessed=[],
                 Error={"Message": seeded.get("Message", "failed"), "Code": "FAILED"})
        )
    services = [_service(e, job["arn"], job["granularity"]) for e in seeded]
    start = int(self._get_param("Marker") or 0)
    size = int(self._get_param("MaxItems") or 100)
    page = services[start : start + size]
    out = dict(base, JobStatus="COMPLETED", JobCompletionDate=job["created"], ServicesLastAccessed=page,
               IsTruncated=start + size < len(services))
    if out["IsTruncated"]:
        out["Marker"] = str(start + size)
    return ActionResult(out)


IamResponse.generate_service_last_accessed_details = _generate
IamResponse.get_service_last_accessed_details = _get

import moto.server as ms  # noqa: E402
from moto.moto_server.werkzeug_app import DomainDispatcherApplication  # noqa: E402

_orig = DomainDispatcherApplication.__call__


def _call(self, environ, start_response):
    if environ.get("PATH_INFO") == "/_aa/seed" and environ["REQUEST_METHOD"] == "POST":
        AA.update(json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))))
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"seeded": len(AA)}).encode()]
    if environ.get("PATH_INFO") == "/_aa/clock" and environ["REQUEST_METHOD"] == "POST":
        body = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
        CLOCKS[body["account"]] = _date(body["now"])
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"clock": body}).encode()]
    return _orig(self, environ, start_response)


DomainDispatcherApplication.__call__ = _call


def _exit_on_stdin_eof():
    sys.stdin.read()
    os._exit(0)


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--exit-on-stdin-eof" in args:
        args.remove("--exit-on-stdin-eof")
        threading.Thread(target=_exit_on_stdin_eof, daemon=True).start()
    ms.main(args)
