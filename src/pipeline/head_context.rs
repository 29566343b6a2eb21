//! What the rules may know beyond the diff: whole files at the head commit.
//!
//! Offline (`--diff`) the rules see only the diff, plus a `package.json` the diff adds
//! whole. On GitHub, [`wanted_paths`] picks the few files whose head text could change
//! what the rules report — only files that already have findings the text above or
//! around the hunks can silence (a generated-file marker, a `#[cfg(test)]` module, a
//! shebang or `process.argv`, a `package.json` with `bin`), and workflows that check out
//! the pull request's head (the `pull_request_target` trigger may sit anywhere in the
//! file) — and `pipeline::pr` fetches them in one GraphQL query through
//! [`super::head_files::HeadFiles`], which keeps them for the AI reviewer too. A PR whose
//! findings the diff already decides costs no request.

use std::collections::BTreeMap;

use crate::config::RepoConfig;
use crate::diff::{Diff, FileDiff, FileStatus, LineKind};
use crate::review::filter::skip_reason;
use crate::review::rules::{
    FileContext, RuleSet, is_generated_path, is_javascript_path, is_workflow_path,
    package_makes_cli,
};

/// At most this many head files (with `package.json` candidates) are fetched for the
/// rules: one GraphQL query ([`crate::github::client::GRAPHQL_FILES_PER_QUERY`]).
pub const MAX_HEAD_FILES: usize = crate::github::client::GRAPHQL_FILES_PER_QUERY;
/// `package.json` is looked for in at most this many directories above a file.
pub const MAX_PACKAGE_DEPTH: usize = 6;
/// Lines at the top of a file where a generated-file marker or a shebang counts.
const TOP_LINES: u32 = 5;

/// Whole texts at the head commit, by path. `None` for a path that was asked for and has
/// no usable text (missing, binary, too large).
#[derive(Clone, Debug, Default)]
pub struct HeadTexts {
    texts: BTreeMap<String, Option<String>>,
    /// Offline: a path not in `texts` is taken as absent (the diff is all there is); on
    /// GitHub it is unknown, and an unknown nearer `package.json` decides nothing.
    diff_only: bool,
}

impl HeadTexts {
    /// What the diff itself shows whole: the `package.json` files it adds.
    pub fn from_diff(diff: &Diff<'_>) -> HeadTexts {
        let mut texts = BTreeMap::new();
        for file in &diff.files {
            if let Some(text) = added_package_json(file) {
                texts.insert(file.path().to_owned(), Some(text));
            }
        }
        HeadTexts {
            texts,
            diff_only: true,
        }
    }

    /// Texts fetched at the head commit (answers for every path asked, `None` when a
    /// path had no usable text), plus what the diff shows whole.
    pub fn fetched(diff: &Diff<'_>, fetched: BTreeMap<String, Option<String>>) -> HeadTexts {
        let mut out = HeadTexts::from_diff(diff);
        out.diff_only = false;
        for (path, text) in fetched {
            out.texts.entry(path).or_insert(text);
        }
        out
    }

