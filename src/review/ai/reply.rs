//! The model's reply: the JSON it is asked for, and a defensive parser for what it sends.
//!
//! Models wrap JSON in code fences, add prose around it and leave trailing commas; all of
//! that is tolerated. What cannot be read as one JSON object is an error (the caller asks
//! once for a repair, then gives up).

use serde_json::{Value, json};

use crate::review::finding::{Severity, Side};

/// The JSON Schema sent as `response_schema`.
pub fn response_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["summary", "findings"],
        "properties": {
            "summary": {"type": "string", "description": "2-5 sentences: what the change does and the main risks"},
            "findings": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["path", "line", "severity", "title", "body"],
                    "properties": {
                        "path": {"type": "string"},
                        "line": {"type": "integer", "minimum": 1},
                        "end_line": {"type": ["integer", "null"], "minimum": 1},
                        "side": {"type": "string", "enum": ["RIGHT", "LEFT"]},
                        "severity": {"type": "string", "enum": ["critical", "major", "minor", "nit"]},
                        "title": {"type": "string"},
                        "body": {"type": "string"},
                        "suggestion": {"type": ["string", "null"]}
                    }
                }
            }
        }
    })
}

/// One finding as the model gave it, validated for shape but not yet against the diff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawFinding {
    pub path: String,
    pub line: u32,
    pub end_line: Option<u32>,
    pub side: Side,
    pub severity: Severity,
    pub title: String,
    pub body: String,
    pub suggestion: Option<String>,
}

/// A parsed reply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    pub summary: String,
    pub findings: Vec<RawFinding>,
    /// Findings dropped for their shape (no path, no line, not an object).
    pub malformed: usize,
}

/// Remove a surrounding ```` ```json … ``` ```` fence, if the text has one.
fn strip_fences(text: &str) -> &str {
    let t = text.trim();
    if let Some(start) = t.find("```") {
        let after = &t[start + 3..];
        let body_start = after.find('\n').map_or(after.len(), |i| i + 1);
        let body = &after[body_start..];
        if let Some(end) = body.rfind("```")
            && body[..end].contains('{')
        {
            return &body[..end];
        }
    }
    t
}

/// The outermost JSON object in `text`: from the first `{` to its matching `}`, braces in
/// strings ignored. `Err` when it never closes.
fn outermost_object(text: &str) -> Result<&str, String> {
    let start = text
        .find('{')
        .ok_or_else(|| "the reply contains no JSON object".to_owned())?;
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    for (i, c) in text[start..].char_indices() {
        if in_str {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '{' | '[' => depth += 1,
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Ok(&text[start..start + i + 1]);
                }
            }
            _ => {}
        }
    }
    Err("the JSON object is incomplete (the reply was cut off)".to_owned())
}

/// Drop commas directly before `}` or `]` (outside strings).
fn remove_trailing_commas(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut in_str = false;
    let mut escaped = false;
    let chars: Vec<char> = json.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if in_str {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_str = false,
                _ => {}
            }
            out.push(c);
            continue;
        }
        if c == '"' {
            in_str = true;
        }
        if c == ',' {
            let next = chars[i + 1..].iter().find(|c| !c.is_whitespace());
            if matches!(next, Some('}') | Some(']')) {
                continue;
            }
        }
        out.push(c);
    }
    out
}

