//! Rules written in `.nectr.yml`: a regex matched against every added line of the files
//! they apply to.

use regex::{Regex, RegexSet, RegexSetBuilder};

use crate::config::{CustomRule, GlobList};
use crate::review::finding::Severity;

pub(super) struct Custom {
    pub id: String,
    pub title: String,
    pub message: String,
    pub severity: Severity,
    paths: GlobList,
    exclude: GlobList,
    regex: Regex,
}

impl Custom {
    pub(super) fn new(rule: &CustomRule, severity: Severity) -> Custom {
        let id = rule.id.trim().to_owned();
        Custom {
            title: rule
                .title
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .unwrap_or(&id)
                .to_owned(),
            id,
            message: rule.message.clone(),
            severity,
            paths: rule.paths.clone(),
            exclude: rule.exclude_paths.clone(),
            regex: rule.regex.0.clone(),
        }
    }

    fn applies_to(&self, path: &str) -> bool {
        (self.paths.is_empty() || self.paths.is_match(path)) && !self.exclude.is_match(path)
    }
}

/// The enabled custom rules, with one [`RegexSet`] so that a line is scanned once however
/// many rules there are.
pub(super) struct CustomRules {
    pub rules: Vec<Custom>,
    set: Option<RegexSet>,
}

impl CustomRules {
    pub(super) fn new(rules: Vec<Custom>) -> CustomRules {
        let set = (rules.len() > 1)
            .then(|| {
                RegexSetBuilder::new(rules.iter().map(|r| r.regex.as_str()))
                    .size_limit(16 << 20)
                    .build()
                    .ok()
            })
            .flatten();
        CustomRules { rules, set }
    }

    /// Indices of the rules that apply to `path`.
    pub(super) fn applicable(&self, path: &str) -> Vec<usize> {
        (0..self.rules.len())
            .filter(|&i| self.rules[i].applies_to(path))
            .collect()
    }

    /// The applicable rules that match `line`, in rule order.
    pub(super) fn matches(&self, applicable: &[usize], line: &str, out: &mut Vec<usize>) {
        out.clear();
        if applicable.is_empty() {
            return;
        }
        match &self.set {
            Some(set) => {
                let m = set.matches(line);
                if m.matched_any() {
                    out.extend(applicable.iter().copied().filter(|&i| m.matched(i)));
                }
            }
            None => out.extend(
                applicable
                    .iter()
                    .copied()
                    .filter(|&i| self.rules[i].regex.is_match(line)),
            ),
        }
    }
}
