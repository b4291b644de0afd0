//! Containment and overlap of wildcard patterns, decided exactly on small automata.
//!
//! A [`Pattern`] is a sequence of tokens: literal characters, `?` (one character), `*` (any run),
//! each wildcard either allowed or not allowed to match `:` (ARN segments), and opaque policy
//! variables (`${aws:username}`), which stand for an unknown string chosen per request.
//!
//! Both questions ("does every string of A match B?", "does some string match both?") are
//! answered by walking the product of the two patterns' subset automata over a finite alphabet:
//! every literal character either pattern mentions, `:`, one character neither mentions, and each
//! variable. Patterns are short (IAM caps ARNs at 2,048 characters and real ones are far shorter),
//! and the walk is capped: past [`STATE_BUDGET`] product states the answer is
//! [`Answer::Unknown`], which callers treat as "cannot prove".
//!
//! A variable is matched only by the same variable or by a `*` that may cross `:`, since its value
//! may be any string (of any length, possibly with colons). That keeps the symbolic answer true for
//! every value the variable can take.

use std::collections::{HashMap, VecDeque};

/// Past this many product states a question is answered [`Answer::Unknown`].
pub const STATE_BUDGET: usize = 20_000;

/// One token of a [`Pattern`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tok {
    /// This character.
    Lit(char),
    /// Exactly one character; `colon` says whether it may be `:`.
    One {
        /// Whether `:` matches.
        colon: bool,
    },
    /// Any run of characters (possibly empty); `colon` says whether the run may contain `:`.
    Any {
        /// Whether `:` matches.
        colon: bool,
    },
    /// A policy variable, by id in the caller's [`Vars`].
    Var(u32),
}

/// Names of the policy variables met while building patterns, so ids are consistent between the
/// two sides of a comparison. Interior mutability lets patterns be built lazily, on the rare path
/// that needs them.
#[derive(Debug, Default)]
pub struct Vars {
    names: std::cell::RefCell<Vec<String>>,
}

impl Vars {
    /// The id of variable `name` (the text between `${` and `}`).
    pub fn id(&self, name: &str) -> u32 {
        let mut names = self.names.borrow_mut();
        if let Some(i) = names.iter().position(|n| n == name) {
            return i as u32;
        }
        names.push(name.to_string());
        (names.len() - 1) as u32
    }

    fn name(&self, id: u32) -> String {
        self.names
            .borrow()
            .get(id as usize)
            .cloned()
            .unwrap_or_else(|| "?".to_string())
    }
}

/// A wildcard pattern as a token sequence.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pattern {
    toks: Vec<Tok>,
}

/// The answer to a containment question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Proved.
    Yes,
    /// Disproved; with a string the first pattern matches and the second does not.
    No(String),
    /// Too large to decide within the budget.
    Unknown,
}

impl Answer {
    /// Whether it was proved.
    pub fn is_yes(&self) -> bool {
        matches!(self, Answer::Yes)
    }
}

impl Pattern {
    /// A pattern from tokens.
    pub fn new(toks: Vec<Tok>) -> Pattern {
        Pattern { toks }
    }

    /// A literal string (no wildcards).
    pub fn literal(s: &str) -> Pattern {
        Pattern {
            toks: s.chars().map(Tok::Lit).collect(),
        }
    }

    /// IAM's plain glob: `*` any run, `?` one character, both matching `:`. The action-name form.
    pub fn glob(s: &str) -> Pattern {
        Pattern {
            toks: s
                .chars()
                .map(|c| match c {
                    '*' => Tok::Any { colon: true },
                    '?' => Tok::One { colon: true },
                    c => Tok::Lit(c),
                })
                .collect(),
        }
    }

    /// The tokens.
    pub fn toks(&self) -> &[Tok] {
        &self.toks
    }

    /// Whether it matches every string: nothing but `*` that may cross `:`, at least one.
    pub fn is_universal(&self) -> bool {
        !self.toks.is_empty() && self.toks.iter().all(|t| *t == Tok::Any { colon: true })
    }

    /// Whether it holds no wildcard and no variable: it matches exactly one string.
    fn as_literal(&self) -> Option<String> {
        self.toks
            .iter()
            .map(|t| match t {
                Tok::Lit(c) => Some(*c),
                _ => None,
            })
            .collect()
    }

