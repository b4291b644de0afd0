//! A stand-in for the GitHub REST calls of `repokid apply-report` that keeps state, so that a
//! test can run several reports in a row and read the result: pull requests associated with
//! commits, comments on issues and pull requests (who wrote them, edits), and issues with
//! labels, opened, closed and reopened. Used by the tests of `apply-report` and of apply.yml.
//!
//! Two switches play the other matrix jobs of the same run: `race_on_create` makes another
//! job's tracking issue appear (with a lower number) the moment one is opened, and
//! `close_after_comment` closes an issue right after a comment is posted to it, as a job that
//! saw nothing failing would.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::{Request, Respond, ResponseTemplate};

/// A comment.
#[derive(Debug, Clone)]
pub struct Comment {
    /// Its id.
    pub id: u64,
    /// Its text.
    pub body: String,
    /// Written by a bot (the token's app) rather than a person.
    pub bot: bool,
    /// How many times it was edited.
    pub edits: u32,
}

/// An issue.
#[derive(Debug, Clone)]
pub struct Issue {
    /// Its number.
    pub number: u64,
    /// `open` or `closed`.
    pub state: String,
    /// Why it was closed.
    pub state_reason: Option<String>,
    /// Its title.
    pub title: String,
    /// Its body.
    pub body: String,
    /// Its labels.
    pub labels: Vec<String>,
}

/// Everything the stand-in holds.
#[derive(Debug, Default)]
pub struct State {
    /// Commit → the merged pull requests associated with it.
    pub commit_prs: BTreeMap<String, Vec<u64>>,
    /// Issue or pull request number → its comments, oldest first.
    pub comments: BTreeMap<u64, Vec<Comment>>,
    /// Issues by number.
    pub issues: BTreeMap<u64, Issue>,
    /// The next number for an issue (pull requests are numbered by the test, below 100).
    pub next_number: u64,
    /// The next comment id.
    pub next_comment: u64,
    /// When an issue is opened, another job's issue with a lower number appears too.
    pub race_on_create: bool,
    /// After a comment is posted to this issue, it is closed (once).
    pub close_after_comment: Option<u64>,
    /// `METHOD /path?query` of every request.
    pub log: Vec<String>,
}

impl State {
    /// A comment written by a person.
    pub fn human_comment(&mut self, number: u64, body: &str) {
        self.next_comment += 1;
        let id = self.next_comment;
        self.comments.entry(number).or_default().push(Comment {
            id,
            body: body.into(),
            bot: false,
            edits: 0,
        });
    }

    /// The open issues carrying `label`.
    pub fn open_issues(&self, label: &str) -> Vec<&Issue> {
        self.issues
            .values()
            .filter(|i| i.state == "open" && i.labels.iter().any(|l| l == label))
            .collect()
    }

    /// The comments on `number`.
    pub fn comments_on(&self, number: u64) -> Vec<Comment> {
        self.comments.get(&number).cloned().unwrap_or_default()
    }
}

/// The responder: mount it for every request (`Mock::given(any())`).
#[derive(Clone)]
pub struct FakeGitHub {
    /// `owner/name`.
    pub repo: String,
    /// Its state, shared with the test.
    pub state: Arc<Mutex<State>>,
}

impl FakeGitHub {
    /// An empty repository `repo`; issues are numbered from 900.
    pub fn new(repo: &str) -> FakeGitHub {
        FakeGitHub {
            repo: repo.into(),
            state: Arc::new(Mutex::new(State {
                next_number: 900,
                next_comment: 5000,
                ..State::default()
            })),
        }
    }

    /// The state, locked.
    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}

fn issue_json(i: &Issue) -> Value {
    json!({
        "number": i.number,
        "state": i.state,
        "title": i.title,
        "body": i.body,
        "html_url": format!("https://github.com/acme/iam/issues/{}", i.number),
        "labels": i.labels.iter().map(|l| json!({"name": l})).collect::<Vec<_>>(),
    })
}

fn comment_json(c: &Comment) -> Value {
    let (login, kind) = if c.bot {
        ("github-actions[bot]", "Bot")
    } else {
        ("alice", "User")
    };
    json!({"id": c.id, "body": c.body, "user": {"login": login, "type": kind}})
}

fn not_found() -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"}))
}

