//! Terminal output: the AI reviewer's overview when there is one, then one
//! `path:line: severity: title [rule]` line per finding (the shape editors and `grep`
//! understand), its explanation indented below, and a closing tally.

use std::fmt::Write;

use crate::review::finding::Severity;
use crate::review::{Placement, Review};

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";

fn severity_color(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "\x1b[1;31m",
        Severity::Major => "\x1b[1;33m",
        Severity::Minor => "\x1b[36m",
        Severity::Nit => "\x1b[2m",
    }
}

/// Strip control characters (terminal escapes) from untrusted text.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' {
                '�'
            } else {
                c
            }
        })
        .collect()
}

pub fn render(review: &Review, color: bool) -> String {
    let paint = |code: &str, text: &str| {
        if color {
            format!("{code}{text}{RESET}")
        } else {
            text.to_owned()
        }
    };
    let mut out = String::new();
    if let Some(summary) = review
        .ai_summary
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        let model = review.llm_model.as_deref().unwrap_or("the model");
        let _ = writeln!(
            out,
            "{}",
            paint(BOLD, &format!("AI overview ({}):", clean(model)))
        );
        // The model's text is untrusted: control characters are stripped like any other.
        for line in clean(summary).trim().lines() {
            let _ = writeln!(out, "    {}", line.trim_end());
        }
        let _ = writeln!(out);
    }
    // Terminal order: by file and line, like a compiler.
    let mut order: Vec<usize> = (0..review.findings.len()).collect();
    order.sort_by(|&a, &b| {
        let (fa, fb) = (&review.findings[a], &review.findings[b]);
        (&fa.path, fa.line, fa.severity).cmp(&(&fb.path, fb.line, fb.severity))
    });
    for i in order {
        let f = &review.findings[i];
        let place = match review.placement(i) {
            Placement::Inline => "",
            Placement::OffDiff => " (not on a changed line)",
            Placement::OverCap => " (over the inline-comment limit)",
        };
        let range = match f.end_line {
            Some(end) if end > f.line => format!("{}-{end}", f.line),
            _ => f.line.to_string(),
        };
        let _ = writeln!(
            out,
            "{}: {}: {} {}{}",
            paint(BOLD, &format!("{}:{range}", clean(&f.path))),
            paint(severity_color(f.severity), f.severity.as_str()),
            clean(&f.title),
            paint(DIM, &format!("[{}]", clean(&f.rule))),
            place
        );
        for line in clean(&f.body).trim_end().lines() {
            let _ = writeln!(out, "    {line}");
        }
        let _ = writeln!(out);
    }
    let files = review.stats.files;
    let files = format!("{files} file{}", if files == 1 { "" } else { "s" });
    if review.findings.is_empty() {
        let _ = writeln!(
            out,
            "No findings in {files} (+{} -{}).",
            review.additions, review.deletions
        );
    } else {
        let counts: Vec<String> = review
            .counts()
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| paint(severity_color(*s), &format!("{n} {s}")))
            .collect();
        let n = review.findings.len();
        let _ = writeln!(
            out,
            "{n} finding{} ({}) in {files} (+{} -{}).",
            if n == 1 { "" } else { "s" },
            counts.join(", "),
            review.additions,
            review.deletions
        );
    }
    for skipped in &review.stats.skipped_files {
        let _ = writeln!(
            out,
            "{}",
            paint(
                DIM,
                &format!("skipped {}: {}", clean(&skipped.path), skipped.reason)
            )
        );
    }
    for note in &review.notes {
        let _ = writeln!(out, "note: {}", clean(note));
    }
    out
}
