//! ARN patterns (`Resource`, `NotResource`, `ArnLike` values) and the questions verify asks of
//! them: is one contained in another, are two disjoint.
//!
//! IAM matches an ARN pattern segment by segment (`arn:partition:service:region:account:resource`,
//! the resource part keeping any further colons), with `*` and `?` inside segments and a `*` that
//! ends a segment sometimes reaching across the following colons. The documentation leaves corner
//! cases open, so every containment is proved under three readings and holds only if it holds
//! under all of them:
//!
//! * **strict** — wildcards stay inside their segment, except in the resource part and a `*` that
//!   ends a pattern of fewer than six segments;
//! * **segment end** — as strict, but any `*` that ends a segment may cross colons, and `?` in the
//!   resource part matches a colon;
//! * **plain** — the whole ARN is one glob; every wildcard crosses colons.
//!
//! Disjointness is proved under the plain reading alone, whose languages contain the other two.
//! Identical patterns are always contained in each other, whatever IAM's reading.
//!
//! Policy variables (`${aws:username}`, documents of version 2012-10-17 only) are opaque symbols in
//! the resource part; in an earlier segment they could move the segment boundaries, so there only
//! identity (or a base of `*`) covers them.

use super::automaton::{Answer, Pattern, Tok, Vars};

/// One item of a pattern as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Item {
    Lit(char),
    Star,
    Quest,
    Var(u32),
}

/// The language of a pattern under one reading.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Model {
    /// Matches nothing under this reading.
    Empty,
    /// Cannot be modelled (a variable before the resource part).
    Opaque,
    /// This pattern.
    Pat(Pattern),
}

/// A compiled ARN pattern. Its automata are built on first use: most comparisons never need
/// them (identical resources take a shortcut).
#[derive(Debug, Clone)]
pub struct ArnPattern {
    text: String,
    /// Whether `${…}` in the text is a policy variable (version 2012-10-17).
    vars_on: bool,
    universal: bool,
    /// strict, segment end, plain
    models: std::cell::OnceCell<[Model; 3]>,
}

impl ArnPattern {
    /// A pattern for `text`; `vars_on` when the document's version gives policy variables
    /// meaning.
    pub fn new(text: &str, vars_on: bool) -> ArnPattern {
        ArnPattern {
            text: text.to_string(),
            vars_on: vars_on && text.contains("${"),
            universal: !text.is_empty() && text.bytes().all(|b| b == b'*'),
            models: std::cell::OnceCell::new(),
        }
    }

    fn models(&self, vars: &Vars) -> &[Model; 3] {
        self.models.get_or_init(|| {
            let items = items(&self.text, self.vars_on, vars);
            [
                model(&items, Reading::Strict),
                model(&items, Reading::SegmentEnd),
                model(&items, Reading::Plain),
            ]
        })
    }

    /// The pattern as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether it is `*` (matches every resource).
    pub fn is_universal(&self) -> bool {
        self.universal
    }

    fn same(&self, other: &ArnPattern) -> bool {
        self.text == other.text && self.vars_on == other.vars_on
    }

    /// Whether every ARN this pattern matches is matched by `other`, under every reading.
    /// `No` carries an ARN this one matches and `other` does not.
    pub fn contained_in(&self, other: &ArnPattern, vars: &Vars) -> Answer {
        if self.same(other) || other.universal {
            return Answer::Yes;
        }
        for (mine, theirs) in self.models(vars).iter().zip(other.models(vars)) {
            let answer = match (mine, theirs) {
                (Model::Empty, _) => continue,
                (Model::Opaque, _) | (_, Model::Opaque) => Answer::Unknown,
                (Model::Pat(p), Model::Empty) => Answer::No(example(p)),
                (Model::Pat(p), Model::Pat(q)) => p.contained_in(q, vars),
            };
            if !answer.is_yes() {
                return answer;
            }
        }
        Answer::Yes
    }

    /// Whether no ARN matches both (proved under the plain reading, which contains the others).
    pub fn disjoint(&self, other: &ArnPattern, vars: &Vars) -> bool {
        if self.universal || other.universal {
            return false;
        }
        match (&self.models(vars)[2], &other.models(vars)[2]) {
            (Model::Pat(p), Model::Pat(q)) => p.disjoint(q, vars),
            _ => false,
        }
    }
}

/// Splits `text` into items; `${…}` is a variable (or an escape) when `vars_on`.
pub(super) fn items(text: &str, vars_on: bool, vars: &Vars) -> Vec<Item> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if vars_on
            && rest.starts_with("${")
            && let Some(end) = rest.find('}')
        {
            let name = &rest[2..end];
            out.push(match name {
                "*" => Item::Lit('*'),
                "?" => Item::Lit('?'),
                "$" => Item::Lit('$'),
                _ => Item::Var(vars.id(name)),
            });
            rest = &rest[end + 1..];
            continue;
        }
        out.push(match c {
            '*' => Item::Star,
            '?' => Item::Quest,
            c => Item::Lit(c),
        });
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Reading {
    Strict,
    SegmentEnd,
    Plain,
}

