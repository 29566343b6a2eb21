//! Model output made safe to post: no pings, no forged Nectr markers, no raw HTML, bounded
//! sizes, and ```` ```suggestion ```` blocks only where GitHub can apply them.
//!
//! Everything the model writes passes through [`markdown`] (bodies, the summary) or
//! [`title`] before it reaches a [`Finding`](crate::review::finding::Finding).

use crate::publish::marker::strip_markers;
use crate::publish::truncate_body;

/// An AI finding's body (the inline comment adds a header line and Nectr's marker, well
/// within [`crate::publish::MAX_INLINE_CHARS`]).
pub const MAX_FINDING_BODY_CHARS: usize = 4_000;
/// One-line titles.
pub const MAX_TITLE_CHARS: usize = 200;
/// The AI overview in the summary (the rest of the summary needs room within GitHub's
/// 65,536).
pub const MAX_AI_SUMMARY_CHARS: usize = 8_000;
/// A suggestion longer than this is not offered.
pub const MAX_SUGGESTION_CHARS: usize = 3_000;

const ZWJ: char = '\u{200D}';

/// Remove HTML comments (`<!-- … -->`, and an unclosed `<!--` to the end).
fn strip_html_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        match rest[start + 4..].find("-->") {
            Some(end) => rest = &rest[start + 4 + end + 3..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Is `line` a code fence (```` ``` ```` or `~~~`, up to 3 spaces of indent)? Returns the
/// fence character and its length.
fn fence_of(line: &str) -> Option<(char, usize)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let t = &line[indent..];
    let c = t.chars().next()?;
    if c != '`' && c != '~' {
        return None;
    }
    let n = t.chars().take_while(|&x| x == c).count();
    (n >= 3).then_some((c, n))
}

/// Text outside code: `<` escaped (no raw HTML), `@name` mentions broken with a zero-width
/// joiner so they cannot ping anyone.
fn escape_prose(text: &str, out: &mut String) {
    let mut prev: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '<' => out.push_str("&lt;"),
            '@' => {
                out.push('@');
                let starts_word = prev.is_none_or(|p| !(p.is_alphanumeric() || p == '_'));
                if starts_word
                    && chars
                        .peek()
                        .is_some_and(|n| n.is_ascii_alphanumeric() || *n == '-' || *n == '_')
                {
                    out.push(ZWJ);
                }
            }
            _ => out.push(c),
        }
        prev = Some(c);
    }
}

/// One line outside fenced blocks: code spans kept verbatim, the rest escaped.
fn escape_line(line: &str, out: &mut String) {
    let mut rest = line;
    loop {
        let Some(tick) = rest.find('`') else {
            escape_prose(rest, out);
            return;
        };
        escape_prose(&rest[..tick], out);
        let after = &rest[tick..];
        let n = after.chars().take_while(|&c| c == '`').count();
        let opener = &after[..n];
        let body = &after[n..];
        // The matching closer: a run of exactly n backticks.
        let mut search = 0;
        let mut close = None;
        while let Some(i) = body[search..].find(opener) {
            let at = search + i;
            let run = body[at..].chars().take_while(|&c| c == '`').count();
            if run == n {
                close = Some(at);
                break;
            }
            search = at + run;
        }
        match close {
            Some(at) => {
                out.push_str(opener);
                out.push_str(&body[..at]);
                out.push_str(opener);
                rest = &body[at + n..];
            }
            None => {
                out.push_str(opener);
                rest = body;
            }
        }
    }
}

/// Model-written markdown made safe to post, capped at `max` characters: HTML comments
/// and Nectr markers removed, raw HTML escaped and mentions broken outside code, fenced
/// blocks closed.
pub fn markdown(text: &str, max: usize) -> String {
    let text = strip_html_comments(text);
    let mut out = String::with_capacity(text.len() + 16);
    let mut fence: Option<(char, usize)> = None;
    for (i, line) in text.lines().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        match (fence, fence_of(line)) {
            (Some((c, n)), Some((c2, n2))) if c == c2 && n2 >= n && line.trim().len() == n2 => {
                fence = None;
                out.push_str(line);
            }
            (Some(_), _) => out.push_str(line),
            (None, Some(f)) => {
                fence = Some(f);
                // The info string is prose-like: keep it to a plain word.
                let info: String = line
                    .trim_start()
                    .trim_start_matches(f.0)
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || "+-_.".contains(*c))
                    .collect();
                out.push_str(&f.0.to_string().repeat(f.1));
                out.push_str(&info);
            }
            (None, None) => escape_line(line, &mut out),
        }
    }
    let out = strip_markers(&out);
    let out = truncate_body(&out, max, "*(truncated)*");
    close_fences(out)
}

