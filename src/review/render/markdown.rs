//! Markdown exactly as Nectr posts it: the review summary and the inline comment bodies.
//!
//! Paths come from the pull request and are untrusted: they are shown only inside code
//! spans, which GitHub never interprets as markup or mentions. Text is escaped once, for
//! GitHub: titles keep their code spans ([`inline_text`]) so no literal backtick shows.

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
    escape_chars(&one_line(text))
}

/// [`escape_inline`] without collapsing whitespace (for pieces of one line).
fn escape_chars(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
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

/// One line of Markdown from text that may hold code spans (rule titles such as
/// "Debugger hook `import pdb` stops execution"): balanced code spans are kept, since
/// GitHub shows their content literally, and everything else goes through
/// [`escape_inline`]. Escaping the backticks too would show them as literal backticks.
pub fn inline_text(text: &str) -> String {
    let text = one_line(text);
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text.as_str();
    loop {
        let Some(tick) = rest.find('`') else {
            out.push_str(&escape_chars(rest));
            return out;
        };
        out.push_str(&escape_chars(&rest[..tick]));
        let after = &rest[tick..];
        let n = after.chars().take_while(|&c| c == '`').count();
        let body = &after[n..];
        // The closer is a run of exactly n backticks.
        let mut search = 0;
        let mut close = None;
        while let Some(i) = body[search..].find('`') {
            let at = search + i;
            let run = body[at..].chars().take_while(|&c| c == '`').count();
            if run == n {
                close = Some(at);
                break;
            }
            search = at + run;
        }
        match close {
            // A span inside a table cell would still end the cell at `|`.
            Some(at) if !body[..at].contains('|') => {
                out.push_str(&after[..n + at + n]);
                rest = &body[at + n..];
            }
            _ => {
                for _ in 0..n {
                    out.push_str("\\`");
                }
                rest = body;
            }
        }
    }
}

/// `path:line` or `path:line-end` as a code span.
pub fn location(f: &Finding) -> String {
    match f.end_line {
        Some(end) if end > f.line => code_span(&format!("{}:{}-{}", f.path, f.line, end)),
        _ => code_span(&format!("{}:{}", f.path, f.line)),
    }
}

/// The finding's body when it says something about this code, rather than repeating the
/// rule's general help (which the inline comment folds into `<details>`).
fn specific_body<'a>(f: &'a Finding, help: Option<&str>) -> Option<&'a str> {
    let mut body = f.body.trim();
    // A line-specific body that goes on to quote the help (secret findings do): only the
    // part before it is specific; the rest is in `<details>` or `how_to_silence`.
    if let Some(help) = help.map(str::trim).filter(|h| !h.is_empty())
        && let Some(at) = body.find(help)
    {
        body = body[..at].trim();
    }
    (!body.is_empty()).then_some(body)
}

/// The fenced replacement for a finding's `suggestion`: a ```` ```suggestion ```` GitHub
/// can apply only when the comment sits on exactly `line..=end_line` of the new file
/// (an anchored RIGHT-side finding); plain code otherwise. An empty suggestion deletes the
/// lines.
pub fn suggestion(f: &Finding) -> Option<String> {
    let code = f.suggestion.as_deref()?;
    let applicable = f.anchored && f.side == crate::diff::Side::Right;
    if code.trim().is_empty() {
        // "```suggestion" with nothing inside removes the commented lines.
        return applicable.then(|| "```suggestion\n```".to_owned());
    }
    crate::review::ai::neutralise::suggestion_block(code, applicable)
}

/// How to silence a rule, for the collapsed part of its comments.
pub fn how_to_silence(rule: &str) -> String {
    format!(
        "To silence it, write {} in a comment on the line, or add {} to {} in {}.",
        code_span(&format!("nectr:ignore {rule}")),
        code_span(rule),
        code_span("rules.disable"),
        code_span(".nectr.yml")
    )
}

