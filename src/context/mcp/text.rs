//! Small helpers for the untrusted text MCP tools return: JSON when it is JSON, sizes capped
//! on character boundaries, fields read by any of several names.

use serde_json::Value;

/// `text` as JSON when the whole of it (trimmed) is an object or an array.
pub fn parse_json(text: &str) -> Option<Value> {
    let t = text.trim();
    if !(t.starts_with('{') || t.starts_with('[')) {
        return None;
    }
    serde_json::from_str(t).ok()
}

/// At most `max` characters of `text`, with `…` when cut.
pub fn cap_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The first of `names` that is a string (or a number, as text) in `v`.
pub fn field_str(v: &Value, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| match v.get(n)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(x) => Some(x.to_string()),
        _ => None,
    })
}

/// The first of `names` that is a number (or a string of digits) in `v`.
pub fn field_u64(v: &Value, names: &[&str]) -> Option<u64> {
    names.iter().find_map(|n| match v.get(n)? {
        Value::Number(x) => x.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_only_when_it_is_json() {
        assert!(parse_json(" {\"a\":1} ").is_some());
        assert!(parse_json("[1,2]").is_some());
        assert!(parse_json("# heading {\"a\":1}").is_none());
        assert!(parse_json("{broken").is_none());
    }

    #[test]
    fn caps_on_char_boundaries() {
        assert_eq!(cap_chars("héllo", 10), "héllo");
        assert_eq!(cap_chars("héllo", 3), "hé…");
    }
}