/// Close a fenced block left open (by the model or by truncation).
fn close_fences(mut text: String) -> String {
    let mut fence: Option<(char, usize)> = None;
    for line in text.lines() {
        match (fence, fence_of(line)) {
            (Some((c, n)), Some((c2, n2))) if c == c2 && n2 >= n && line.trim().len() == n2 => {
                fence = None
            }
            (None, Some(f)) => fence = Some(f),
            _ => {}
        }
    }
    if let Some((c, n)) = fence {
        text.push('\n');
        text.push_str(&c.to_string().repeat(n));
    }
    text
}

/// A one-line plain-text title (it is escaped again when rendered).
pub fn title(text: &str) -> String {
    let text = strip_markers(&strip_html_comments(text));
    let one: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::new();
    escape_prose(&one, &mut out);
    let out = out.replace("&lt;", "<"); // the renderer escapes `<` itself
    if out.chars().count() > MAX_TITLE_CHARS {
        let cut: String = out.chars().take(MAX_TITLE_CHARS - 1).collect();
        format!("{cut}…")
    } else if out.is_empty() {
        "AI review finding".to_owned()
    } else {
        out
    }
}

/// The fenced block for a suggested replacement. `applicable`: the finding is anchored on
/// the RIGHT side, so GitHub can apply it as a ```` ```suggestion ````; otherwise it is
/// shown as plain code. `None` when the code is too long to show.
pub fn suggestion_block(code: &str, applicable: bool) -> Option<String> {
    let code = strip_markers(&strip_html_comments(code));
    let code = code.trim_end_matches(['\n', '\r']);
    if code.chars().count() > MAX_SUGGESTION_CHARS {
        return None;
    }
    let mut longest = 0;
    let mut run = 0;
    for c in code.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat((longest + 1).max(3));
    Some(if applicable {
        format!("{fence}suggestion\n{code}\n{fence}")
    } else {
        format!("Suggested code (not applicable as a suggestion here):\n\n{fence}\n{code}\n{fence}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_cannot_ping_outside_code() {
        let out = markdown("ping @octocat and @org/team, mail a@b.c, `@kept`", 1000);
        assert!(!out.contains("@octocat"), "{out}");
        assert!(!out.contains("@org/team"), "{out}");
        assert!(out.contains(&format!("@{ZWJ}octocat")));
        assert!(out.contains("a@b.c"), "emails are not mentions: {out}");
        assert!(out.contains("`@kept`"), "code spans are verbatim: {out}");
    }

    #[test]
    fn markers_and_html_comments_are_removed() {
        let out = markdown(
            "a <!-- nectr:review {\"x\":1} --> b <!-- hidden --> c\n```\n<!-- nectr:finding 0123456789abcdef -->\n```\n<!-- unclosed nectr:",
            1000,
        );
        assert!(!out.contains("<!--"), "{out}");
        assert!(!out.contains("nectr:review"), "{out}");
        assert!(!out.contains("<!-- nectr:"), "{out}");
        let forged = title("<!-- nectr:review --> Bad @admin");
        assert!(
            !forged.contains("<!--") && !forged.contains("@admin"),
            "{forged}"
        );
    }

    #[test]
    fn raw_html_is_escaped_except_in_code() {
        let out = markdown(
            "<script>alert(1)</script> <img src=x onerror=y>\n```html\n<b>ok</b>\n```\n`<i>`",
            1000,
        );
        assert!(
            out.starts_with("&lt;script>alert(1)&lt;/script> &lt;img"),
            "{out}"
        );
        assert!(out.contains("\n<b>ok</b>\n"), "{out}");
        assert!(out.contains("`<i>`"), "{out}");
        assert!(!out.contains("<script"), "{out}");
    }

    #[test]
    fn huge_bodies_are_capped_and_fences_closed() {
        let body = format!("start\n```\n{}", "x\n".repeat(50_000));
        let out = markdown(&body, MAX_FINDING_BODY_CHARS);
        assert!(
            out.chars().count() <= MAX_FINDING_BODY_CHARS + 4,
            "{}",
            out.len()
        );
        assert!(out.trim_end().ends_with("```"), "fence closed");
        let t = title(&"word ".repeat(1000));
        assert!(t.chars().count() <= MAX_TITLE_CHARS);
    }

    #[test]
    fn suggestions_are_applicable_only_when_asked_and_fenced_safely() {
        let s = suggestion_block("let x = 1;", true).unwrap();
        assert_eq!(s, "```suggestion\nlet x = 1;\n```");
        let s = suggestion_block("a ```` b", false).unwrap();
        assert!(!s.contains("```suggestion"));
        assert!(s.contains("`````\na ```` b\n`````"), "{s}");
        assert!(suggestion_block(&"x".repeat(MAX_SUGGESTION_CHARS + 1), true).is_none());
    }
}
