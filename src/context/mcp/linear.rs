//! Linear: issue keys (`ABC-123`) in the PR's title, body and branch, looked up with the
//! server's issue tool, and the answer read into a [`LinearIssue`].
//!
//! Defaults follow Linear's official remote server (`https://mcp.linear.app/mcp`): the tool
//! `get_issue` with `{"id": "ABC-123"}` answers the issue as JSON text (`identifier`,
//! `title`, `description`, `status`, `url`, …). Other servers answer with other field names
//! or with Markdown; the reader accepts the common shapes and falls back to the text.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Value, json};

use super::text::{cap_chars, field_str, parse_json};

/// The tool the official server reads one issue with.
pub const DEFAULT_TOOL: &str = "get_issue";

/// The default arguments, `{issue_key}` being replaced by each key.
pub fn default_arguments() -> Value {
    json!({"id": "{issue_key}"})
}

/// Longest description kept (the rest is cut with a note).
pub const MAX_DESCRIPTION_CHARS: usize = 4_000;
const MAX_CRITERIA: usize = 20;

/// One Linear issue, as read from the server. All text is untrusted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinearIssue {
    pub key: String,
    pub title: String,
    /// Workflow state, e.g. `In Progress`; empty when the server did not say.
    pub state: String,
    pub description: String,
    /// Items under an "Acceptance criteria" heading of the description.
    pub acceptance_criteria: Vec<String>,
    /// Only `https://` URLs are kept.
    pub url: Option<String>,
}

/// Words that look like issue keys but are not: encodings, hashes, standards.
const NOT_KEYS: &[&str] = &[
    "UTF", "UCS", "SHA", "MD", "ISO", "RFC", "CVE", "CWE", "GHSA", "PEP", "ECMA", "ES", "GPL",
    "LGPL", "AGPL", "BSD", "MIT", "APACHE", "TLS", "SSL", "HTTP", "AES", "RSA", "ECDSA", "ED",
    "CRC", "BASE", "IPV", "X", "COVID", "GPT", "WIN", "ARM", "PDF", "TCP", "UDP", "HTML", "CSS",
    "JSON", "YAML", "PR", "CI", "IEEE", "ANSI", "ASCII", "LATIN", "CP", "WINDOWS", "S3", "EC2",
    "P", "PY", "NODE", "JDK", "JAVA", "PHP", "V",
];

static TEXT_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^A-Za-z0-9_\-.])([A-Z][A-Z0-9]{0,9})-([1-9][0-9]{0,6})(?:$|[^A-Za-z0-9_\-.]|\.(?:$|\s))")
        .expect("valid regex")
});
// Linear's branch names are lower case: `alice/abc-123-fix-login`.
static BRANCH_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|/)([a-z][a-z0-9]{0,9})-([1-9][0-9]{0,6})(?:$|[-_/])")
        .expect("valid regex")
});

/// Issue keys (`ABC-123`) in the title, body and branch, in that order, de-duplicated and
/// at most `max`. Encodings and standards (`UTF-8`, `SHA-256`, `ISO-8601`) are not keys.
pub fn issue_keys(title: &str, body: &str, branch: &str, max: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let push = |team: &str, number: &str, out: &mut Vec<String>| {
        let team = team.to_ascii_uppercase();
        if team.len() < 2 || NOT_KEYS.contains(&team.as_str()) {
            return;
        }
        let key = format!("{team}-{number}");
        if !out.contains(&key) && out.len() < max {
            out.push(key);
        }
    };
    for text in [title, body] {
        // Overlapping matches share a separator; scan line by line and restart after each.
        for line in text.lines() {
            let mut at = 0;
            while let Some(c) = TEXT_KEY.captures_at(line, at) {
                push(&c[1], &c[2], &mut out);
                at = c.get(2).map_or(line.len(), |m| m.end());
            }
        }
    }
    let mut at = 0;
    while let Some(c) = BRANCH_KEY.captures_at(branch, at) {
        push(&c[1], &c[2], &mut out);
        at = c.get(2).map_or(branch.len(), |m| m.end());
    }
    out
}

/// Read one issue from a tool's answer: JSON (the issue object, or one wrapped in `issue`
/// or `data`) or text (Markdown with a heading and `State:` lines). `None` when the answer
/// does not look like this issue.
pub fn parse_issue(key: &str, text: &str, structured: Option<&Value>) -> Option<LinearIssue> {
    let json = structured.cloned().or_else(|| parse_json(text));
    if let Some(v) = json {
        let obj = ["issue", "data"]
            .iter()
            .find_map(|k| v.get(k).filter(|x| x.is_object()))
            .unwrap_or(&v);
        if obj.is_object() {
            return Some(from_json(key, obj));
        }
    }
    from_text(key, text)
}

fn from_json(key: &str, obj: &Value) -> LinearIssue {
    let state = ["status", "state"]
        .iter()
        .find_map(|k| {
            let v = obj.get(k)?;
            v.as_str()
                .map(str::to_owned)
                .or_else(|| field_str(v, &["name"]))
        })
        .unwrap_or_default();
    let description = field_str(obj, &["description", "body"]).unwrap_or_default();
    LinearIssue {
        key: field_str(obj, &["identifier", "key"])
            .filter(|k| k.eq_ignore_ascii_case(key))
            .unwrap_or_else(|| key.to_owned()),
        title: field_str(obj, &["title", "name"]).unwrap_or_default(),
        state,
        acceptance_criteria: acceptance_criteria(&description),
        description: cap_chars(&description, MAX_DESCRIPTION_CHARS),
        url: field_str(obj, &["url", "link"]).filter(|u| is_https(u)),
    }
}