fn as_u32(v: Option<&Value>) -> Option<u32> {
    match v? {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn as_string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// Unknown severities become `minor`.
pub fn severity(text: &str) -> Severity {
    match text.trim().to_ascii_lowercase().as_str() {
        "critical" | "blocker" => Severity::Critical,
        "major" | "high" | "error" => Severity::Major,
        "nit" | "nitpick" | "trivial" => Severity::Nit,
        _ => Severity::Minor,
    }
}

/// Parse the model's reply.
pub fn parse(text: &str) -> Result<Reply, String> {
    let json = outermost_object(strip_fences(text)).or_else(|e| {
        // The fence may have held something else: try the whole text.
        outermost_object(text).map_err(|_| e)
    })?;
    let value: Value = serde_json::from_str(json)
        .or_else(|_| serde_json::from_str(&remove_trailing_commas(json)))
        .map_err(|e| format!("the reply is not valid JSON ({e})"))?;
    let obj = value
        .as_object()
        .ok_or_else(|| "the reply is not a JSON object".to_owned())?;
    let summary = as_string(obj.get("summary")).unwrap_or_default();
    let items = match obj.get("findings") {
        Some(Value::Array(items)) => items.as_slice(),
        None | Some(Value::Null) => &[],
        Some(_) => return Err("`findings` is not an array".to_owned()),
    };
    let mut reply = Reply {
        summary,
        ..Reply::default()
    };
    for item in items {
        let Some(f) = item.as_object() else {
            reply.malformed += 1;
            continue;
        };
        let path = as_string(f.get("path")).map(|p| {
            p.trim()
                .trim_start_matches("b/")
                .trim_start_matches("./")
                .to_owned()
        });
        let (Some(path), Some(line)) = (path.filter(|p| !p.is_empty()), as_u32(f.get("line")))
        else {
            reply.malformed += 1;
            continue;
        };
        if line == 0 {
            reply.malformed += 1;
            continue;
        }
        let end_line = as_u32(f.get("end_line")).filter(|&e| e > line);
        let side = match as_string(f.get("side")).as_deref().map(str::trim) {
            Some(s) if s.eq_ignore_ascii_case("left") => Side::Left,
            _ => Side::Right,
        };
        reply.findings.push(RawFinding {
            path,
            line,
            end_line,
            side,
            severity: severity(&as_string(f.get("severity")).unwrap_or_default()),
            title: as_string(f.get("title")).unwrap_or_default(),
            body: as_string(f.get("body")).unwrap_or_default(),
            suggestion: as_string(f.get("suggestion")).filter(|s| !s.trim().is_empty()),
        });
    }
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"summary": "Adds a parser.", "findings": [
        {"path": "src/a.rs", "line": 12, "severity": "major", "title": "Off by one", "body": "Use `<=`."}
    ]}"#;

    #[test]
    fn plain_json() {
        let r = parse(GOOD).unwrap();
        assert_eq!(r.summary, "Adds a parser.");
        assert_eq!(r.findings.len(), 1);
        assert_eq!(r.findings[0].line, 12);
        assert_eq!(r.findings[0].severity, Severity::Major);
        assert_eq!(r.findings[0].side, Side::Right);
    }

    #[test]
    fn fences_and_prose_around() {
        let fenced = format!("Here is my review:\n```json\n{GOOD}\n```\nHope it helps {{ }}");
        assert_eq!(parse(&fenced).unwrap(), parse(GOOD).unwrap());
        let prose = format!("Sure! {GOOD} Let me know.");
        assert_eq!(parse(&prose).unwrap(), parse(GOOD).unwrap());
    }

    #[test]
    fn trailing_commas_are_tolerated() {
        let r = parse(r#"{"summary": "s", "findings": [{"path": "a", "line": 1, "severity": "nit", "title": "t", "body": "b",},],}"#).unwrap();
        assert_eq!(r.findings.len(), 1);
        // A comma inside a string stays.
        let r = parse(r#"{"summary": "a ,} b", "findings": []}"#).unwrap();
        assert_eq!(r.summary, "a ,} b");
    }

    #[test]
    fn nested_braces_in_strings() {
        let r = parse(r#"x {"summary": "use {a: [1]} and \"}\"", "findings": [{"path": "a.rs", "line": "3", "severity": "weird", "title": "{", "body": "}"}]} y"#).unwrap();
        assert_eq!(r.summary, "use {a: [1]} and \"}\"");
        assert_eq!(r.findings[0].line, 3);
        assert_eq!(r.findings[0].severity, Severity::Minor, "unknown → minor");
        assert_eq!(r.findings[0].title, "{");
    }

    #[test]
    fn truncated_or_missing_json_is_an_error() {
        let cut = &GOOD[..GOOD.len() - 10];
        assert!(parse(cut).unwrap_err().contains("incomplete"));
        assert!(parse("I cannot review this.").is_err());
        assert!(parse(r#"{"summary": "s", "findings": 3}"#).is_err());
        assert!(parse("{not json}").is_err());
    }

    #[test]
    fn malformed_findings_are_counted_not_fatal() {
        let r = parse(r#"{"summary": "s", "findings": [1, {"line": 2}, {"path": "a", "line": 0}, {"path": "a", "line": 5, "end_line": 3, "side": "left"}]}"#).unwrap();
        assert_eq!(r.malformed, 3);
        assert_eq!(r.findings.len(), 1);
        assert_eq!(r.findings[0].end_line, None);
        assert_eq!(r.findings[0].side, Side::Left);
    }
}
