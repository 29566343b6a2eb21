//! Sentry: unresolved errors whose stack frames point into the files a PR changes.
//!
//! Defaults follow Sentry's official server (`https://mcp.sentry.dev/mcp`):
//! 1. `search_issues` with `{"query": "is:unresolved stack.filename:[…]", "limit": 10}`
//!    (merged with the configured `arguments`, which name `organizationSlug` and usually
//!    `projectSlugOrId`). It answers Markdown: one `## N. [SHORT-ID](url)` section per issue
//!    with `**title**`, `- **Events**: n`, `- **Users**: n`, `- **Last seen**: …`,
//!    `- **Culprit**: …`.
//! 2. `get_issue_details` with `{"issueUrl": url}` (or `organizationSlug` + `issueId`) for
//!    the first few issues, whose Markdown holds the latest event's stack trace: frames as
//!    `"fn" in "path" at line N` or, for JavaScript, `path:N:col (fn)`.
//!
//! Servers that answer JSON (Sentry's REST shapes: `shortId`, `count`, `userCount`,
//! `permalink`, `frames` with `filename`/`absPath`/`lineNo`) are read too. Frames are kept
//! only when their path matches a changed file (see [`match_path`]).

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value, json};

use super::text::{cap_chars, field_str, field_u64, parse_json};

/// The official server's issue search and issue detail tools.
pub const DEFAULT_SEARCH_TOOL: &str = "search_issues";
pub const DEFAULT_DETAIL_TOOL: &str = "get_issue_details";
/// Changed files named in the search query (longest paths are the least useful; the first
/// ones in the diff's order are kept).
const MAX_QUERY_FILES: usize = 12;

/// One live error and the frames of its stack trace that point into changed files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SentryError {
    /// `PROJ-12AB` when the server gave one, else its numeric id.
    pub short_id: String,
    pub title: String,
    pub culprit: String,
    pub events: Option<u64>,
    pub users: Option<u64>,
    /// As the server wrote it (a timestamp or "3 hours ago").
    pub last_seen: String,
    /// Only `https://` URLs are kept.
    pub url: Option<String>,
    /// Frames whose file is one of the changed paths, with the changed path's spelling.
    pub frames: Vec<SentryFrame>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SentryFrame {
    /// The repository-relative changed path this frame matched.
    pub path: String,
    pub line: Option<u32>,
}

/// The default search arguments: unresolved issues with a frame in one of the changed files
/// (by file name; the frames are matched to full paths afterwards).
pub fn default_search_arguments() -> Value {
    json!({"query": "is:unresolved {sentry_filenames}", "limit": 10})
}

/// `stack.filename:[*a.py, *b.ts]` for the changed files (empty without any).
pub fn filename_filter(changed_paths: &[String]) -> String {
    let mut names: Vec<String> = Vec::new();
    for p in changed_paths {
        let base = p.rsplit('/').next().unwrap_or(p);
        // A name with characters Sentry's query syntax gives meaning to is left out.
        if base.is_empty() || base.contains([',', '[', ']', '"', ' ', ':', '\\', '(', ')']) {
            continue;
        }
        let term = format!("*{base}");
        if !names.contains(&term) {
            names.push(term);
        }
        if names.len() >= MAX_QUERY_FILES {
            break;
        }
    }
    if names.is_empty() {
        String::new()
    } else {
        format!("stack.filename:[{}]", names.join(", "))
    }
}

/// Arguments for the detail tool for one issue: the issue's URL when known (the official
/// tool's simplest form), else the organization from the search arguments and the id.
pub fn detail_arguments(
    issue: &SentryError,
    search_args: &Map<String, Value>,
) -> Map<String, Value> {
    let mut args = Map::new();
    if let Some(url) = &issue.url {
        args.insert("issueUrl".into(), Value::String(url.clone()));
    } else {
        if let Some(org) = search_args.get("organizationSlug") {
            args.insert("organizationSlug".into(), org.clone());
        }
        args.insert("issueId".into(), Value::String(issue.short_id.clone()));
    }
    if let Some(region) = search_args.get("regionUrl").filter(|v| !v.is_null()) {
        args.insert("regionUrl".into(), region.clone());
    }
    args
}

/// Read the issues from a search answer (JSON or the official Markdown), at most `max`.
/// Frames found in the answer are kept unfiltered in `raw_frames`.
pub fn parse_issues(
    text: &str,
    structured: Option<&Value>,
    max: usize,
) -> Vec<(SentryError, Vec<RawFrame>)> {
    let json = structured.cloned().or_else(|| parse_json(text));
    let mut out = match json {
        Some(v) => issues_from_json(&v),
        None => issues_from_markdown(text),
    };
    out.truncate(max);
    out
}