    /// How many paths have a text.
    pub fn len(&self) -> usize {
        self.texts.values().filter(|t| t.is_some()).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The context for one file of the diff.
    pub fn context_for<'s>(&'s self, file: &FileDiff<'_>) -> FileContext<'s> {
        let path = file.path();
        let head = match file.status {
            // The diff of an added file is the whole file.
            FileStatus::Added => None,
            _ => self.texts.get(path).and_then(|t| t.as_deref()),
        };
        FileContext {
            head,
            cli_package: is_javascript_path(path) && self.cli_package(path),
        }
    }

    /// The nearest `package.json` above `path` that is known makes it part of a CLI.
    fn cli_package(&self, path: &str) -> bool {
        for candidate in package_candidates(path) {
            match self.texts.get(&candidate) {
                Some(Some(text)) => return package_makes_cli(&candidate, text, path),
                // Asked for, not there: look further up.
                Some(None) => continue,
                None if self.diff_only => continue,
                // Not asked for (over the cap): a nearer package may exist, so nothing
                // further up decides.
                None => return false,
            }
        }
        false
    }
}

/// The new text of an added `package.json`, from its diff.
fn added_package_json(file: &FileDiff<'_>) -> Option<String> {
    let path = file.path();
    if file.status != FileStatus::Added || file.binary || !is_package_json(path) {
        return None;
    }
    let mut text = String::new();
    for hunk in &file.hunks {
        for line in &hunk.lines {
            if line.kind == LineKind::Added {
                text.push_str(line.content);
                text.push('\n');
            }
        }
    }
    Some(text)
}

fn is_package_json(path: &str) -> bool {
    path == "package.json" || path.ends_with("/package.json")
}

/// `a/b/c.js` → `a/b/package.json`, `a/package.json`, `package.json` (nearest first, at
/// most [`MAX_PACKAGE_DEPTH`], never through `node_modules`).
fn package_candidates(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut dir = path.rsplit_once('/').map(|(d, _)| d);
    while out.len() < MAX_PACKAGE_DEPTH {
        match dir {
            Some(d) if !d.is_empty() => {
                if d.rsplit('/').next() == Some("node_modules") {
                    break;
                }
                out.push(format!("{d}/package.json"));
                dir = d.rsplit_once('/').map(|(p, _)| p);
            }
            _ => {
                out.push("package.json".to_owned());
                break;
            }
        }
    }
    out
}

/// Does the diff show new lines 1..=[`TOP_LINES`] of `file` (where markers and shebangs
/// count)? A shorter file's diff cannot say that nothing follows, so it does not.
fn top_visible(file: &FileDiff<'_>) -> bool {
    let mut seen = [false; TOP_LINES as usize];
    for hunk in &file.hunks {
        for line in &hunk.lines {
            if let Some(n) = line.new_line.filter(|n| (1..=TOP_LINES).contains(n)) {
                seen[n as usize - 1] = true;
            }
        }
    }
    seen.iter().all(|s| *s)
}

/// The head files worth fetching for the rules, in diff order, at most
/// [`MAX_HEAD_FILES`]: files with findings that text outside the hunks could silence,
/// their nearest `package.json` candidates when a `console.log` is reported, and
/// workflows whose added lines check out the pull request's head. Files the diff shows
/// whole (added) and generated, binary or excluded files are never asked for.
pub fn wanted_paths(diff: &Diff<'_>, rules: &RuleSet, config: &RepoConfig) -> Vec<String> {
    let offline = HeadTexts::from_diff(diff);
    let mut out: Vec<String> = Vec::new();
    for file in &diff.files {
        if out.len() >= MAX_HEAD_FILES {
            break;
        }
        if skip_reason(file, config).is_some() || file.new_path.is_none() || file.hunks.is_empty() {
            continue;
        }
        let path = file.path();
        if is_generated_path(path) {
            continue;
        }
        // What the diff alone gives: anything the head text could silence is asked for.
        let findings = rules.check_file(file);
        let silenceable: Vec<&str> = findings
            .iter()
            .map(|f| f.rule.as_str())
            .filter(|r| !r.starts_with("secret.") && *r != "conflict.marker")
            .collect();
        let workflow_checkout = is_workflow_path(path)
            && file.hunks.iter().flat_map(|h| h.lines.iter()).any(|l| {
                l.kind == LineKind::Added
                    && ["pull_request.head.", "github.head_ref", "refs/pull/"]
                        .iter()
                        .any(|w| l.content.contains(w))
            });
        let console = silenceable.contains(&"debug.console-log");
        let needs_head = file.status != FileStatus::Added
            && (workflow_checkout
                || (!silenceable.is_empty() && !top_visible(file))
                || console
                || silenceable.contains(&"rust.unwrap"));
        if needs_head {
            push(path.to_owned(), &mut out);
        }
        if console {
            for candidate in package_candidates(path) {
                // One the diff adds whole is known already, and it is the nearest.
                if offline.texts.contains_key(&candidate) {
                    break;
                }
                push(candidate, &mut out);
            }
        }
    }
    out
}

/// With a model configured and a fetch happening anyway: `rules_paths` plus the files the
/// AI reviewer will most likely ask for whole (modified, reviewable, not sensitive, lock
/// or generated; source before tests before docs, files with findings first, up to
/// `llm.full_files` × [`crate::review::ai::files::FETCH_FACTOR`]), within
/// [`MAX_HEAD_FILES`], so that its later request finds them fetched.
pub fn with_ai_candidates(
    diff: &Diff<'_>,
    config: &RepoConfig,
    rules_paths: Vec<String>,
) -> Vec<String> {
    use crate::review::ai::{budget, files};
    let limit = config
        .llm
        .full_files
        .unwrap_or(files::DEFAULT_FULL_FILES)
        .saturating_mul(files::FETCH_FACTOR);
    let mut ranked: Vec<(_, bool, usize, &str)> = diff
        .files
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            matches!(
                f.status,
                FileStatus::Modified | FileStatus::Renamed | FileStatus::Copied
            ) && !f.hunks.is_empty()
                && skip_reason(f, config).is_none()
        })
        .map(|(i, f)| (i, f.path()))
        .filter(|(_, p)| {
            budget::sensitive_reason(p).is_none()
                && budget::low_value_reason(p).is_none()
                && budget::not_for_model(p, std::iter::empty()).is_none()
                && !is_generated_path(p)
        })
        .map(|(i, p)| {
            (
                budget::classify(p),
                !rules_paths.iter().any(|r| r == p),
                i,
                p,
            )
        })
        .collect();
    ranked.sort_by_key(|(class, no_finding, i, _)| (*class, *no_finding, *i));
    let mut out = rules_paths;
    for (_, _, _, path) in ranked.into_iter().take(limit) {
        push(path.to_owned(), &mut out);
    }
    out
}

