//! A smart-HTTP git server for tests: spawns tests/servers/git_http_server.py (`git
//! http-backend` behind HTTP Basic auth with one accepted token) on a free loopback port.
//!
//! The server exits when its stdin closes: when the [`GitServer`] is dropped (it is also killed
//! then), or when the test process ends, so no test leaves it behind.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running git_http_server.py.
pub struct GitServer {
    child: Child,
    _stdin: ChildStdin,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    /// The directory whose `<name>.git` repositories it serves.
    pub root: PathBuf,
    log: PathBuf,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl GitServer {
    /// Starts a server that accepts `Authorization: Basic base64(<any user>:<token>)` only.
    pub fn start(token: &str) -> GitServer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/git_http_server.py");
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let log = dir.path().join("requests.jsonl");
        let stderr = dir.path().join("stderr.log");
        // Port 0: the server binds a free port and prints it; no race with other tests.
        let mut child = Command::new("python3")
            .arg(&script)
            .arg("0")
            .arg(&root)
            .args(["--token", token, "--log"])
            .arg(&log)
            .arg("--exit-on-stdin-eof")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // A file, not a pipe: nobody drains a pipe, and a full one would stall the server.
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run python3: {e}"));
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let port = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(port) = line.strip_prefix("READY ") {
                        break port.trim().parse().unwrap();
                    }
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "git_http_server.py did not print READY ({e:?}); its stderr:\n{}",
                        std::fs::read_to_string(&stderr).unwrap_or_default()
                    );
                }
            }
        };
        GitServer {
            child,
            _stdin: stdin,
            port,
            root,
            log,
            stderr,
            _dir: dir,
        }
    }

    /// A new bare repository `<name>.git` (branch `main`) that accepts pushes: its path and URL.
    pub fn bare_repo(&self, name: &str) -> (PathBuf, String) {
        let path = self.root.join(format!("{name}.git"));
        let out = Command::new("git")
            .args(["init", "-q", "--bare", "-b", "main"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git init --bare: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        super::git(&path, &["config", "http.receivepack", "true"]);
        (path, self.url(name))
    }

    /// The URL of `<name>.git`.
    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}.git", self.port)
    }

    /// The raw request log: one JSON object per line, `Authorization` redacted.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The logged requests (method, path with query, lower-case headers) for `<name>.git`.
    pub fn requests(&self, name: &str) -> Vec<serde_json::Value> {
        let prefix = format!("/{name}.git/");
        self.log_text()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|r| r["path"].as_str().unwrap_or_default().starts_with(&prefix))
            .collect()
    }

    /// What the server (and `git http-backend`) wrote to stderr so far.
    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
