//! The oracle: matching actions and ARNs.

/// Glob over bytes: `*` any run (possibly empty), `?` exactly one byte, everything else literal.
/// (The universe and the pools are ASCII.)
pub(super) fn glob(p: &[u8], t: &[u8]) -> bool {
    match p.split_first() {
        None => t.is_empty(),
        Some((b'*', rest)) => (0..=t.len()).any(|i| glob(rest, &t[i..])),
        Some((b'?', rest)) => !t.is_empty() && glob(rest, &t[1..]),
        Some((c, rest)) => t.first() == Some(c) && glob(rest, &t[1..]),
    }
}

/// `Action`/`NotAction` entries match case-insensitively (service prefix and action name).
pub(super) fn action_matches(pattern: &str, action: &str) -> bool {
    glob(
        pattern.to_ascii_lowercase().as_bytes(),
        action.to_ascii_lowercase().as_bytes(),
    )
}

/// How an ARN pattern (`Resource`, `NotResource`, `ArnLike` values) is read. The miss check runs
/// under both; a violation under either counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reading {
    /// The reading of IAM's documentation, and the primary one here: pattern and ARN are split
    /// at their first five colons (`arn:partition:service:region:account:resource`); `*` and `?`
    /// match within a segment; the sixth segment keeps any further colons and its wildcards cross
    /// them. A pattern of fewer than six segments matches only if its last character is `*`, and
    /// then by prefix: its segments match the ARN's first ones, its last segment (ending in `*`)
    /// absorbs the rest of its ARN segment and every segment after it. `*` alone matches every
    /// resource. Matching is case-sensitive.
    Segments,
    /// The whole ARN as one glob: every `*` may cross colons. A looser reading `compare` also
    /// claims to be sound under (its module docs: "under every plausible reading").
    Plain,
}
pub(super) const READINGS: [Reading; 2] = [Reading::Segments, Reading::Plain];

pub(super) fn arn_matches(pattern: &str, arn: &str, reading: Reading) -> bool {
    if pattern == "*" {
        return true;
    }
    if reading == Reading::Plain {
        return glob(pattern.as_bytes(), arn.as_bytes());
    }
    let ps: Vec<&str> = pattern.splitn(6, ':').collect();
    let xs: Vec<&str> = arn.splitn(6, ':').collect();
    if ps.len() < 6 {
        if !pattern.ends_with('*') || xs.len() < ps.len() {
            return false;
        }
        return ps
            .iter()
            .zip(&xs)
            .all(|(p, x)| glob(p.as_bytes(), x.as_bytes()));
    }
    xs.len() == 6
        && ps
            .iter()
            .zip(&xs)
            .all(|(p, x)| glob(p.as_bytes(), x.as_bytes()))
}