/// The body of the inline comment for an anchored finding: the severity and what was found
/// here, the specific explanation, a suggestion when the fix is mechanical, and the rule's
/// general help (why, how to fix, how to silence) folded into `<details>`. `help` is the
/// rule's help text (see [`rule_help`]); `None` for model findings.
pub fn inline_comment(f: &Finding, help: Option<&str>) -> String {
    // The rule id stays the code span ending the first line: `pipeline::context` reads it
    // back from comments posted by earlier runs.
    let mut out = format!(
        "{} **{}** · {} · {}\n",
        severity_icon(f.severity),
        f.severity,
        inline_text(&f.title),
        code_span(&f.rule)
    );
    if let Some(body) = specific_body(f, help) {
        let _ = write!(out, "\n{body}\n");
    }
    if let Some(block) = suggestion(f) {
        let _ = write!(out, "\n{block}\n");
    }
    match help.map(str::trim).filter(|h| !h.is_empty()) {
        Some(help) => {
            let _ = write!(
                out,
                "\n<details>\n<summary>Why it matters, how to fix or silence it</summary>\n\n{help}\n\n{}\n</details>\n",
                how_to_silence(&f.rule)
            );
        }
        None if f.source == crate::review::finding::Source::Rules => {
            let _ = write!(out, "\n<sub>{}</sub>\n", how_to_silence(&f.rule));
        }
        None => {}
    }
    out
}

/// The help text of the rule a finding came from, from the rules that ran.
pub fn rule_help<'a>(review: &'a Review, f: &Finding) -> Option<&'a str> {
    if f.source != crate::review::finding::Source::Rules {
        return None;
    }
    review
        .rules
        .iter()
        .find(|r| r.id == f.rule)
        .map(|r| r.help.as_str())
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The AI reviewer's overview as one text: the per-part summaries are joined by the
/// reviewer, and a sentence or paragraph already said earlier is not said again.
pub fn merge_overview(text: &str) -> String {
    let norm = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .trim_end_matches(['.', '!', '?'])
            .to_lowercase()
    };
    let mut seen = std::collections::HashSet::new();
    let mut paragraphs: Vec<String> = Vec::new();
    for para in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        let structured = para.contains("```")
            || para.contains("~~~")
            || para
                .lines()
                .any(|l| l.trim_start().starts_with(['-', '*', '#', '|', '>']));
        if structured {
            if seen.insert(norm(para)) {
                paragraphs.push(para.to_owned());
            }
            continue;
        }
        let mut kept: Vec<&str> = Vec::new();
        for sentence in sentences(para) {
            if seen.insert(norm(sentence)) {
                kept.push(sentence);
            }
        }
        if !kept.is_empty() {
            paragraphs.push(kept.join(" "));
        }
    }
    // Short prose parts (one per model call, typically) read as one paragraph.
    let prose =
        |p: &String| !p.contains('\n') && !p.starts_with(['-', '*', '#', '|', '>', '`', '~']);
    if paragraphs.iter().all(prose) && paragraphs.iter().map(String::len).sum::<usize>() <= 800 {
        return paragraphs.join(" ");
    }
    paragraphs.join("\n\n")
}