impl Respond for FakeGitHub {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        let mut st = self.state.lock().unwrap();
        let query = r.url.query().map(|q| format!("?{q}")).unwrap_or_default();
        st.log.push(format!("{} {}{query}", r.method, r.url.path()));
        let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        let Some(rest) = r.url.path().strip_prefix(&format!("/repos/{}", self.repo)) else {
            return not_found();
        };
        let parts: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
        let param = |k: &str| {
            r.url
                .query_pairs()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.into_owned())
        };
        match (r.method.as_str(), parts.as_slice()) {
            ("GET", ["commits", sha, "pulls"]) => {
                let prs: Vec<Value> = st
                    .commit_prs
                    .get(*sha)
                    .into_iter()
                    .flatten()
                    .map(|n| {
                        json!({
                            "number": n,
                            "state": "closed",
                            "merged_at": "2026-11-20T12:00:00Z",
                            "html_url": format!("https://github.com/acme/iam/pull/{n}"),
                            "head": {"ref": "repokid/propose/x", "sha": sha},
                            "body": "",
                            "labels": [],
                        })
                    })
                    .collect();
                ResponseTemplate::new(200).set_body_json(prs)
            }
            ("GET", ["issues"]) => {
                let label = param("labels").unwrap_or_default();
                assert_eq!(param("state").as_deref(), Some("open"));
                let mut out: Vec<Value> =
                    st.open_issues(&label).into_iter().map(issue_json).collect();
                // The issues endpoint lists pull requests too: one with the label, to be ignored.
                out.push(json!({"number": 3, "state": "open", "title": "a pull request", "labels": [{"name": label}], "pull_request": {"url": "x"}}));
                ResponseTemplate::new(200).set_body_json(out)
            }
            ("POST", ["issues"]) => {
                let labels: Vec<String> = body["labels"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l.as_str().unwrap().to_string())
                    .collect();
                if st.race_on_create {
                    st.race_on_create = false;
                    let other = Issue {
                        number: 850,
                        state: "open".into(),
                        state_reason: None,
                        title: body["title"].as_str().unwrap_or_default().into(),
                        body: "opened by another job".into(),
                        labels: labels.clone(),
                    };
                    st.issues.insert(850, other);
                }
                st.next_number += 1;
                let issue = Issue {
                    number: st.next_number,
                    state: "open".into(),
                    state_reason: None,
                    title: body["title"].as_str().unwrap_or_default().into(),
                    body: body["body"].as_str().unwrap_or_default().into(),
                    labels,
                };
                let out = issue_json(&issue);
                st.issues.insert(issue.number, issue);
                ResponseTemplate::new(201).set_body_json(out)
            }
            ("GET", ["issues", n]) => match n.parse().ok().and_then(|n: u64| st.issues.get(&n)) {
                Some(i) => ResponseTemplate::new(200).set_body_json(issue_json(i)),
                None => not_found(),
            },
            ("PATCH", ["issues", "comments", id]) => {
                let id: u64 = id.parse().unwrap();
                let found = st.comments.values_mut().flatten().find(|c| c.id == id);
                match found {
                    Some(c) => {
                        c.body = body["body"].as_str().unwrap().into();
                        c.edits += 1;
                        let out = comment_json(c);
                        ResponseTemplate::new(200).set_body_json(out)
                    }
                    None => not_found(),
                }
            }
            ("PATCH", ["issues", n]) => {
                let n: u64 = n.parse().unwrap();
                match st.issues.get_mut(&n) {
                    Some(i) => {
                        i.state = body["state"].as_str().unwrap().into();
                        i.state_reason = body["state_reason"].as_str().map(str::to_string);
                        let out = issue_json(i);
                        ResponseTemplate::new(200).set_body_json(out)
                    }
                    None => not_found(),
                }
            }
            ("GET", ["issues", n, "comments"]) => {
                let n: u64 = n.parse().unwrap();
                let page: usize = param("page").and_then(|p| p.parse().ok()).unwrap_or(1);
                let per: usize = param("per_page").and_then(|p| p.parse().ok()).unwrap_or(30);
                let all = st.comments_on(n);
                let out: Vec<Value> = all
                    .iter()
                    .skip((page - 1) * per)
                    .take(per)
                    .map(comment_json)
                    .collect();
                ResponseTemplate::new(200).set_body_json(out)
            }
            ("POST", ["issues", n, "comments"]) => {
                let n: u64 = n.parse().unwrap();
                st.next_comment += 1;
                let c = Comment {
                    id: st.next_comment,
                    body: body["body"].as_str().unwrap().into(),
                    bot: true,
                    edits: 0,
                };
                let out = comment_json(&c);
                st.comments.entry(n).or_default().push(c);
                if st.close_after_comment == Some(n) {
                    st.close_after_comment = None;
                    if let Some(i) = st.issues.get_mut(&n) {
                        i.state = "closed".into();
                    }
                }
                ResponseTemplate::new(201).set_body_json(out)
            }
            _ => not_found(),
        }
    }
}
