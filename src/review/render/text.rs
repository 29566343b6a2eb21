//! Terminal output, compact like a compiler's: the AI reviewer's overview when there is
//! one, then one `path:line: severity rule: message` line per finding (the shape editors,
//! `grep` and reviewdog's `errorformat` understand) and one closing tally. `--verbose`
//! adds each finding's explanation, the files not reviewed and the notes.

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

pub fn render(review: &Review, color: bool, verbose: bool) -> String {
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
        .map(crate::review::render::markdown::merge_overview)
        .filter(|s| !s.trim().is_empty())
    {
        let model = review.llm_model.as_deref().unwrap_or("the model");
        let _ = writeln!(
            out,
            "{}",
            paint(BOLD, &format!("AI overview ({}):", clean(model)))
        );
        // The model's text is untrusted: control characters are stripped like any other.
        for line in clean(&summary).trim().lines() {
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
            "{}: {} {}: {}{}",
            paint(BOLD, &format!("{}:{range}", clean(&f.path))),
            paint(severity_color(f.severity), f.severity.as_str()),
            paint(DIM, &clean(&f.rule)),
            one_line(&clean(&f.title)),
            place
        );
        if verbose {
            for line in clean(&f.body).trim_end().lines() {
                let _ = writeln!(out, "    {line}");
            }
            if let Some(code) = &f.suggestion {
                let _ = writeln!(out, "    suggested replacement:");
                for line in clean(code).lines() {
                    let _ = writeln!(out, "    | {line}");
                }
            }
            let _ = writeln!(out);
        }
    }
    let files = review.stats.files;
    let files = format!("{files} file{}", if files == 1 { "" } else { "s" });
    let mut tally = if review.findings.is_empty() {
        format!(
            "No findings in {files} (+{} -{}).",
            review.additions, review.deletions
        )
    } else {
        let counts: Vec<String> = review
            .counts()
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| paint(severity_color(*s), &format!("{n} {s}")))
            .collect();
        let n = review.findings.len();
        format!(
            "{n} finding{} ({}) in {files} (+{} -{}).",
            if n == 1 { "" } else { "s" },
            counts.join(", "),
            review.additions,
            review.deletions
        )
    };
    let skipped = review.stats.skipped_files.len();
    let notes = review.notes.len();
    if !verbose && (skipped > 0 || notes > 0) {
        let mut more = Vec::new();
        if skipped > 0 {
            more.push(format!(
                "{skipped} file{} not reviewed",
                if skipped == 1 { "" } else { "s" }
            ));
        }
        if notes > 0 {
            more.push(format!("{notes} note{}", if notes == 1 { "" } else { "s" }));
        }
        tally.push_str(&paint(
            DIM,
            &format!(" {} (--verbose shows them).", more.join(", ")),
        ));
    }
    if review.llm_model.is_none() {
        tally.push_str(&paint(
            DIM,
            " Rules only: set OPENAI_API_KEY or ANTHROPIC_API_KEY to add the AI review.",
        ));
    }
    let _ = writeln!(out, "{tally}");
    if verbose {
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
    }
    out
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
