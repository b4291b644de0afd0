//! Editing `filters.toml` as text: an opt-out entry is inserted after the last opt-out table, or
//! its table removed, so the rest of the file and its comments stay as they are.

use std::fmt::Write as _;

use super::filters::entry_matches;
use crate::filters::OptOutEntry;

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The `[[opt-out.entries]]` table of `e`, in the documented format, lines ending in `\n`.
pub(super) fn entry_block(e: &OptOutEntry) -> String {
    format!(
        "[[opt-out.entries]]\naccount = {}\nrole = {}\nowner = {}\nreason = {}\nexpires = {}\n",
        toml_string(&e.account),
        toml_string(&e.role),
        toml_string(&e.owner),
        toml_string(&e.reason),
        toml_string(e.expires.as_str())
    )
}

/// The table a header line opens (`opt-out.entries` for `[[opt-out.entries]] # …`), with
/// whether it is an array-of-tables header; `None` for any other line.
fn header(line: &str) -> Option<(String, bool)> {
    let t = line.trim();
    let (inner, array) = if let Some(rest) = t.strip_prefix("[[") {
        (&rest[..rest.find("]]")?], true)
    } else if let Some(rest) = t.strip_prefix('[') {
        (&rest[..rest.find(']')?], false)
    } else {
        return None;
    };
    let name: String = inner
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '"' && *c != '\'')
        .collect();
    Some((name, array))
}

fn is_opt_out_table(name: &str) -> bool {
    name == "opt-out" || name.starts_with("opt-out.")
}

fn newline_of(text: &str) -> &'static str {
    if text.contains("\r\n") { "\r\n" } else { "\n" }
}

fn with_newlines(block: &str, nl: &str) -> String {
    block.lines().map(|l| format!("{l}{nl}")).collect()
}

/// `text` with `block` inserted after the last paragraph of the last `[opt-out]` /
/// `[[opt-out.entries]]` table that holds a key or mentions `[[opt-out.entries]]` (in the default
/// file: the commented example), else appended at the end.
pub(super) fn insert_entry(text: &str, block: &str) -> String {
    let nl = newline_of(text);
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let headers: Vec<(usize, String)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| header(l).map(|(n, _)| (i, n)))
        .collect();
    let Some(pos) = headers.iter().rposition(|(_, n)| is_opt_out_table(n)) else {
        return append_entry(text, block);
    };
    let start = headers[pos].0;
    let end = headers.get(pos + 1).map_or(lines.len(), |(i, _)| *i);
    let mentions = |t: &str| {
        t.chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .contains("[[opt-out.entries]]")
    };
    let mut last = (start..end)
        .rev()
        .find(|&i| {
            let t = lines[i].trim();
            !t.is_empty() && (!t.starts_with('#') || mentions(t))
        })
        .unwrap_or(start);
    while last + 1 < end && !lines[last + 1].trim().is_empty() {
        last += 1;
    }
    let mut out: String = lines[..=last].concat();
    if !out.ends_with('\n') {
        out.push_str(nl);
    }
    out.push_str(nl);
    out.push_str(&with_newlines(block, nl));
    if let Some(next) = lines.get(last + 1)
        && !next.trim().is_empty()
    {
        out.push_str(nl);
    }
    out.push_str(&lines[last + 1..].concat());
    out
}

/// `text` with `block` appended after a blank line.
pub(super) fn append_entry(text: &str, block: &str) -> String {
    let nl = newline_of(text);
    let mut out = text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push_str(nl);
    }
    if !out.is_empty() && !out.ends_with(&format!("{nl}{nl}")) {
        out.push_str(nl);
    }
    out.push_str(&with_newlines(block, nl));
    out
}

