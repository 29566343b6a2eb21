//! Whole files at a pull request's head commit, fetched once and shared: the rules ask
//! first for the few files whose findings need context beyond the hunks
//! ([`super::head_context::wanted_paths`], via [`HeadFiles::prefetch`]), and the AI
//! reviewer's [`FileSource`] later gets whatever of its own list is already here without a
//! second request. Files are fetched with one GraphQL query per
//! [`GRAPHQL_FILES_PER_QUERY`](crate::github::client::GRAPHQL_FILES_PER_QUERY) paths
//! ([`GitHub::file_contents_graphql`]) rather than one REST call per file; binary,
//! truncated and oversized blobs come back without text.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::github::GitHub;
use crate::llm::BoxFuture;
use crate::review::ai::files::FileSource;

pub struct HeadFiles<'a> {
    gh: &'a GitHub,
    repo: &'a str,
    /// The head commit's SHA: the version the diff's new side shows.
    sha: &'a str,
    /// Every path asked for so far: its text, or `None` (missing, binary, too large).
    cache: Mutex<BTreeMap<String, Option<String>>>,
}

impl<'a> HeadFiles<'a> {
    pub fn new(gh: &'a GitHub, repo: &'a str, sha: &'a str) -> Self {
        HeadFiles {
            gh,
            repo,
            sha,
            cache: Mutex::new(BTreeMap::new()),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Option<String>>> {
        // A panic while holding the lock leaves a map that is still whole.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The answers for `paths` (a text or `None` per path asked), fetching only those not
    /// asked before. A failed fetch is said once on stderr (`purpose` names who goes
    /// without) and leaves those paths out, so the caller goes on with what it has.
    async fn get(&self, paths: &[String], purpose: &str) -> BTreeMap<String, Option<String>> {
        let missing: Vec<String> = {
            let cache = self.cache();
            // (`file_contents_graphql` asks for a repeated path once.)
            paths
                .iter()
                .filter(|p| !cache.contains_key(*p))
                .cloned()
                .collect()
        };
        if !missing.is_empty() {
            match self
                .gh
                .file_contents_graphql(self.repo, self.sha, &missing)
                .await
            {
                Ok(found) => {
                    let mut cache = self.cache();
                    for path in missing {
                        let text = found.get(&path).cloned().flatten();
                        cache.insert(path, text);
                    }
                }
                Err(e) => crate::error::notice(&format!(
                    "nectr: {purpose}: fetching whole files failed ({e})"
                )),
            }
        }
        let cache = self.cache();
        paths
            .iter()
            .filter_map(|p| cache.get(p).map(|t| (p.clone(), t.clone())))
            .collect()
    }

    /// Fetch `paths` for the rules (one request for up to 25 paths); the answers, for
    /// [`super::head_context::HeadTexts::fetched`].
    pub async fn prefetch(&self, paths: &[String]) -> BTreeMap<String, Option<String>> {
        if paths.is_empty() {
            return BTreeMap::new();
        }
        self.get(
            paths,
            "the rules see the diff only (no context beyond the hunks)",
        )
        .await
    }
}

impl FileSource for HeadFiles<'_> {
    fn texts<'b>(&'b self, paths: &'b [String]) -> BoxFuture<'b, BTreeMap<String, String>> {
        Box::pin(async move {
            // Whole files only add context: the review goes on with the diffs.
            self.get(paths, "the AI review gets diffs only")
                .await
                .into_iter()
                .filter_map(|(path, text)| Some((path, text?)))
                .collect()
        })
    }
}