fn push(p: String, out: &mut Vec<String>) {
    if out.len() < MAX_HEAD_FILES && !out.contains(&p) {
        out.push(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RulesConfig;

    fn set() -> RuleSet {
        RuleSet::new(&RulesConfig::default()).unwrap().0
    }

    #[test]
    fn package_candidates_go_up_to_the_root() {
        assert_eq!(
            package_candidates("packages/cli/src/a.js"),
            [
                "packages/cli/src/package.json",
                "packages/cli/package.json",
                "packages/package.json",
                "package.json"
            ]
        );
        assert_eq!(package_candidates("a.js"), ["package.json"]);
        assert_eq!(package_candidates("/a.js"), ["package.json"]);
        assert_eq!(
            package_candidates("a/b/c/d/e/f/g/h.js").len(),
            MAX_PACKAGE_DEPTH
        );
        assert_eq!(
            package_candidates("x/node_modules/y/a.js"),
            ["x/node_modules/y/package.json"]
        );
    }

    #[test]
    fn only_files_whose_findings_the_head_can_change_are_wanted() {
        let text = "\
diff --git a/src/app.js b/src/app.js
--- a/src/app.js
+++ b/src/app.js
@@ -40,1 +40,2 @@
 ctx
+console.log(x);
diff --git a/src/new.js b/src/new.js
new file mode 100644
--- /dev/null
+++ b/src/new.js
@@ -0,0 +1,1 @@
+console.log(y);
diff --git a/app/db.py b/app/db.py
--- a/app/db.py
+++ b/app/db.py
@@ -1,5 +1,6 @@
 a
 b
 c
+# TODO: later
 d
 e
diff --git a/app/deep.py b/app/deep.py
--- a/app/deep.py
+++ b/app/deep.py
@@ -50,1 +50,2 @@
 a
+# TODO: later
diff --git a/app/quiet.py b/app/quiet.py
--- a/app/quiet.py
+++ b/app/quiet.py
@@ -50,1 +50,2 @@
 a
+b = 1
";
        let diff = crate::diff::parse(text).unwrap();
        let wanted = wanted_paths(&diff, &set(), &RepoConfig::default());
        assert_eq!(
            wanted,
            [
                "src/app.js",
                "src/package.json",
                "package.json",
                "app/deep.py"
            ]
        );
    }

    #[test]
    fn an_added_package_json_decides_offline_and_online() {
        let text = "\
diff --git a/tool/package.json b/tool/package.json
new file mode 100644
--- /dev/null
+++ b/tool/package.json
@@ -0,0 +1,1 @@
+{\"name\": \"tool\", \"bin\": {\"tool\": \"./index.js\"}}
diff --git a/tool/lib/run.js b/tool/lib/run.js
--- a/tool/lib/run.js
+++ b/tool/lib/run.js
@@ -40,1 +40,2 @@
 ctx
+console.log(x);
";
        let diff = crate::diff::parse(text).unwrap();
        let offline = HeadTexts::from_diff(&diff);
        assert!(offline.context_for(&diff.files[1]).cli_package);
        // Online: a nearer package.json that was not fetched decides nothing…
        let online = HeadTexts::fetched(&diff, BTreeMap::new());
        assert!(!online.context_for(&diff.files[1]).cli_package);
        // …one fetched and missing does not stop the walk.
        let mut fetched = BTreeMap::new();
        fetched.insert("tool/lib/package.json".to_owned(), None);
        let online = HeadTexts::fetched(&diff, fetched);
        assert!(online.context_for(&diff.files[1]).cli_package);
        // The rules see it: no console.log finding.
        let quiet = set().check_file_in(&diff.files[1], &offline.context_for(&diff.files[1]));
        assert!(quiet.is_empty(), "{quiet:?}");
        assert_eq!(
            set().check_file(&diff.files[1])[0].rule,
            "debug.console-log"
        );
        // On GitHub the file and the package candidates below the added one are asked for.
        assert_eq!(
            wanted_paths(&diff, &set(), &RepoConfig::default()),
            ["tool/lib/run.js", "tool/lib/package.json"]
        );
    }

    #[test]
    fn top_lines_in_the_diff_need_no_head() {
        let shown = "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1,5 +1,6 @@\n a\n+b\n c\n d\n e\n f\n";
        let diff = crate::diff::parse(shown).unwrap();
        assert!(top_visible(&diff.files[0]));
        let deep =
            "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -2,2 +2,3 @@\n a\n+b\n c\n";
        let diff = crate::diff::parse(deep).unwrap();
        assert!(!top_visible(&diff.files[0]));
    }
}