/// `text` without the `[[opt-out.entries]]` tables for `role` (case-insensitively) in `account`:
/// each from its header to its last key line (comments inside it included), with one of the
/// blank lines around it.
pub(super) fn remove_entries(text: &str, account: &str, role: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let headers: Vec<(usize, String, bool)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| header(l).map(|(n, a)| (i, n, a)))
        .collect();
    let mut drop = vec![false; lines.len()];
    for (k, (start, name, array)) in headers.iter().enumerate() {
        if !array || name != "opt-out.entries" {
            continue;
        }
        let end = headers.get(k + 1).map_or(lines.len(), |(i, _, _)| *i);
        let last = (start + 1..end)
            .rev()
            .find(|&i| {
                let t = lines[i].trim();
                !t.is_empty() && !t.starts_with('#')
            })
            .unwrap_or(*start);
        let table = lines[start + 1..=last].concat();
        let Ok(entry) = toml::from_str::<OptOutEntry>(&table) else {
            continue;
        };
        if !entry_matches(&entry, account, role) {
            continue;
        }
        for d in &mut drop[*start..=last] {
            *d = true;
        }
        // One blank line goes with the table, so no double blank line is left.
        let blank = |i: usize| lines.get(i).is_some_and(|l| l.trim().is_empty());
        if blank(last + 1) && (*start == 0 || blank(start - 1) || last + 2 >= lines.len()) {
            drop[last + 1] = true;
        } else if *start > 0 && blank(start - 1) && !blank(last + 1) {
            drop[start - 1] = true;
        }
    }
    lines
        .iter()
        .zip(drop)
        .filter(|(_, d)| !d)
        .map(|(l, _)| *l)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filters::{DEFAULT_FILTERS_TOML, FilterConfig};

    fn entry(role: &str, reason: &str) -> OptOutEntry {
        OptOutEntry {
            account: "111122223333".into(),
            role: role.into(),
            owner: "alice".into(),
            reason: reason.into(),
            expires: "2027-02-18".parse().expect("date"),
        }
    }

    #[test]
    fn inserting_into_the_default_file_keeps_it_and_lands_after_the_example() {
        let e = entry("web", "PCI \"audit\" \\ until Jan");
        let block = entry_block(&e);
        let out = insert_entry(DEFAULT_FILTERS_TOML, &block);
        let mut expected = FilterConfig::parse(DEFAULT_FILTERS_TOML).expect("default");
        expected.opt_out.entries.push(e.clone());
        assert_eq!(FilterConfig::parse(&out).expect("valid"), expected);
        // Only lines were added, right after the commented example.
        let at = out.find("[[opt-out.entries]]\naccount").expect("inserted");
        assert!(
            out[..at].ends_with("# expires = \"2027-01-31\"\n\n"),
            "{out}"
        );
        assert!(out[at..].contains("\n\n# command: custom filters"), "{out}");
        assert_eq!(
            out.replace(&format!("{block}\n"), ""),
            DEFAULT_FILTERS_TOML,
            "nothing else changed"
        );
        // And removal gives the file back.
        assert_eq!(
            remove_entries(&out, "111122223333", "WEB"),
            DEFAULT_FILTERS_TOML
        );
    }

    #[test]
    fn entries_go_after_the_last_one_and_before_other_tables() {
        let text = "active = [\"opt-out\"]\n\n[opt-out]\ntag_key = \"\"\n\n# keep\n[[opt-out.entries]]\n\
                    account = \"111122223333\"\nrole = \"a\"\nowner = \"o\"\nreason = \"r\"\n\
                    expires = \"2027-01-01\"\n# trailing note\n\n[[command]]\nid = \"c\"\n\
                    command = [\"true\"]\n";
        let block = entry_block(&entry("b", "why"));
        let out = insert_entry(text, &block);
        assert!(
            out.contains(
                "expires = \"2027-01-01\"\n# trailing note\n\n[[opt-out.entries]]\naccount"
            ),
            "{out}"
        );
        assert!(
            out.contains("expires = \"2027-02-18\"\n\n[[command]]"),
            "{out}"
        );
        let c = FilterConfig::parse(&out).expect("valid");
        assert_eq!(c.opt_out.entries.len(), 2);
        assert_eq!(c.command.len(), 1);
        let back = remove_entries(&out, "111122223333", "b");
        assert_eq!(
            FilterConfig::parse(&back).expect("valid"),
            FilterConfig::parse(text).expect("valid")
        );
        let none = remove_entries(&back, "111122223333", "A");
        assert!(
            none.contains("# keep\n") && !none.contains("role = \"a\""),
            "{none}"
        );
        assert!(
            FilterConfig::parse(&none)
                .expect("valid")
                .opt_out
                .entries
                .is_empty()
        );
    }

    #[test]
    fn crlf_and_files_without_an_opt_out_table() {
        let text = "active = [\"age\"]\r\n[age]\r\nminimum_days = 30";
        let out = insert_entry(text, &entry_block(&entry("w", "r")));
        assert!(
            out.starts_with(
                "active = [\"age\"]\r\n[age]\r\nminimum_days = 30\r\n\r\n[[opt-out.entries]]\r\n"
            ),
            "{out:?}"
        );
        assert_eq!(
            FilterConfig::parse(&out)
                .expect("valid")
                .opt_out
                .entries
                .len(),
            1
        );
    }
}