    /// Whether every string this pattern matches is matched by `other`.
    pub fn contained_in(&self, other: &Pattern, vars: &Vars) -> Answer {
        if self == other || other.is_universal() {
            return Answer::Yes;
        }
        if let Some(s) = self.as_literal() {
            return if other.matches(&s) {
                Answer::Yes
            } else {
                Answer::No(s)
            };
        }
        // Cheap refutation first: a few strings of this pattern that `other` must match.
        for sample in self.samples() {
            if !other.matches(&sample) {
                return Answer::No(sample);
            }
        }
        Product::new(self, other).search(Goal::FirstOnly, vars)
    }

    /// Whether no string matches both patterns: `Yes` when proved disjoint, `No(s)` with a string
    /// both match, `Unknown` when too large to decide.
    pub fn disjoint_from(&self, other: &Pattern, vars: &Vars) -> Answer {
        // Literal text before the first wildcard (or variable) that differs: every string of one
        // starts differently from every string of the other. The common case (`iam:*` against
        // `ec2:describe*`), decided without an automaton.
        let lead = |p: &Pattern| -> Vec<char> {
            p.toks
                .iter()
                .map_while(|t| match t {
                    Tok::Lit(c) => Some(*c),
                    _ => None,
                })
                .collect()
        };
        let (la, lb) = (lead(self), lead(other));
        if la.iter().zip(&lb).any(|(x, y)| x != y) {
            return Answer::Yes;
        }
        // A variable may take any value, including one that makes the patterns meet: for this
        // question it is a `*` that crosses `:`.
        let (a, b) = (self.vars_as_stars(), other.vars_as_stars());
        let (a, b) = (&a, &b);
        for (lit, pat) in [(a, b), (b, a)] {
            if let Some(s) = lit.as_literal() {
                return if pat.matches(&s) {
                    Answer::No(s)
                } else {
                    Answer::Yes
                };
            }
        }
        Product::new(a, b).search(Goal::Both, vars)
    }

    fn vars_as_stars(&self) -> Pattern {
        Pattern {
            toks: self
                .toks
                .iter()
                .map(|t| match t {
                    Tok::Var(_) => Tok::Any { colon: true },
                    t => *t,
                })
                .collect(),
        }
    }

    /// Whether no string matches both. Only a proved "disjoint" is `true`.
    pub fn disjoint(&self, other: &Pattern, vars: &Vars) -> bool {
        self.disjoint_from(other, vars).is_yes()
    }

    /// Strings this pattern matches (none when it holds a variable): wildcards as short as they
    /// can be, then with `*` as one character.
    fn samples(&self) -> Vec<String> {
        if self.toks.iter().any(|t| matches!(t, Tok::Var(_))) {
            return Vec::new();
        }
        let render = |star: &str| -> String {
            self.toks
                .iter()
                .map(|t| match t {
                    Tok::Lit(c) => c.to_string(),
                    Tok::One { .. } => "x".to_string(),
                    Tok::Any { .. } => star.to_string(),
                    Tok::Var(_) => String::new(),
                })
                .collect()
        };
        vec![render(""), render("x")]
    }

    /// Whether the pattern matches a concrete string (no variables in it).
    pub fn matches(&self, s: &str) -> bool {
        let n = self.toks.len();
        let mut cur = vec![false; n + 1];
        cur[0] = true;
        self.close(&mut cur);
        for c in s.chars() {
            let mut next = vec![false; n + 1];
            let mut any = false;
            for i in 0..n {
                if !cur[i] {
                    continue;
                }
                match self.toks[i] {
                    Tok::Lit(l) if l == c => {
                        next[i + 1] = true;
                        any = true;
                    }
                    Tok::One { colon } if colon || c != ':' => {
                        next[i + 1] = true;
                        any = true;
                    }
                    Tok::Any { colon } if colon || c != ':' => {
                        next[i] = true;
                        any = true;
                    }
                    _ => {}
                }
            }
            if !any {
                return false;
            }
            self.close(&mut next);
            cur = next;
        }
        cur[n]
    }

    /// Adds the positions reachable through `*` matching nothing.
    fn close(&self, set: &mut [bool]) {
        for i in 0..self.toks.len() {
            if set[i] && matches!(self.toks[i], Tok::Any { .. }) {
                set[i + 1] = true;
            }
        }
    }
}

/// A symbol of the product alphabet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sym {
    Ch(char),
    /// A character neither pattern mentions (and not `:`).
    Other,
    Var(u32),
}