static STATE_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?im)^\s*(?:[-*]\s*)?\**(?:state|status)\**\s*:\**\s*(.+?)\s*$")
        .expect("valid regex")
});
static URL_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"https://linear\.app/[^\s)>\]]+").expect("valid regex"));

fn from_text(key: &str, text: &str) -> Option<LinearIssue> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let first = text.lines().next().unwrap_or_default();
    let title = first
        .trim_start_matches('#')
        .trim()
        .trim_start_matches(key)
        .trim_start_matches([':', ' ', '-', '—'])
        .trim()
        .to_owned();
    let state = STATE_LINE
        .captures(text)
        .map(|c| c[1].trim_matches('*').trim().to_owned())
        .unwrap_or_default();
    let description = text.lines().skip(1).collect::<Vec<_>>().join("\n");
    Some(LinearIssue {
        key: key.to_owned(),
        title,
        state,
        acceptance_criteria: acceptance_criteria(&description),
        description: cap_chars(description.trim(), MAX_DESCRIPTION_CHARS),
        url: URL_LINE.find(text).map(|m| m.as_str().to_owned()),
    })
}

fn is_https(url: &str) -> bool {
    url.starts_with("https://") && !url.contains(char::is_whitespace)
}

static CRITERIA_HEADING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:#{1,6}\s*|\*\*|__)?\s*(?:acceptance criteria|definition of done|\bac\b)\s*(?:\*\*|__)?\s*:?\s*(?:\*\*|__)?\s*$")
        .expect("valid regex")
});
static LIST_ITEM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:[-*+]|\d+[.)])\s+(?:\[[ xX]\]\s+)?(.+?)\s*$").expect("valid regex")
});

/// The list items under an "Acceptance criteria" (or "Definition of done") heading, until
/// the next heading or the first non-list line after the list.
pub fn acceptance_criteria(description: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in description.lines() {
        if !inside {
            inside = CRITERIA_HEADING.is_match(line);
            continue;
        }
        let t = line.trim();
        if t.is_empty() {
            if out.is_empty() {
                continue;
            }
            break;
        }
        if t.starts_with('#') || (t.starts_with("**") && t.ends_with("**")) {
            break;
        }
        match LIST_ITEM.captures(line) {
            Some(c) => {
                out.push(cap_chars(&c[1], 300));
                if out.len() >= MAX_CRITERIA {
                    break;
                }
            }
            None if out.is_empty() => out.push(cap_chars(t, 300)),
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_title_body_and_branch() {
        let keys = issue_keys(
            "ENG-42: fix login",
            "Closes ABC-7 and https://linear.app/acme/issue/OPS-1234/slug\nSee ENG-42 again.",
            "alice/web-99-make-it-fast",
            10,
        );
        assert_eq!(keys, ["ENG-42", "ABC-7", "OPS-1234", "WEB-99"]);
    }

    #[test]
    fn encodings_hashes_and_versions_are_not_keys() {
        let keys = issue_keys(
            "Use UTF-8 and SHA-256 per ISO-8601, RFC-3339, CVE-2024-1234",
            "x86-64, v1.2-3, abc-123 lower, A-1 short, 0-day, ENG-0, GPT-4, foo.BAR-1, BAR-1.5",
            "update-deps-2",
            10,
        );
        assert!(keys.is_empty(), "{keys:?}");
    }

    #[test]
    fn keys_are_capped_and_deduplicated() {
        let keys = issue_keys("AB-1 AB-1 AB-2, AB-3 (AB-4)", "", "ab-2-x", 3);
        assert_eq!(keys, ["AB-1", "AB-2", "AB-3"]);
    }

    #[test]
    fn official_json_answer() {
        let text = r#"{"id":"uuid","identifier":"ENG-42","title":"Login fails","description":"Users cannot log in.\n\n## Acceptance criteria\n- [ ] Login works with SSO\n- [x] Errors are shown\n\n## Notes\nnone","status":"In Progress","url":"https://linear.app/acme/issue/ENG-42/login"}"#;
        let issue = parse_issue("ENG-42", text, None).unwrap();
        assert_eq!(issue.key, "ENG-42");
        assert_eq!(issue.title, "Login fails");
        assert_eq!(issue.state, "In Progress");
        assert_eq!(
            issue.acceptance_criteria,
            ["Login works with SSO", "Errors are shown"]
        );
        assert_eq!(
            issue.url.as_deref(),
            Some("https://linear.app/acme/issue/ENG-42/login")
        );
    }

    #[test]
    fn nested_state_objects_and_hostile_urls() {
        let v = serde_json::json!({"issue": {"key": "X-1", "title": "t", "state": {"name": "Todo"}, "url": "javascript:alert(1)"}});
        let issue = parse_issue("XY-1", "", Some(&v)).unwrap();
        assert_eq!(issue.state, "Todo");
        assert_eq!(
            issue.key, "XY-1",
            "a different key from the server is not trusted"
        );
        assert_eq!(issue.url, None);
    }

    #[test]
    fn markdown_answer() {
        let text = "# ENG-5: Faster search\n**Status:** Done\nhttps://linear.app/acme/issue/ENG-5\n\nAcceptance Criteria:\n1. p95 under 100 ms\n2. no new index\nmore prose";
        let issue = parse_issue("ENG-5", text, None).unwrap();
        assert_eq!(issue.title, "Faster search");
        assert_eq!(issue.state, "Done");
        assert_eq!(
            issue.acceptance_criteria,
            ["p95 under 100 ms", "no new index"]
        );
        assert!(parse_issue("ENG-5", "  ", None).is_none());
    }
}
