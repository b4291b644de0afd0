//! Markdown and number formatting for the review: code spans that survive any text, free text
//! made safe, counts with thousands separators, percentages and plurals.

/// A Markdown code span for any text: a fence longer than any backtick run inside, and no line
/// breaks.
pub(super) fn code(s: &str) -> String {
    let s = s.replace(['\n', '\r'], " ");
    let n = longest_run(&s, '`') + 1;
    let fence = "`".repeat(n);
    if n > 1 || s.starts_with('`') || s.ends_with('`') {
        format!("{fence} {s} {fence}")
    } else {
        format!("{fence}{s}{fence}")
    }
}

/// [`code`] for a table cell: pipes escaped (GitHub needs that even inside code spans).
pub(super) fn cell_code(s: &str) -> String {
    code(s).replace('|', "\\|")
}

/// Free text (hook reasons, filter reasons) made safe inline: one line, no HTML.
pub(super) fn inline_text(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Text for inside an HTML element.
pub(super) fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub(super) fn longest_run(s: &str, c: char) -> usize {
    let (mut best, mut run) = (0, 0);
    for ch in s.chars() {
        if ch == c {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best
}

/// `−54%`, `+3%`, `±0%`.
pub(super) fn percent_change(before: usize, after: usize) -> String {
    if before == 0 {
        return if after == 0 {
            "±0%".into()
        } else {
            "new".into()
        };
    }
    let diff = after as f64 - before as f64;
    let pct = (diff * 100.0 / before as f64).round() as i64;
    match pct {
        0 => "±0%".into(),
        p if p < 0 => format!("−{}%", thousands(p.unsigned_abs() as usize)),
        p => format!("+{}%", thousands(p.unsigned_abs() as usize)),
    }
}

/// `1 role`, `1,234 roles`.
pub(super) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// `12,345`.
pub(super) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

pub(super) fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_percentages() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(percent_change(200, 100), "−50%");
        assert_eq!(percent_change(100, 103), "+3%");
        assert_eq!(percent_change(100, 100), "±0%");
        assert_eq!(percent_change(0, 0), "±0%");
    }

    #[test]
    fn code_spans_survive_backticks_and_pipes() {
        assert_eq!(code("orders-api"), "`orders-api`");
        assert_eq!(code("a`b"), "`` a`b ``");
        assert_eq!(code("`x"), "`` `x ``");
        assert_eq!(cell_code("a|b"), "`a\\|b`");
        assert_eq!(code("two\nlines"), "`two lines`");
    }

    #[test]
    fn free_text_cannot_open_html() {
        assert_eq!(inline_text("a</details>\nb"), "a&lt;/details&gt; b");
        assert_eq!(html("<&>"), "&lt;&amp;&gt;");
    }

    #[test]
    fn longest_backtick_run() {
        assert_eq!(longest_run("a ``` b `` c", '`'), 3);
        assert_eq!(longest_run("none", '`'), 0);
    }
}
