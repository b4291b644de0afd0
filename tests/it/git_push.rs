//! `repokid::github::push` against `git http-backend` behind HTTP Basic auth
//! (tests/servers/git_http_server.py), over plain http on loopback: the same subtransport code
//! as https, minus TLS.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

use git2::{Oid, Repository, Signature};
use repokid::github::push::{PushError, push};

/// The token the shared server accepts.
const TOKEN: &str = "ghs_T3stT0ken_do_not_leak_4f9a";

/// A running git_http_server.py. It exits when its stdin closes: when dropped, or when the test
/// process ends (the shared server is never dropped).
struct Server {
    child: Child,
    _stdin: ChildStdin,
    port: u16,
    root: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(token: &str) -> Server {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/git_http_server.py");
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let log = dir.path().join("requests.jsonl");
        let stderr_file = dir.path().join("stderr.log");
        // Port 0: the server binds a free port and tells which; no race with other tests.
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
            .stderr(std::fs::File::create(&stderr_file).unwrap())
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
                        std::fs::read_to_string(&stderr_file).unwrap_or_default()
                    );
                }
            }
        };
        Server {
            child,
            _stdin: stdin,
            port,
            root,
            log,
            _dir: dir,
        }
    }

    /// A new bare repository `<name>.git` that accepts pushes, and its URL.
    fn repo(&self, name: &str) -> (PathBuf, String) {
        let path = self.root.join(format!("{name}.git"));
        let bare = Repository::init_bare(&path).unwrap();
        bare.config()
            .unwrap()
            .set_bool("http.receivepack", true)
            .unwrap();
        (path, format!("http://127.0.0.1:{}/{name}.git", self.port))
    }

    /// The logged requests whose path starts with `/<name>.git/`.
    fn requests(&self, name: &str) -> Vec<serde_json::Value> {
        let prefix = format!("/{name}.git/");
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            // Other tests' requests may be mid-write: a partial last line is not ours anyway.
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|r| r["path"].as_str().unwrap().starts_with(&prefix))
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One server for the whole test binary, accepting [`TOKEN`].
fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| Server::start(TOKEN))
}

/// A local repository, in a temporary directory.
fn local_repo() -> (tempfile::TempDir, Repository) {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init(dir.path()).unwrap();
    (dir, repo)
}

/// Commits `files` (path → content, a flat tree) on `refs/heads/<branch>` with `parent` (or the
/// branch's tip when `None` and it exists) and moves the branch there.
fn commit(
    repo: &Repository,
    branch: &str,
    parent: Option<Oid>,
    files: &[(&str, &str)],
    message: &str,
) -> Oid {
    let refname = format!("refs/heads/{branch}");
    let parent = parent.or_else(|| repo.refname_to_id(&refname).ok());
    let mut tree = repo.treebuilder(None).unwrap();
    for (name, content) in files {
        let blob = repo.blob(content.as_bytes()).unwrap();
        tree.insert(name, blob, 0o100_644).unwrap();
    }
    let tree = repo.find_tree(tree.write().unwrap()).unwrap();
    let sig = Signature::now("repokid test", "test@example.com").unwrap();
    let parents: Vec<_> = parent
        .map(|p| repo.find_commit(p).unwrap())
        .into_iter()
        .collect();
    let parent_refs: Vec<_> = parents.iter().collect();
    let oid = repo
        .commit(None, &sig, &sig, message, &tree, &parent_refs)
        .unwrap();
    repo.reference(&refname, oid, true, message).unwrap();
    oid
}

fn spec(branch: &str) -> String {
    format!("refs/heads/{branch}:refs/heads/{branch}")
}

fn remote_tip(bare: &Path, branch: &str) -> Option<Oid> {
    Repository::open_bare(bare)
        .unwrap()
        .refname_to_id(&format!("refs/heads/{branch}"))
        .ok()
}

fn assert_no_token(what: &str) {
    assert!(!what.contains(TOKEN), "the token leaked into: {what}");
}

/// The push error, checked for the token in both its message and its `Debug`.
fn push_err(repo: &Repository, url: &str, refspecs: &[&str], token: &str) -> PushError {
    let err = push(repo, url, refspecs, token).unwrap_err();
    assert_no_token(&err.to_string());
    assert_no_token(&format!("{err:?}"));
    assert!(!err.to_string().contains(token), "{err}");
    err
}

