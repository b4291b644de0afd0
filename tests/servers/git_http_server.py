"""Smart-HTTP git server for tests: `git http-backend` behind HTTP Basic auth, stdlib only.

    python3 git_http_server.py PORT ROOT --token TOKEN [--log FILE] [--exit-on-stdin-eof]

Serves the repositories under ROOT (e.g. ROOT/policies.git, created with `git init --bare` and
`git config http.receivepack true` so pushes are accepted) at http://127.0.0.1:PORT/<name>.git.
Every request must carry `Authorization: Basic base64(<any user>:TOKEN)`; otherwise the answer is
401 with `WWW-Authenticate: Basic realm="git"`.

PORT 0 picks a free port. Prints `READY <port>` on stdout once the socket accepts connections.
With --log FILE each request is appended to FILE as one JSON object per line (method, path with
query, headers with lower-case names) with the Authorization header REDACTED, so a test can
check what a client sent.
With --exit-on-stdin-eof the server stops when its parent closes stdin, so a test process that
spawned it never leaves it behind.
"""

import argparse
import base64
import binascii
import hmac
import http.server
import json
import os
import subprocess
import sys
import threading


def _exit_on_stdin_eof():
    sys.stdin.read()
    os._exit(0)


def make_handler(root, token, log_file, log_lock):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # noqa: A002 - the base class's signature
            sys.stderr.write("git_http_server: " + (format % args) + "\n")

        def _log_request(self):
            if log_file is None:
                return
            headers = {
                k.lower(): ("REDACTED" if k.lower() == "authorization" else v)
                for k, v in self.headers.items()
            }
            entry = {"method": self.command, "path": self.path, "headers": headers}
            with log_lock, open(log_file, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")

        def _read_body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                body = b""
                while True:
                    n = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if n == 0:
                        # Trailers (none expected) end with an empty line.
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return body
                    body += self.rfile.read(n)
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _authorized_user(self):
            auth = self.headers.get("Authorization", "")
            if not auth.startswith("Basic "):
                return None
            try:
                user, _, password = base64.b64decode(auth[6:], validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None
            if not hmac.compare_digest(password.encode(), token.encode()):
                return None
            return user or "anonymous"

        def _reply(self, status, headers, payload):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _run(self):
            self._log_request()
            body = self._read_body()  # always drained, so the connection stays usable
            user = self._authorized_user()
            if user is None:
                self._reply(401, [("WWW-Authenticate", 'Basic realm="git"')], b"")
                return
            path, _, qs = self.path.partition("?")
            env = dict(
                os.environ,
                GIT_PROJECT_ROOT=root,
                GIT_HTTP_EXPORT_ALL="1",
                PATH_INFO=path,
                QUERY_STRING=qs,
                REQUEST_METHOD=self.command,
                CONTENT_TYPE=self.headers.get("Content-Type", ""),
                REMOTE_USER=user,
                REMOTE_ADDR=self.client_address[0],
                CONTENT_LENGTH=str(len(body)),
                HTTP_CONTENT_ENCODING=self.headers.get("Content-Encoding", ""),
                GIT_PROTOCOL=self.headers.get("Git-Protocol", ""),
            )
            proc = subprocess.run(
                ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
            )
            if proc.stderr:
                sys.stderr.write(proc.stderr.decode(errors="replace"))
            head, _, payload = proc.stdout.partition(b"\r\n\r\n")
            status, headers = 200, []
            for line in head.split(b"\r\n"):
                k, _, v = line.decode().partition(": ")
                if k.lower() == "status":
                    status = int(v.split()[0])
                elif k:
                    headers.append((k, v))
            self._reply(status, headers, payload)

        do_GET = _run
        do_POST = _run

    return Handler


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # tests running in parallel connect at once


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("root")
    parser.add_argument("--token", required=True)
    parser.add_argument("--log")
    parser.add_argument("--exit-on-stdin-eof", action="store_true")
    args = parser.parse_args()

    if args.exit_on_stdin_eof:
        threading.Thread(target=_exit_on_stdin_eof, daemon=True).start()
    handler = make_handler(os.path.abspath(args.root), args.token, args.log, threading.Lock())
    server = Server(("127.0.0.1", args.port), handler)
    print(f"READY {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
