//! Markdown exactly as Nectr posts it: the review summary and the inline comment bodies.
//!
//! Paths come from the pull request and are untrusted: they are shown only inside code
//! spans, which GitHub never interprets as markup or mentions.

use std::fmt::Write;

use crate::review::finding::{Finding, Severity};
use crate::review::{Placement, Review};

/// The icon GitHub shows next to a severity.
pub fn severity_icon(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "🔴",
        Severity::Major => "🟠",
        Severity::Minor => "🟡",
        Severity::Nit => "⚪",
    }
}

/// `text` as a Markdown code span that no backtick inside it can break out of.
pub fn code_span(text: &str) -> String {
    let text = one_line(text);
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// Collapse line breaks so text stays on one Markdown line (list items, table cells).
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Plain text made safe for one line of Markdown: no raw HTML, no table breaks, no line
/// breaks.
pub fn escape_inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in one_line(text).chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '|' => out.push_str("\\|"),
            '\\' | '`' | '*' | '_' | '[' | ']' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// `path:line` or `path:line-end` as a code span.
pub fn location(f: &Finding) -> String {
    match f.end_line {
        Some(end) if end > f.line => code_span(&format!("{}:{}-{}", f.path, f.line, end)),
        _ => code_span(&format!("{}:{}", f.path, f.line)),
    }
}

/// The body of the inline comment for an anchored finding.
pub fn inline_comment(f: &Finding) -> String {
    format!(
        "{} **{}** · {} · {}\n\n{}\n",
        severity_icon(f.severity),
        f.severity,
        escape_inline(&f.title),
        code_span(&f.rule),
        f.body.trim_end()
    )
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The review summary: counts by severity, the findings, and the ones not commented
/// inline in full (collapsible when over the cap).
pub fn summary(review: &Review) -> String {
    let mut out = String::new();
    let files = review.stats.files;
    let _ = writeln!(out, "### Nectr review\n");
    let total = review.findings.len();
    let _ = write!(
        out,
        "Reviewed {} (+{} −{}). ",
        plural(files, "file", "files"),
        review.additions,
        review.deletions
    );
    if total == 0 {
        let _ = writeln!(out, "No findings.");
    } else {
        let counts: Vec<String> = review
            .counts()
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        let _ = writeln!(
            out,
            "**{}**: {}.",
            plural(total, "finding", "findings"),
            counts.join(", ")
        );
        let _ = writeln!(out);
        let _ = writeln!(out, "| severity | count |\n| --- | ---: |");
        for (severity, n) in review.counts() {
            let _ = writeln!(out, "| {} {severity} | {n} |", severity_icon(severity));
        }
    }

    if let Some(ai) = review
        .ai_summary
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        // Already neutralised (no HTML, mentions or markers) by the AI reviewer.
        let _ = writeln!(out, "\n#### Overview\n\n{}", ai.trim());
    }

    if !review.context.is_empty() {
        // Escaped by the context sources' own renderers.
        let _ = writeln!(out, "\n#### Context\n");
        for line in &review.context {
            let _ = writeln!(out, "- {line}");
        }
    }

    let indexes = |p: Placement| -> Vec<usize> {
        (0..review.findings.len())
            .filter(|&i| review.placement(i) == p)
            .collect()
    };
    let inline = indexes(Placement::Inline);
    let off_diff = indexes(Placement::OffDiff);
    let over_cap = indexes(Placement::OverCap);

    if !inline.is_empty() {
        let _ = writeln!(out, "\n#### Inline comments\n");
        for &i in &inline {
            let _ = writeln!(out, "{}", list_item(&review.findings[i]));
        }
    }
    if !off_diff.is_empty() {
        let _ = writeln!(out, "\n#### Not on a changed line\n");
        for &i in &off_diff {
            full_item(&mut out, &review.findings[i]);
        }
    }
    if !over_cap.is_empty() {
        let _ = writeln!(
            out,
            "\n<details>\n<summary>{} more {} (over the limit of {} inline comments)</summary>\n",
            over_cap.len(),
            if over_cap.len() == 1 {
                "finding"
            } else {
                "findings"
            },
            review.max_inline_comments
        );
        for &i in &over_cap {
            full_item(&mut out, &review.findings[i]);
        }
        let _ = writeln!(out, "</details>");
    }
    if !review.stats.skipped_files.is_empty() {
        let _ = writeln!(
            out,
            "\n<details>\n<summary>{} not reviewed</summary>\n",
            plural(review.stats.skipped_files.len(), "file", "files")
        );
        for skipped in &review.stats.skipped_files {
            let _ = writeln!(
                out,
                "- {} — {}",
                code_span(&skipped.path),
                escape_inline(&skipped.reason)
            );
        }
        let _ = writeln!(out, "\n</details>");
    }
    for note in &review.notes {
        let _ = writeln!(out, "\n> {}", escape_inline(note));
    }
    if let Some(model) = &review.llm_model {
        let _ = writeln!(
            out,
            "\n<sub>AI review: {} · {} · {} input / {} output tokens</sub>",
            code_span(model),
            plural(review.stats.llm_calls as usize, "call", "calls"),
            review.stats.llm_input_tokens,
            review.stats.llm_output_tokens
        );
    }
    out
}

fn list_item(f: &Finding) -> String {
    format!(
        "- {} **{}** {} — {} ({})",
        severity_icon(f.severity),
        f.severity,
        location(f),
        escape_inline(&f.title),
        code_span(&f.rule)
    )
}

fn full_item(out: &mut String, f: &Finding) {
    let _ = writeln!(out, "{}\n", list_item(f));
    for line in f.body.trim_end().lines() {
        let _ = writeln!(out, "  {line}");
    }
    let _ = writeln!(out);
}

/// `--format markdown`: the summary, then every inline comment as it would be posted.
pub fn document(review: &Review) -> String {
    document_with_summary(summary(review), review)
}

/// [`document`] with a given summary (the one actually posted, with its markers and notes
/// about earlier reviews).
pub fn document_with_summary(summary: String, review: &Review) -> String {
    let mut out = summary;
    let inline: Vec<&Finding> = review.inline().collect();
    if !inline.is_empty() {
        let _ = writeln!(out, "\n---\n");
        for f in inline {
            let side = match f.side {
                crate::diff::Side::Left => " (old side)",
                crate::diff::Side::Right => "",
            };
            let _ = writeln!(out, "**Inline comment on {}{side}:**\n", location(f));
            let _ = writeln!(out, "{}", inline_comment(f));
        }
    }
    out
}