#[test]
fn pushes_a_new_branch_then_a_fast_forward() {
    let server = server();
    let (bare, url) = server.repo("new-branch");
    let (_dir, repo) = local_repo();
    let branch = "repokid/propose/1111";
    commit(&repo, branch, None, &[("a.json", "{}\n")], "first");
    let second = commit(
        &repo,
        branch,
        None,
        &[("a.json", "{}\n"), ("b.json", "[]\n")],
        "second",
    );

    push(&repo, &url, &[&spec(branch)], TOKEN).unwrap();
    assert_eq!(remote_tip(&bare, branch), Some(second));

    // What a reviewer would check out: both files, two commits.
    let clone = tempfile::tempdir().unwrap();
    let status = Command::new("git")
        .args(["clone", "-q", "-b", branch])
        .arg(&bare)
        .arg(clone.path().join("c"))
        .status()
        .unwrap();
    assert!(status.success());
    let checkout = clone.path().join("c");
    assert_eq!(
        std::fs::read_to_string(checkout.join("a.json")).unwrap(),
        "{}\n"
    );
    assert_eq!(
        std::fs::read_to_string(checkout.join("b.json")).unwrap(),
        "[]\n"
    );
    let count = Command::new("git")
        .arg("-C")
        .arg(&checkout)
        .args(["rev-list", "--count", "HEAD"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&count.stdout).trim(), "2");

    let third = commit(&repo, branch, None, &[("a.json", "{\"v\":3}\n")], "third");
    push(&repo, &url, &[&spec(branch)], TOKEN).unwrap();
    assert_eq!(remote_tip(&bare, branch), Some(third));
}