fn tok_accepts(t: Tok, s: Sym) -> bool {
    match (t, s) {
        (Tok::Lit(l), Sym::Ch(c)) => l == c,
        (Tok::One { colon } | Tok::Any { colon }, Sym::Ch(c)) => colon || c != ':',
        (Tok::One { .. } | Tok::Any { .. }, Sym::Other) => true,
        (Tok::Any { colon: true }, Sym::Var(_)) => true,
        (Tok::Var(a), Sym::Var(b)) => a == b,
        _ => false,
    }
}

/// A set of positions of one pattern, as a bitset.
type PosSet = Vec<u64>;

fn step(p: &Pattern, set: &PosSet, s: Sym) -> PosSet {
    let n = p.toks.len();
    let mut out = vec![0u64; set.len()];
    for i in 0..n {
        if set[i / 64] & (1 << (i % 64)) == 0 {
            continue;
        }
        let t = p.toks[i];
        if tok_accepts(t, s) {
            let j = if matches!(t, Tok::Any { .. }) {
                i
            } else {
                i + 1
            };
            out[j / 64] |= 1 << (j % 64);
        }
    }
    close(p, &mut out);
    out
}

fn close(p: &Pattern, set: &mut PosSet) {
    for i in 0..p.toks.len() {
        if set[i / 64] & (1 << (i % 64)) != 0 && matches!(p.toks[i], Tok::Any { .. }) {
            set[(i + 1) / 64] |= 1 << ((i + 1) % 64);
        }
    }
}

fn start(p: &Pattern) -> PosSet {
    let mut s = vec![0u64; p.toks.len() / 64 + 1];
    s[0] = 1;
    close(p, &mut s);
    s
}

fn accepting(p: &Pattern, set: &PosSet) -> bool {
    let n = p.toks.len();
    set[n / 64] & (1 << (n % 64)) != 0
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Goal {
    /// A string the first accepts and the second rejects.
    FirstOnly,
    /// A string both accept.
    Both,
}

struct Product<'a> {
    a: &'a Pattern,
    b: &'a Pattern,
    alphabet: Vec<Sym>,
    other: char,
}

impl<'a> Product<'a> {
    fn new(a: &'a Pattern, b: &'a Pattern) -> Self {
        let mut chars: Vec<char> = vec![':'];
        let mut vars: Vec<u32> = Vec::new();
        for t in a.toks.iter().chain(&b.toks) {
            match *t {
                Tok::Lit(c) if !chars.contains(&c) => chars.push(c),
                Tok::Var(v) if !vars.contains(&v) => vars.push(v),
                _ => {}
            }
        }
        let other = ('a'..='z')
            .chain('0'..='9')
            .chain(['-', '_', '.'])
            .find(|c| !chars.contains(c))
            .unwrap_or('\u{e000}');
        let mut alphabet: Vec<Sym> = chars.into_iter().map(Sym::Ch).collect();
        alphabet.push(Sym::Other);
        alphabet.extend(vars.into_iter().map(Sym::Var));
        Product {
            a,
            b,
            alphabet,
            other,
        }
    }

    /// Breadth-first search of the product for a state meeting `goal`; the path to it spells a
    /// witness. `Yes` when no such state is reachable ("contained" or "disjoint").
    fn search(&self, goal: Goal, vars: &Vars) -> Answer {
        let mut seen: HashMap<(PosSet, PosSet), usize> = HashMap::new();
        // (state, parent index, symbol from parent)
        let mut nodes: Vec<(PosSet, PosSet, usize, Option<Sym>)> = Vec::new();
        let mut queue = VecDeque::new();
        let s0 = (start(self.a), start(self.b));
        seen.insert(s0.clone(), 0);
        nodes.push((s0.0, s0.1, usize::MAX, None));
        queue.push_back(0usize);
        while let Some(i) = queue.pop_front() {
            let (sa, sb) = (&nodes[i].0, &nodes[i].1);
            let hit = match goal {
                Goal::FirstOnly => accepting(self.a, sa) && !accepting(self.b, sb),
                Goal::Both => accepting(self.a, sa) && accepting(self.b, sb),
            };
            if hit {
                return Answer::No(self.witness(&nodes, i, vars));
            }
            let (sa, sb) = (sa.clone(), sb.clone());
            for &sym in &self.alphabet {
                let na = step(self.a, &sa, sym);
                if na.iter().all(|w| *w == 0) {
                    continue;
                }
                let nb = step(self.b, &sb, sym);
                if goal == Goal::Both && nb.iter().all(|w| *w == 0) {
                    continue;
                }
                let key = (na, nb);
                if seen.contains_key(&key) {
                    continue;
                }
                if nodes.len() >= STATE_BUDGET {
                    return Answer::Unknown;
                }
                let idx = nodes.len();
                seen.insert(key.clone(), idx);
                nodes.push((key.0, key.1, i, Some(sym)));
                queue.push_back(idx);
            }
        }
        Answer::Yes
    }

