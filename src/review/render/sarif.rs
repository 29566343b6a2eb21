//! `--format sarif`: SARIF 2.1.0 as GitHub code scanning accepts it
//! (`github/codeql-action/upload-sarif`).
//!
//! Results point at the new version of each file, so only right-side findings get a
//! `region`; a left-side (removed-line) finding keeps its file but no line.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::diff::Side;
use crate::review::Review;
use crate::review::finding::Severity;
use crate::review::rules::RuleDescriptor;

pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// SARIF's `level` for a severity.
pub fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::Major => "error",
        Severity::Minor => "warning",
        Severity::Nit => "note",
    }
}

/// GitHub's `security-severity` (0–10) for security rules.
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::Major => "7.5",
        Severity::Minor => "5.0",
        Severity::Nit => "2.0",
    }
}

fn is_security_rule(id: &str) -> bool {
    id.starts_with("secret.") || id.starts_with("security.")
}

/// Percent-encode a repository-relative path for an `artifactLocation.uri`.
pub fn path_to_uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn rule_json(rule: &RuleDescriptor) -> Value {
    let mut properties = json!({ "tags": [rule.id.split('.').next().unwrap_or("nectr")] });
    if is_security_rule(&rule.id) {
        properties["tags"] = json!(["security"]);
        properties["security-severity"] = json!(security_severity(rule.severity));
    }
    json!({
        "id": rule.id,
        "name": rule.id,
        "shortDescription": { "text": rule.title },
        "fullDescription": { "text": rule.title },
        "help": { "text": rule.help, "markdown": rule.help },
        "defaultConfiguration": { "level": level(rule.severity) },
        "properties": properties,
    })
}

pub fn render(review: &Review) -> String {
    // Every ruleId a result uses must be in the driver's rule list, including ids that
    // came from the model or from rules that are not built in.
    let mut rules: BTreeMap<String, RuleDescriptor> = review
        .rules
        .iter()
        .map(|r| (r.id.clone(), r.clone()))
        .collect();
    for f in &review.findings {
        rules
            .entry(f.rule.clone())
            .or_insert_with(|| RuleDescriptor {
                id: f.rule.clone(),
                title: f.rule.clone(),
                help: String::new(),
                severity: f.severity,
            });
    }
    let index: BTreeMap<&str, usize> = rules
        .keys()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();

    let results: Vec<Value> = review
        .findings
        .iter()
        .map(|f| {
            let mut physical = json!({
                "artifactLocation": { "uri": path_to_uri(&f.path), "uriBaseId": "%SRCROOT%" },
            });
            if f.side == Side::Right && f.line > 0 {
                physical["region"] = json!({ "startLine": f.line, "endLine": f.last_line() });
            }
            let text = if f.body.trim().is_empty() {
                f.title.clone()
            } else {
                format!("{}\n\n{}", f.title, f.body.trim_end())
            };
            json!({
                "ruleId": f.rule,
                "ruleIndex": index[f.rule.as_str()],
                "level": level(f.severity),
                "message": { "text": text },
                "locations": [{ "physicalLocation": physical }],
                "properties": { "severity": f.severity.as_str(), "source": f.source },
            })
        })
        .collect();

    let doc = json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "nectr",
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/nectr-ai/nectr",
                "rules": rules.values().map(rule_json).collect::<Vec<_>>(),
            }},
            "results": results,
        }],
    });
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_default();
    out.push('\n');
    out
}