/// Prose split after `.`, `!` or `?` followed by whitespace (code spans are not split).
fn sentences(para: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_code = false;
    let bytes = para.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'`' => in_code = !in_code,
            b'.' | b'!' | b'?'
                if !in_code && bytes.get(i + 1).is_some_and(|n| n.is_ascii_whitespace()) =>
            {
                out.push(para[start..=i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < para.len() && !para[start..].trim().is_empty() {
        out.push(para[start..].trim());
    }
    out
}

/// Notes that are about Nectr's own mechanics rather than the code: they go into the
/// collapsed footer instead of the summary's body.
fn is_technical_note(note: &str) -> bool {
    note.contains("from the AI reviewer dropped")
}

/// The review summary: what was reviewed and the counts (once), the AI overview, context,
/// the findings that are not inline comments, files not reviewed, notes, and a collapsed
/// footer with the model and its token use.
pub fn summary(review: &Review) -> String {
    summary_with(review, "")
}

/// [`summary`] with `after_counts` (Markdown: how this review relates to an earlier one)
/// right after the counts, where a reader looks first.
pub fn summary_with(review: &Review, after_counts: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### Nectr review\n");
    let total = review.findings.len();
    let inline_count = review.findings.iter().filter(|f| f.anchored).count();
    let _ = write!(
        out,
        "Reviewed {} (+{} −{})",
        plural(review.stats.files, "file", "files"),
        review.additions,
        review.deletions
    );
    if total == 0 {
        let _ = writeln!(out, ": no findings.");
    } else {
        let counts: Vec<String> = review
            .counts()
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| format!("{} {n} {s}", severity_icon(*s)))
            .collect();
        let placed = if inline_count == total {
            if total == 1 {
                " It is an inline comment on the diff.".to_owned()
            } else {
                " All are inline comments on the diff.".to_owned()
            }
        } else if inline_count == 0 {
            " They are listed below.".to_owned()
        } else {
            format!(" {inline_count} inline on the diff, the rest below.")
        };
        let _ = writeln!(
            out,
            ": **{}** — {}.{placed}",
            plural(total, "finding", "findings"),
            counts.join(", ")
        );
    }

    if !after_counts.trim().is_empty() {
        let _ = writeln!(out, "\n{}", after_counts.trim());
    }

    if let Some(ai) = review
        .ai_summary
        .as_deref()
        .map(merge_overview)
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
    let off_diff = indexes(Placement::OffDiff);
    let over_cap = indexes(Placement::OverCap);

    if !off_diff.is_empty() {
        let _ = writeln!(out, "\n#### Not on a changed line\n");
        for &i in &off_diff {
            full_item(&mut out, review, &review.findings[i]);
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
            full_item(&mut out, review, &review.findings[i]);
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
    let mut seen_notes = std::collections::HashSet::new();
    for note in review
        .notes
        .iter()
        .filter(|n| !is_technical_note(n) && seen_notes.insert(n.as_str()))
    {
        let _ = writeln!(out, "\n> {}", inline_text(note));
    }
    out.push_str(&footer(review));
    out
}

/// The collapsed footer: which model reviewed and what it cost in calls and tokens, why
/// the whole pull request was reviewed again, Nectr's technical notes. Without a model,
/// one line on how to add the AI review instead.
fn footer(review: &Review) -> String {
    let mut lines: Vec<String> = Vec::new();
    if let Some(model) = &review.llm_model {
        let mut line = format!(
            "AI review: {} · {} · {} input / {} output tokens",
            code_span(model),
            plural(review.stats.llm_calls as usize, "call", "calls"),
            review.stats.llm_input_tokens,
            review.stats.llm_output_tokens
        );
        // Nectr's own words (a vendor name, a dollar amount): nothing from the PR.
        if let Some(cost) = &review.llm_cost {
            line.push_str(&format!(" · {}", cost.describe()));
        }
        lines.push(line);
    }
    if let Some(reason) = &review.stats.full_review_reason {
        // Nectr's own words, with anything from the pull request already in code spans.
        lines.push(format!(
            "Why the whole pull request was reviewed again: {}.",
            reason.trim_end_matches('.')
        ));
    }
    for note in review.notes.iter().filter(|n| is_technical_note(n)) {
        lines.push(inline_text(note));
    }
    let mut out = String::new();
    if !lines.is_empty() {
        let _ = write!(
            out,
            "\n<details>\n<summary><sub>Review details</sub></summary>\n\n"
        );
        for line in lines {
            let _ = writeln!(out, "- {line}");
        }
        let _ = writeln!(out, "\n</details>");
    }
    if review.llm_model.is_none() {
        let _ = writeln!(out, "\n<sub>{AI_OFF_LINE}</sub>");
    }
    out
}

/// What a rules-only summary says about the AI review.
pub const AI_OFF_LINE: &str = "Rule checks only. To add the AI review, set `OPENAI_API_KEY` or `ANTHROPIC_API_KEY` (in the Action: the `llm-api-key` input); see the README.";

fn list_item(f: &Finding) -> String {
    format!(
        "- {} **{}** {} — {} ({})",
        severity_icon(f.severity),
        f.severity,
        location(f),
        inline_text(&f.title),
        code_span(&f.rule)
    )
}

/// A finding listed in the summary with what it says about this code (the rule's general
/// help stays out: the rule id names it) and its suggestion as plain code.
fn full_item(out: &mut String, review: &Review, f: &Finding) {
    let _ = writeln!(out, "{}\n", list_item(f));
    let mut extra = String::new();
    if let Some(body) = specific_body(f, rule_help(review, f)) {
        extra.push_str(body);
    }
    if let Some(block) = suggestion(f) {
        if !extra.is_empty() {
            extra.push_str("\n\n");
        }
        extra.push_str(&block);
    }
    if extra.is_empty() {
        return;
    }
    for line in extra.lines() {
        if line.is_empty() {
            let _ = writeln!(out);
        } else {
            let _ = writeln!(out, "  {line}");
        }
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
            let _ = writeln!(out, "{}", inline_comment(f, rule_help(review, f)));
        }
    }
    out
}