fn model(items: &[Item], reading: Reading) -> Model {
    if reading == Reading::Plain {
        return Model::Pat(Pattern::new(
            items
                .iter()
                .map(|i| match *i {
                    Item::Lit(c) => Tok::Lit(c),
                    Item::Star => Tok::Any { colon: true },
                    Item::Quest => Tok::One { colon: true },
                    Item::Var(v) => Tok::Var(v),
                })
                .collect(),
        ));
    }
    let colons = items.iter().filter(|i| **i == Item::Lit(':')).count();
    let short = colons < 5;
    if short && items.last() != Some(&Item::Star) {
        return Model::Empty;
    }
    let mut toks = Vec::with_capacity(items.len());
    let mut segment = 0usize;
    for (k, item) in items.iter().enumerate() {
        let resource_part = segment >= 5;
        let last = k + 1 == items.len();
        let ends_segment = last || items.get(k + 1) == Some(&Item::Lit(':'));
        toks.push(match *item {
            Item::Lit(c) => {
                if c == ':' {
                    segment += 1;
                }
                Tok::Lit(c)
            }
            Item::Star => Tok::Any {
                colon: resource_part
                    || (short && last)
                    || (reading == Reading::SegmentEnd && ends_segment),
            },
            Item::Quest => Tok::One {
                colon: resource_part && reading == Reading::SegmentEnd,
            },
            Item::Var(_) if !resource_part => return Model::Opaque,
            Item::Var(v) => Tok::Var(v),
        });
    }
    Model::Pat(Pattern::new(toks))
}

/// One string a pattern matches: wildcards matching nothing, `?` matching `x`.
fn example(p: &Pattern) -> String {
    p.toks()
        .iter()
        .filter_map(|t| match t {
            Tok::Lit(c) => Some(c.to_string()),
            Tok::One { .. } => Some("x".to_string()),
            Tok::Any { .. } => None,
            Tok::Var(_) => Some("${var}".to_string()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contained(h: &str, b: &str) -> bool {
        let v = Vars::default();
        let (h, b) = (ArnPattern::new(h, true), ArnPattern::new(b, true));
        h.contained_in(&b, &v).is_yes()
    }

    fn disjoint(a: &str, b: &str) -> bool {
        let v = Vars::default();
        let (a, b) = (ArnPattern::new(a, true), ArnPattern::new(b, true));
        a.disjoint(&b, &v)
    }

    #[test]
    fn narrower_resources_are_contained() {
        assert!(contained("arn:aws:s3:::logs/*", "*"));
        assert!(contained("arn:aws:s3:::logs/*", "arn:aws:s3:::*"));
        assert!(contained("arn:aws:s3:::logs/a/b", "arn:aws:s3:::logs/*"));
        assert!(contained(
            "arn:aws:s3:::bucket/1/2/test/3/x",
            "arn:aws:s3:::bucket/*/test/*"
        ));
        assert!(contained(
            "arn:aws:dynamodb:*:123456789012:table/x",
            "arn:aws:dynamodb:*:*:table/*"
        ));
        assert!(contained(
            "arn:aws:logs:us-east-1:1:log-group:a:log-stream:b",
            "arn:aws:logs:us-east-1:1:log-group:*"
        ));
        assert!(contained("arn:aws:s3:::x", "arn:aws:s3:*"));
    }

    #[test]
    fn wider_resources_are_not() {
        assert!(!contained("*", "arn:aws:s3:::*"));
        assert!(!contained("arn:aws:s3:::*", "arn:aws:s3:::logs/*"));
        assert!(!contained("arn:aws-cn:s3:::logs/x", "arn:aws:s3:::logs/*"));
        assert!(!contained("arn:aws:s3:::logs", "arn:aws:s3:::logs/*"));
        assert!(!contained(
            "arn:aws:ec2:*:111122223333:instance/*",
            "arn:aws:ec2:us-east-1:111122223333:instance/*"
        ));
        // A region `*` that may cross colons in one reading is not inside a one-segment `?`.
        assert!(!contained("arn:aws:ec2:*:1:x", "arn:aws:ec2:??:1:x"));
    }

    #[test]
    fn identical_patterns_are_contained_whatever_the_reading() {
        for p in [
            "arn:aws:s3",
            "arn:aws:*:*:*:*",
            "arn:aws:iam::${aws:PrincipalAccount}:role/x",
        ] {
            assert!(contained(p, p), "{p}");
        }
    }

    #[test]
    fn variables() {
        let user = "arn:aws:s3:::home/${aws:username}/*";
        assert!(contained(user, "arn:aws:s3:::home/*"));
        assert!(!contained("arn:aws:s3:::home/*", user));
        assert!(!contained(user, "arn:aws:s3:::home/alice/*"));
        // Before the resource part, only identity.
        let acct = "arn:aws:iam::${aws:PrincipalAccount}:role/x";
        assert!(!contained(acct, "arn:aws:iam::*:role/x"));
        // Version 2008-10-17: literal text.
        let v = Vars::default();
        let lit = ArnPattern::new(user, false);
        let var = ArnPattern::new(user, true);
        assert!(lit.contained_in(&var, &v) != Answer::Yes);
        assert!(disjoint(
            "arn:aws:s3:::a/${aws:username}",
            "arn:aws:s3:::b/*"
        ));
        assert!(!disjoint(
            "arn:aws:s3:::a/${aws:username}",
            "arn:aws:s3:::a/bob"
        ));
    }

    #[test]
    fn overlap() {
        assert!(disjoint("arn:aws:s3:::a/*", "arn:aws:s3:::b/*"));
        assert!(!disjoint("arn:aws:s3:::a*", "arn:aws:s3:::*b"));
        assert!(!disjoint("*", "arn:aws:s3:::b"));
    }
}
