//! Reading the graph's edges out of PR and issue text: which issues a PR fixes, what it
//! reverts, which files an issue mentions. Pure functions over untrusted text; regexes are
//! compiled once.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

use super::RevertOf;

/// Most paths taken from one issue body.
const MAX_MENTIONED_PATHS: usize = 50;

static FIXES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\b:?\s+(?:([\w.-]+/[\w.-]+)#(\d+)|#(\d+)|https?://[^/\s]+/([\w.-]+/[\w.-]+)/issues/(\d+))",
    )
    .expect("valid regex")
});

static REVERTS_PR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?im)^\s*reverts\s+(?:([\w.-]+/[\w.-]+)#|#)(\d+)").expect("valid regex")
});

static REVERTS_COMMIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\bthis reverts commit ([0-9a-f]{7,40})\b").expect("valid regex")
});

static REVERT_TITLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"^\s*Revert\s+"(.+)"\s*$"#).expect("valid regex"));

/// `:12`, `:12:5`, `#L12`, `#L12-L20` after a path.
static LINE_SUFFIX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?::\d+(?::\d+)?|#L\d+(?:-L?\d+)?)$").expect("valid regex"));

/// A path-like token: no spaces, ends in a file name with an extension.
static PATH_LIKE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z0-9_.@+-]+(?:/[A-Za-z0-9_.@+-]+)*\.[A-Za-z][A-Za-z0-9]{0,9}$")
        .expect("valid regex")
});

/// Extensions a bare file name (no `/`) must have to count as a path, so `e.g.`, `v1.2`
/// or `example.com` do not.
const BARE_NAME_EXTENSIONS: &[&str] = &[
    "rs", "py", "js", "jsx", "ts", "tsx", "go", "java", "kt", "rb", "php", "c", "h", "cc", "cpp",
    "hpp", "cs", "swift", "scala", "sh", "md", "toml", "yml", "yaml", "json", "sql", "proto",
    "lock", "cfg", "ini", "xml", "html", "css", "scss", "vue", "ex", "exs", "erl", "hs", "lua",
];

/// Issues of `repo` that `text` says are fixed: GitHub's closing keywords (`close[sd]`,
/// `fix(es|ed)`, `resolve[sd]`) before `#N`, `owner/repo#N` or an issue URL. References to
/// other repositories are left out. Sorted, unique.
pub fn fixed_issues(repo: &str, text: &str) -> Vec<u64> {
    let mut out = BTreeSet::new();
    for c in FIXES.captures_iter(text) {
        let (other, number) = if let Some(n) = c.get(3) {
            (None, n)
        } else if let (Some(r), Some(n)) = (c.get(1), c.get(2)) {
            (Some(r.as_str()), n)
        } else if let (Some(r), Some(n)) = (c.get(4), c.get(5)) {
            (Some(r.as_str()), n)
        } else {
            continue;
        };
        if other.is_some_and(|r| !r.eq_ignore_ascii_case(repo.trim())) {
            continue;
        }
        if let Ok(n) = number.as_str().parse::<u64>() {
            out.insert(n);
        }
    }
    out.into_iter().collect()
}

/// What a PR reverts, from GitHub's revert button (`Reverts owner/repo#N` in the body),
/// `git revert` (`This reverts commit SHA.`) or a `Revert "Title"` title, in that order.
pub fn revert_of(repo: &str, title: &str, body: &str) -> Option<RevertOf> {
    for c in REVERTS_PR.captures_iter(body) {
        if c.get(1)
            .is_some_and(|r| !r.as_str().eq_ignore_ascii_case(repo.trim()))
        {
            continue;
        }
        if let Some(n) = c.get(2).and_then(|n| n.as_str().parse().ok()) {
            return Some(RevertOf::Pr(n));
        }
    }
    for text in [body, title] {
        if let Some(c) = REVERTS_COMMIT.captures(text) {
            return Some(RevertOf::Commit(c[1].to_ascii_lowercase()));
        }
    }
    REVERT_TITLE
        .captures(title)
        .map(|c| RevertOf::Title(c[1].to_owned()))
}

