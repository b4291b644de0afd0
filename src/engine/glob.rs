//! IAM's wildcard matching: `*` matches any run of characters (including `:`), `?` exactly one;
//! every other character is literal. There are no character classes, unlike fnmatch.
//! Callers lowercase both sides first, since IAM action matching is case-insensitive.

/// Whether `pattern` (IAM glob) matches all of `text`. Both are compared byte by byte; callers
/// pass lowercase ASCII action names.
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    // Iterative matcher with single-star backtracking: linear in practice, O(n·m) worst case.
    let (mut p, mut t) = (0usize, 0usize);
    let (mut star_p, mut star_t) = (usize::MAX, 0usize);
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star_p = p;
            star_t = t;
            p += 1;
        } else if star_p != usize::MAX {
            p = star_p + 1;
            star_t += 1;
            t = star_t;
        } else {
            return false;
        }
    }
    while p < pattern.len() && pattern[p] == b'*' {
        p += 1;
    }
    p == pattern.len()
}

/// Whether the pattern contains a wildcard character.
pub fn has_wildcard(pattern: &str) -> bool {
    pattern.bytes().any(|b| b == b'*' || b == b'?')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        glob_match(p.as_bytes(), t.as_bytes())
    }

    #[test]
    fn iam_glob_semantics() {
        assert!(m("*", "s3:getobject"));
        assert!(m("s3:get*", "s3:getobject"));
        assert!(m("s3:get?bject", "s3:getobject"));
        assert!(!m("s3:get?bject", "s3:getobjectacl"));
        assert!(m("s3*", "s3:getobject"));
        assert!(m("s3*", "s3express:createsession"));
        assert!(m("ec2*:describe*", "ec2messages:describethings"));
        assert!(m("*:*object*", "s3:getobjectacl"));
        assert!(!m("s3:[g]etobject", "s3:getobject"), "no character classes");
        assert!(m("s3:[g]etobject", "s3:[g]etobject"));
        assert!(m("**a", "a"));
        assert!(!m("", "a"));
        assert!(m("", ""));
    }
}