/// A frame as the server wrote it: a path (absolute, URL-like or relative) and a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawFrame {
    pub file: String,
    pub line: Option<u32>,
}

fn issues_from_json(v: &Value) -> Vec<(SentryError, Vec<RawFrame>)> {
    let list = match v {
        Value::Array(a) => a.as_slice(),
        Value::Object(_) => ["issues", "data", "results"]
            .iter()
            .find_map(|k| v.get(k).and_then(Value::as_array))
            .map(Vec::as_slice)
            .unwrap_or(std::slice::from_ref(v)),
        _ => &[],
    };
    list.iter()
        .filter(|i| i.is_object())
        .filter_map(|i| {
            let short_id = field_str(i, &["shortId", "short_id", "id"])?;
            let issue = SentryError {
                short_id: cap_chars(&short_id, 60),
                title: cap_chars(
                    &field_str(i, &["title", "message"]).unwrap_or_default(),
                    300,
                ),
                culprit: cap_chars(&field_str(i, &["culprit"]).unwrap_or_default(), 300),
                events: field_u64(i, &["count", "events", "eventCount"]),
                users: field_u64(i, &["userCount", "users"]),
                last_seen: cap_chars(
                    &field_str(i, &["lastSeen", "last_seen"]).unwrap_or_default(),
                    60,
                ),
                url: field_str(i, &["permalink", "url", "link"]).filter(|u| is_https(u)),
                frames: Vec::new(),
            };
            Some((issue, frames_from_json(i)))
        })
        .collect()
}

/// Frames anywhere in a JSON value: objects with a file name and a line number.
pub fn frames_from_json(v: &Value) -> Vec<RawFrame> {
    let mut out = Vec::new();
    collect_frames(v, &mut out, 0);
    out
}

fn collect_frames(v: &Value, out: &mut Vec<RawFrame>, depth: usize) {
    if depth > 12 || out.len() >= 500 {
        return;
    }
    match v {
        Value::Object(map) => {
            let file = field_str(v, &["filename", "absPath", "abs_path", "file", "path"]);
            let line = field_u64(v, &["lineNo", "lineno", "line"]);
            if let (Some(file), true) = (
                file,
                map.contains_key("lineNo")
                    || map.contains_key("lineno")
                    || map.contains_key("line")
                    || map.contains_key("function"),
            ) {
                out.push(RawFrame {
                    file,
                    line: line.and_then(|l| u32::try_from(l).ok()).filter(|&l| l > 0),
                });
                // A frame may carry both `filename` and `absPath`.
                if let Some(abs) = field_str(v, &["absPath", "abs_path"]) {
                    out.push(RawFrame {
                        file: abs,
                        line: line.and_then(|l| u32::try_from(l).ok()).filter(|&l| l > 0),
                    });
                }
            }
            for child in map.values() {
                collect_frames(child, out, depth + 1);
            }
        }
        Value::Array(a) => {
            for child in a {
                collect_frames(child, out, depth + 1);
            }
        }
        _ => {}
    }
}

static ISSUE_HEADING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^#{2,3}\s*(?:\d+\.\s*)?\[([A-Za-z0-9][A-Za-z0-9_.\-]{0,59})\]\(([^)\s]*)\)")
        .expect("valid regex")
});
static BOLD_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*[-*]\s*\*\*([A-Za-z ]+)\*\*\s*:\s*(.*?)\s*$").expect("valid regex")
});

fn issues_from_markdown(text: &str) -> Vec<(SentryError, Vec<RawFrame>)> {
    let mut out: Vec<(SentryError, Vec<RawFrame>)> = Vec::new();
    for line in text.lines() {
        if let Some(c) = ISSUE_HEADING.captures(line) {
            out.push((
                SentryError {
                    short_id: c[1].to_owned(),
                    url: Some(c[2].to_owned()).filter(|u| is_https(u)),
                    ..SentryError::default()
                },
                Vec::new(),
            ));
            continue;
        }
        let Some((issue, frames)) = out.last_mut() else {
            continue;
        };
        let t = line.trim();
        if issue.title.is_empty() && t.starts_with("**") && t.ends_with("**") && t.len() > 4 {
            issue.title = cap_chars(t.trim_matches('*').trim(), 300);
        } else if let Some(c) = BOLD_FIELD.captures(line) {
            let value = c[2].trim().trim_matches('`').to_owned();
            match c[1].trim().to_ascii_lowercase().as_str() {
                "events" => issue.events = value.replace(',', "").parse().ok(),
                "users" => issue.users = value.replace(',', "").parse().ok(),
                "last seen" => issue.last_seen = cap_chars(&value, 60),
                "culprit" => issue.culprit = cap_chars(&value, 300),
                _ => {}
            }
        } else {
            frames.extend(frames_from_line(line));
        }
    }
    out
}