#[test]
fn non_fast_forward_is_rejected_naming_the_ref_unless_forced() {
    let server = server();
    let (bare, url) = server.repo("non-ff");
    let (_dir, repo) = local_repo();
    let branch = "repokid/propose/2222";
    let base = commit(&repo, branch, None, &[("a.json", "1")], "base");
    let pushed = commit(&repo, branch, None, &[("a.json", "2")], "pushed");
    push(&repo, &url, &[&spec(branch)], TOKEN).unwrap();

    // Rewrite the branch: a sibling of the pushed commit.
    let rewritten = commit(&repo, branch, Some(base), &[("a.json", "3")], "rewritten");
    let err = push_err(&repo, &url, &[&spec(branch)], TOKEN);
    let message = err.to_string();
    match &err {
        PushError::Rejected { refs, .. } => {
            assert_eq!(refs.len(), 1, "{message}");
            assert_eq!(refs[0].name, format!("refs/heads/{branch}"));
            assert!(refs[0].reason.contains("non-fast-forward"), "{message}");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert!(
        message.contains(&format!("refs/heads/{branch}")),
        "{message}"
    );
    assert!(message.contains(&url), "{message}");
    assert_eq!(remote_tip(&bare, branch), Some(pushed));

    push(&repo, &url, &[&format!("+{}", spec(branch))], TOKEN).unwrap();
    assert_eq!(remote_tip(&bare, branch), Some(rewritten));

    // Another clone's history, which this repository has never seen: also named.
    let (_other_dir, other) = local_repo();
    commit(&other, branch, None, &[("z.json", "0")], "unrelated");
    let err = push_err(&other, &url, &[&spec(branch)], TOKEN);
    match &err {
        PushError::Rejected { refs, .. } => {
            assert_eq!(refs[0].name, format!("refs/heads/{branch}"));
            assert!(refs[0].reason.contains("not present locally"), "{err}");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_eq!(remote_tip(&bare, branch), Some(rewritten));
}

#[test]
fn server_side_rejection_names_the_ref_and_says_why() {
    let server = server();
    let (bare, url) = server.repo("protected");
    // Like a protected branch on GitHub: the server refuses one ref, with a message.
    let hook = bare.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\nwhile read old new ref; do\n  if [ \"$ref\" = refs/heads/main ]; then\n    \
         echo \"error: GH006: Protected branch update failed for $ref.\" >&2\n    exit 1\n  \
         fi\ndone\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let (_dir, repo) = local_repo();
    commit(&repo, "main", None, &[("a.json", "1")], "one");
    let err = push_err(&repo, &url, &[&spec("main")], TOKEN);
    let message = err.to_string();
    match &err {
        PushError::Rejected {
            refs,
            remote_messages,
            ..
        } => {
            assert_eq!(refs.len(), 1, "{message}");
            assert_eq!(refs[0].name, "refs/heads/main");
            assert!(refs[0].reason.contains("hook declined"), "{message}");
            assert!(
                remote_messages.iter().any(|l| l.contains("GH006")),
                "{message}"
            );
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert!(message.contains("refs/heads/main"), "{message}");
    assert_eq!(remote_tip(&bare, "main"), None);
}

#[test]
fn a_wrong_token_is_refused_with_401_and_never_shown() {
    let server = server();
    let (bare, url) = server.repo("wrong-token");
    let (_dir, repo) = local_repo();
    commit(&repo, "b", None, &[("a.json", "1")], "one");
    let wrong = "ghp_wrong_token_do_not_leak_77";
    let err = push_err(&repo, &url, &[&spec("b")], wrong);
    assert!(
        matches!(err, PushError::Unauthorized { status: 401, .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("the token was refused (HTTP 401)"),
        "{message}"
    );
    assert!(message.contains(&url), "{message}");
    assert!(!message.contains(wrong), "{message}");
    assert!(!format!("{err:?}").contains(wrong));
    assert_eq!(remote_tip(&bare, "b"), None);
}

#[test]
fn a_path_that_is_not_a_repository_is_a_clear_error() {
    let server = server();
    let (_dir, repo) = local_repo();
    commit(&repo, "b", None, &[("a.json", "1")], "one");
    let url = format!("http://127.0.0.1:{}/no-such-repo.git", server.port);
    let err = push_err(&repo, &url, &[&spec("b")], TOKEN);
    assert!(matches!(err, PushError::NotFound { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&url) && message.contains("no git repository"),
        "{message}"
    );
}

/// Answers every connection on a loopback port with `response`, forever (a thread per test).
fn canned_http(response: String) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // Read the request head (no bodies here: only GETs reach these servers).
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let _ = stream.write_all(response.as_bytes());
        }
    });
    port
}

#[test]
fn a_server_that_does_not_speak_smart_http_is_named() {
    let body = "<html>hello</html>";
    let port = canned_http(format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    let (_dir, repo) = local_repo();
    commit(&repo, "b", None, &[("a.json", "1")], "one");
    let url = format!("http://127.0.0.1:{port}/o/r.git");
    let err = push_err(&repo, &url, &[&spec("b")], TOKEN);
    assert!(matches!(err, PushError::NotGitServer { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("not a git smart-HTTP server at {url}")),
        "{err}"
    );
}

#[test]
fn a_redirect_to_another_host_is_not_followed() {
    // 127.0.0.1 → localhost: another host name, so the token must not follow.
    let port = canned_http(
        "HTTP/1.1 302 Found\r\nLocation: http://localhost:9/o/r.git/info/refs?service=git-receive-pack\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            .to_owned(),
    );
    let (_dir, repo) = local_repo();
    commit(&repo, "b", None, &[("a.json", "1")], "one");
    let url = format!("http://127.0.0.1:{port}/o/r.git");
    let err = push_err(&repo, &url, &[&spec("b")], TOKEN);
    match &err {
        PushError::Redirect { location, .. } => {
            assert!(location.starts_with("http://localhost:9/"))
        }
        other => panic!("expected Redirect, got {other:?}"),
    }
}

#[test]
fn a_closed_port_is_a_network_error() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (_dir, repo) = local_repo();
    commit(&repo, "b", None, &[("a.json", "1")], "one");
    let url = format!("http://127.0.0.1:{port}/o/r.git");
    let err = push_err(&repo, &url, &[&spec("b")], TOKEN);
    assert!(matches!(err, PushError::Network { .. }), "{err:?}");
    assert!(err.to_string().contains(&url), "{err}");
}

#[test]
fn bad_urls_are_refused_before_any_connection() {
    let (_dir, repo) = local_repo();
    commit(&repo, "b", None, &[("a.json", "1")], "one");
    // Plain http to a non-loopback host would carry the token in clear text.
    let err = push_err(&repo, "http://example.com/o/r.git", &[&spec("b")], TOKEN);
    assert!(matches!(err, PushError::InvalidUrl { .. }), "{err:?}");
    let err = push_err(&repo, "ssh://git@github.com/o/r.git", &[&spec("b")], TOKEN);
    assert!(matches!(err, PushError::InvalidUrl { .. }), "{err:?}");
    // User information is dropped from messages (and from the request).
    let err = push_err(
        &repo,
        &format!("http://x-access-token:{TOKEN}@example.com/o/r.git"),
        &[&spec("b")],
        TOKEN,
    );
    assert!(
        err.to_string().contains("http://example.com/o/r.git"),
        "{err}"
    );
    let err = push_err(&repo, "https://github.com/o/r.git", &[], TOKEN);
    assert!(matches!(err, PushError::InvalidArgument { .. }), "{err:?}");
}

#[test]
fn the_token_is_sent_only_in_the_authorization_header_and_stored_nowhere() {
    let server = server();
    let (bare, url) = server.repo("hygiene");
    let (dir, repo) = local_repo();
    let branch = "repokid/propose/3333";
    let tip = commit(&repo, branch, None, &[("a.json", "1")], "one");
    // With user information in the URL: dropped, the token authenticates.
    let with_userinfo = url.replace("http://", "http://someone:password@");
    push(&repo, &with_userinfo, &[&spec(branch)], TOKEN).unwrap();
    assert_eq!(remote_tip(&bare, branch), Some(tip));
    let _ = push_err(&repo, &url, &[&spec(branch)], "wrong-token");

    let requests = server.requests("hygiene");
    assert!(requests.len() >= 3, "{requests:?}");
    for r in &requests {
        let path = r["path"].as_str().unwrap();
        assert_no_token(path);
        assert!(!path.contains("password"), "{path}");
        assert_eq!(r["headers"]["authorization"], "REDACTED", "{r}");
        let agent = r["headers"]["user-agent"].as_str().unwrap();
        assert_eq!(agent, concat!("repokid/", env!("CARGO_PKG_VERSION")));
    }
    let post = requests.iter().find(|r| r["method"] == "POST").unwrap();
    assert_eq!(post["path"], "/hygiene.git/git-receive-pack");
    assert_eq!(
        post["headers"]["content-type"],
        "application/x-git-receive-pack-request"
    );
    assert_eq!(
        post["headers"]["accept"],
        "application/x-git-receive-pack-result"
    );

    // No remote saved, and the token in no file of the repository.
    let config = std::fs::read_to_string(dir.path().join(".git/config")).unwrap();
    assert!(!config.contains("[remote"), "{config}");
    assert_no_token(&config);
    for file in files_under(&dir.path().join(".git")) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
            "the token is in {}",
            file.display()
        );
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn concurrent_pushes_each_use_their_own_token() {
    // A second server with another token: a push that picked up the other thread's token would
    // get a 401.
    let other_token = "ghs_other_T0ken_for_the_second_server";
    let other = Server::start(other_token);
    let (_other_bare, other_url) = other.repo("concurrent");
    let (_bare, url) = server().repo("concurrent");
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let (url, token) = if i % 2 == 0 {
                (url.clone(), TOKEN)
            } else {
                (other_url.clone(), other_token)
            };
            std::thread::spawn(move || {
                let (_dir, repo) = local_repo();
                let branch = format!("t{i}");
                commit(&repo, &branch, None, &[("a.json", "1")], "one");
                for round in 0..2 {
                    commit(
                        &repo,
                        &branch,
                        None,
                        &[("a.json", &round.to_string())],
                        "more",
                    );
                    push(&repo, &url, &[&spec(&branch)], token).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[tokio::test]
async fn pushing_from_inside_a_tokio_runtime_does_not_panic() {
    let (bare, url) = server().repo("in-runtime");
    let (_dir, repo) = local_repo();
    let tip = commit(&repo, "b", None, &[("a.json", "1")], "one");
    // Blocking on purpose (real callers use spawn_blocking): the transport's own runtime must
    // not clash with this one.
    push(&repo, &url, &[&spec("b")], TOKEN).unwrap();
    assert_eq!(remote_tip(&bare, "b"), Some(tip));
}

#[test]
fn the_server_rejects_requests_without_credentials() {
    // The test server itself: no Authorization → 401 with a Basic challenge.
    let server = server();
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .write_all(b"GET /x.git/info/refs?service=git-receive-pack HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(
        answer.contains("WWW-Authenticate: Basic realm=\"git\""),
        "{answer}"
    );
}