    fn witness(
        &self,
        nodes: &[(PosSet, PosSet, usize, Option<Sym>)],
        mut i: usize,
        vars: &Vars,
    ) -> String {
        let mut syms = Vec::new();
        while let Some(sym) = nodes[i].3 {
            syms.push(sym);
            i = nodes[i].2;
        }
        syms.reverse();
        let mut s = String::new();
        for sym in syms {
            match sym {
                Sym::Ch(c) => s.push(c),
                Sym::Other => s.push(self.other),
                Sym::Var(v) => {
                    s.push_str("${");
                    s.push_str(&vars.name(v));
                    s.push('}');
                }
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(s: &str) -> Pattern {
        Pattern::glob(s)
    }

    #[test]
    fn glob_containment() {
        let v = Vars::default();
        assert!(g("s3:getobject*").contained_in(&g("s3:get*"), &v).is_yes());
        assert!(g("s3:get*").contained_in(&g("s3:*"), &v).is_yes());
        assert!(g("s3:g?t*").contained_in(&g("s3:*"), &v).is_yes());
        assert!(g("a*b*c").contained_in(&g("a*c"), &v).is_yes());
        assert!(g("*").contained_in(&g("**"), &v).is_yes());
        let Answer::No(w) = g("s3:*").contained_in(&g("s3:get*"), &v) else {
            panic!("s3:* is wider");
        };
        assert!(g("s3:*").matches(&w) && !g("s3:get*").matches(&w), "{w}");
        assert!(!g("s3:*object").contained_in(&g("s3:get*"), &v).is_yes());
        assert!(
            g("s3:getobject")
                .contained_in(&g("s3:*object"), &v)
                .is_yes()
        );
        assert!(!g("s3:get?").contained_in(&g("s3:get"), &v).is_yes());
    }

    #[test]
    fn overlap() {
        let v = Vars::default();
        assert!(g("s3:get*").disjoint(&g("iam:*"), &v));
        assert!(!g("s3:get*").disjoint(&g("*object"), &v));
        assert!(!g("*").disjoint(&g("iam:passrole"), &v));
        assert!(g("a?c").disjoint(&g("ab"), &v));
    }

    #[test]
    fn colon_free_wildcards() {
        let v = Vars::default();
        let seg = Pattern::new(vec![
            Tok::Lit('a'),
            Tok::Any { colon: false },
            Tok::Lit('z'),
        ]);
        assert!(seg.matches("abz") && !seg.matches("a:z"));
        assert!(seg.contained_in(&g("a*z"), &v).is_yes());
        assert!(!g("a*z").contained_in(&seg, &v).is_yes());
    }

    #[test]
    fn variables_are_matched_only_by_themselves_or_a_crossing_star() {
        let v = Vars::default();
        let x = v.id("aws:username");
        let p = Pattern::new(vec![Tok::Lit('h'), Tok::Var(x)]);
        assert!(p.contained_in(&p.clone(), &v).is_yes());
        assert!(p.contained_in(&g("h*"), &v).is_yes());
        assert!(!p.contained_in(&g("h?"), &v).is_yes());
        assert!(!p.contained_in(&g("hx"), &v).is_yes());
        let seg = Pattern::new(vec![Tok::Lit('h'), Tok::Any { colon: false }]);
        assert!(!p.contained_in(&seg, &v).is_yes());
        let Answer::No(w) = g("h*").contained_in(&p, &v) else {
            panic!("h* is wider than h${{x}}");
        };
        assert!(w.starts_with('h'));
        // The variable may be "x": not disjoint from a literal.
        assert!(!p.disjoint(&Pattern::literal("hx"), &v));
        assert!(p.disjoint(&Pattern::literal("gx"), &v));
    }

    #[test]
    fn budget_gives_unknown_not_yes() {
        // Many `?` after a star make the subset automaton large; either answer is fine but never
        // a wrong Yes.
        let v = Vars::default();
        let a = g(&format!("*a{}", "?".repeat(40)));
        let b = g(&format!("*b{}", "?".repeat(40)));
        assert!(!a.contained_in(&b, &v).is_yes());
    }
}