/// File paths `text` mentions: `src/auth.rs`, `` `src/auth.rs:42` ``, `README.md`, and
/// GitHub blob links (`https://github.com/o/r/blob/main/src/auth.rs#L10`). Leading `./` and
/// `/` are dropped, as are line suffixes. Sorted, unique, at most 50.
pub fn mentioned_paths(text: &str) -> Vec<String> {
    let mut out = BTreeSet::new();
    let separators = |c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '`' | '"' | '\'' | '(' | ')' | '[' | ']' | '<' | '>' | ',' | ';' | '*' | '|'
            )
    };
    for token in text.split(separators) {
        if out.len() >= MAX_MENTIONED_PATHS {
            break;
        }
        let mut t = token.trim_end_matches(['.', ':', '!', '?']);
        if t.contains("://") {
            // A blob link: the path follows `/blob/<ref>/`.
            let Some((_, rest)) = t.split_once("/blob/") else {
                continue;
            };
            let Some((_, path)) = rest.split_once('/') else {
                continue;
            };
            t = path;
        }
        let t = LINE_SUFFIX.replace(t, "");
        let t = t.trim_start_matches("./").trim_start_matches('/');
        if t.contains("..") || !PATH_LIKE.is_match(t) {
            continue;
        }
        if !t.contains('/') {
            let ext = t
                .rsplit('.')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            if !BARE_NAME_EXTENSIONS.contains(&ext.as_str()) {
                continue;
            }
        }
        out.insert(t.to_owned());
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closing_keywords_in_every_form() {
        let text = "Fixes #12. closes acme/app#13, Resolved: #14\n\
                    fixes other/repo#99 and fix https://github.com/acme/app/issues/15 \
                    mentions #16 and prefix#17; FIXED #12";
        assert_eq!(fixed_issues("Acme/App", text), vec![12, 13, 14, 15]);
        assert!(fixed_issues("acme/app", "refixes #3, unfixed #4").is_empty());
    }

    #[test]
    fn reverts_by_number_commit_or_title() {
        assert_eq!(
            revert_of(
                "acme/app",
                "Revert \"Add cache\"",
                "Reverts acme/app#41\n\nbecause"
            ),
            Some(RevertOf::Pr(41))
        );
        assert_eq!(
            revert_of("acme/app", "x", "Reverts other/app#41\nReverts #7"),
            Some(RevertOf::Pr(7))
        );
        assert_eq!(
            revert_of(
                "acme/app",
                "Revert \"Add cache\"",
                "This reverts commit ABCDEF1234567."
            ),
            Some(RevertOf::Commit("abcdef1234567".into()))
        );
        assert_eq!(
            revert_of("acme/app", "Revert \"Revert \"Add cache\"\"", ""),
            Some(RevertOf::Title("Revert \"Add cache\"".into()))
        );
        assert_eq!(
            revert_of("acme/app", "Reverting is hard", "reverts nothing"),
            None
        );
    }

    #[test]
    fn paths_in_prose_code_and_links() {
        let text = "Crash in `src/auth/login.rs:42` and ./lib/x.py, see README.md.\n\
                    https://github.com/acme/app/blob/main/src/db/pool.rs#L10-L20 \
                    e.g. v1.2.3 example.com ../../etc/passwd.txt https://example.com/a.js \
                    (docs/setup.md) Cargo.toml";
        assert_eq!(
            mentioned_paths(text),
            vec![
                "Cargo.toml",
                "README.md",
                "docs/setup.md",
                "lib/x.py",
                "src/auth/login.rs",
                "src/db/pool.rs"
            ]
        );
    }

    #[test]
    fn paths_are_capped() {
        let text: String = (0..80).map(|i| format!("src/f{i}.rs ")).collect();
        assert_eq!(mentioned_paths(&text).len(), MAX_MENTIONED_PATHS);
    }
}