static FRAME_QUOTED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"in "([^"]{1,500})"(?: at line (\d{1,7}))?"#).expect("valid regex")
});
static FRAME_PYTHON: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"File "([^"]{1,500})", line (\d{1,7})"#).expect("valid regex"));
static FRAME_COLON: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[\s`(\[])((?:[A-Za-z][A-Za-z0-9+.\-]*://)?[^\s`:()\[\]]{1,500}\.[A-Za-z0-9]{1,8}):(\d{1,7})(?::\d{1,7})?(?:$|[\s`)\],])")
        .expect("valid regex")
});

/// Frames in one line of Markdown or plain text, in the official server's shapes (and a
/// Python traceback's).
pub fn frames_from_line(line: &str) -> Vec<RawFrame> {
    let mut out = Vec::new();
    let parse = |s: Option<regex::Match<'_>>| {
        s.and_then(|m| m.as_str().parse::<u32>().ok())
            .filter(|&l| l > 0)
    };
    for c in FRAME_QUOTED.captures_iter(line) {
        out.push(RawFrame {
            file: c[1].to_owned(),
            line: parse(c.get(2)),
        });
    }
    for c in FRAME_PYTHON.captures_iter(line) {
        out.push(RawFrame {
            file: c[1].to_owned(),
            line: parse(c.get(2)),
        });
    }
    if out.is_empty() {
        for c in FRAME_COLON.captures_iter(line) {
            out.push(RawFrame {
                file: c[1].to_owned(),
                line: parse(c.get(2)),
            });
        }
    }
    out
}

/// Frames in a whole detail answer (JSON or text).
pub fn frames_from_text(text: &str, structured: Option<&Value>) -> Vec<RawFrame> {
    if let Some(v) = structured.cloned().or_else(|| parse_json(text)) {
        return frames_from_json(&v);
    }
    text.lines().flat_map(frames_from_line).take(500).collect()
}

/// The changed path a frame's file refers to, if any. Sentry's paths are absolute
/// (`/app/src/a.py`), URL-like (`webpack:///./src/a.ts`, `app:///src/a.ts`) or relative
/// (`src/a.py`, `a.py`); a frame matches a changed path when one ends with the other on a
/// `/` boundary. A bare file name matches only when exactly one changed path has it.
pub fn match_path<'a>(frame_file: &str, changed_paths: &'a [String]) -> Option<&'a str> {
    let mut f = frame_file.replace('\\', "/");
    if let Some((_, rest)) = f.split_once("://") {
        f = rest.to_owned();
    }
    let f = f.split(['?', '#']).next().unwrap_or_default();
    let f = f.trim_start_matches(['/', '.']).trim_start_matches('/');
    let f = f.strip_prefix("~/").unwrap_or(f);
    if f.is_empty() {
        return None;
    }
    if !f.contains('/') {
        let mut hits = changed_paths
            .iter()
            .filter(|p| p.rsplit('/').next() == Some(f));
        let first = hits.next()?;
        return hits.next().is_none().then_some(first.as_str());
    }
    changed_paths
        .iter()
        .filter(|p| {
            let p = p.as_str();
            f == p
                || f.ends_with(&format!("/{p}"))
                || (p.ends_with(&format!("/{f}")) && f.contains('/'))
        })
        // The longest (most specific) changed path wins.
        .max_by_key(|p| p.len())
        .map(String::as_str)
}

/// The frames of `raw` that point into changed files, de-duplicated.
pub fn matching_frames(raw: &[RawFrame], changed_paths: &[String]) -> Vec<SentryFrame> {
    let mut out: Vec<SentryFrame> = raw
        .iter()
        .filter_map(|r| {
            Some(SentryFrame {
                path: match_path(&r.file, changed_paths)?.to_owned(),
                line: r.line,
            })
        })
        .collect();
    out.sort();
    out.dedup();
    // A line-less frame adds nothing when the same file has a frame with a line.
    let with_lines: Vec<String> = out
        .iter()
        .filter(|f| f.line.is_some())
        .map(|f| f.path.clone())
        .collect();
    out.retain(|f| f.line.is_some() || !with_lines.contains(&f.path));
    out.truncate(20);
    out
}

fn is_https(url: &str) -> bool {
    url.starts_with("https://")
        && url.len() < 500
        && !url
            .contains(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == '<' || c == '>')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn paths_match_on_segment_boundaries() {
        let changed = paths(&[
            "src/app/models.py",
            "web/src/utils.ts",
            "README.md",
            "a/x.rs",
            "b/x.rs",
        ]);
        assert_eq!(
            match_path("/srv/app/src/app/models.py", &changed),
            Some("src/app/models.py")
        );
        assert_eq!(
            match_path("app/models.py", &changed),
            Some("src/app/models.py")
        );
        assert_eq!(
            match_path("webpack:///./src/utils.ts", &changed),
            Some("web/src/utils.ts")
        );
        assert_eq!(
            match_path("app:///web/src/utils.ts?v=3", &changed),
            Some("web/src/utils.ts")
        );
        assert_eq!(
            match_path("C:\\build\\web\\src\\utils.ts", &changed),
            Some("web/src/utils.ts")
        );
        assert_eq!(match_path("models.py", &changed), Some("src/app/models.py"));
        assert_eq!(match_path("x.rs", &changed), None, "ambiguous file name");
        assert_eq!(match_path("/srv/othermodels.py", &changed), None);
        assert_eq!(match_path("/srv/app/other/models.py", &changed), None);
        assert_eq!(match_path("", &changed), None);
    }

    #[test]
    fn official_markdown_search_answer() {
        let text = "# Search Results for \"is:unresolved\"\n\n**View these results in Sentry**:\nhttps://acme.sentry.io/issues/?query=x\n\nFound **2** issues:\n\n## 1. [BACKEND-1A](https://acme.sentry.io/issues/BACKEND-1A)\n\n**TypeError: NoneType has no attribute 'id'**\n\n- **Status**: unresolved\n- **Users**: 12\n- **Events**: 1,234\n- **First seen**: 3 days ago\n- **Last seen**: 2 hours ago\n- **Culprit**: `app.models in save`\n\n## 2. [BACKEND-2](javascript:alert(1))\n\n**Other**\n\n## Next Steps\n";
        let issues = parse_issues(text, None, 10);
        assert_eq!(issues.len(), 2);
        let (a, _) = &issues[0];
        assert_eq!(a.short_id, "BACKEND-1A");
        assert_eq!(a.title, "TypeError: NoneType has no attribute 'id'");
        assert_eq!(a.events, Some(1234));
        assert_eq!(a.users, Some(12));
        assert_eq!(a.last_seen, "2 hours ago");
        assert_eq!(a.culprit, "app.models in save");
        assert_eq!(
            a.url.as_deref(),
            Some("https://acme.sentry.io/issues/BACKEND-1A")
        );
        assert_eq!(issues[1].0.url, None, "only https links");
        assert_eq!(parse_issues(text, None, 1).len(), 1);
    }

    #[test]
    fn frames_in_the_official_shapes() {
        let text = "**Most Relevant Frame:**\n─────────────────────\n  File \"src/app/models.py\", line 42, in save\n\n```\n\"save\" in \"app/models.py\" at line 42:10\nunknown function in \"/usr/lib/python3/threading.py\" at line 900\n/app/web/src/utils.ts:17:3 (formatDate)\n```";
        let frames = frames_from_text(text, None);
        assert!(
            frames.contains(&RawFrame {
                file: "src/app/models.py".into(),
                line: Some(42)
            }),
            "{frames:?}"
        );
        assert!(frames.contains(&RawFrame {
            file: "app/models.py".into(),
            line: Some(42)
        }));
        assert!(frames.contains(&RawFrame {
            file: "/app/web/src/utils.ts".into(),
            line: Some(17)
        }));
        let changed = paths(&["src/app/models.py", "web/src/utils.ts"]);
        let m = matching_frames(&frames, &changed);
        assert_eq!(
            m,
            [
                SentryFrame {
                    path: "src/app/models.py".into(),
                    line: Some(42)
                },
                SentryFrame {
                    path: "web/src/utils.ts".into(),
                    line: Some(17)
                },
            ]
        );
    }

    #[test]
    fn json_issues_with_frames() {
        let v = serde_json::json!({"issues": [{
            "shortId": "WEB-9", "title": "boom", "count": "17", "userCount": 3,
            "permalink": "https://acme.sentry.io/issues/9/",
            "entries": [{"type": "exception", "data": {"values": [{"stacktrace": {"frames": [
                {"filename": "./src/utils.ts", "absPath": "webpack:///./src/utils.ts", "lineNo": 17, "function": "f"},
                {"filename": "node_modules/x.js", "lineNo": 1}
            ]}}]}}]
        }]});
        let issues = parse_issues("", Some(&v), 10);
        let (e, raw) = &issues[0];
        assert_eq!(e.short_id, "WEB-9");
        assert_eq!(e.events, Some(17));
        let m = matching_frames(raw, &paths(&["web/src/utils.ts"]));
        assert_eq!(
            m,
            [SentryFrame {
                path: "web/src/utils.ts".into(),
                line: Some(17)
            }]
        );
    }

    #[test]
    fn the_query_names_changed_files() {
        assert_eq!(
            filename_filter(&paths(&["src/a.py", "web/b.ts", "x/a.py", "bad name.py"])),
            "stack.filename:[*a.py, *b.ts]"
        );
        assert_eq!(filename_filter(&[]), "");
    }
}
