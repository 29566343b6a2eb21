//! The AI reviewer's [`FileSource`] for a pull request on GitHub: the whole text of changed
//! files at the PR's head commit, all of them in one GraphQL query
//! ([`GitHub::file_contents_graphql`]) rather than one REST call per file. It is asked
//! only when a model is configured and a call has room for whole files.

use std::collections::BTreeMap;

use crate::github::GitHub;
use crate::llm::BoxFuture;
use crate::review::ai::files::FileSource;

pub struct HeadFiles<'a> {
    gh: &'a GitHub,
    repo: &'a str,
    /// The head commit's SHA: the version the diff's new side shows.
    sha: &'a str,
}

impl<'a> HeadFiles<'a> {
    pub fn new(gh: &'a GitHub, repo: &'a str, sha: &'a str) -> Self {
        HeadFiles { gh, repo, sha }
    }
}

impl FileSource for HeadFiles<'_> {
    fn texts<'b>(&'b self, paths: &'b [String]) -> BoxFuture<'b, BTreeMap<String, String>> {
        Box::pin(async move {
            match self
                .gh
                .file_contents_graphql(self.repo, self.sha, paths)
                .await
            {
                Ok(found) => found
                    .into_iter()
                    .filter_map(|(path, text)| Some((path, text?)))
                    .collect(),
                // Whole files only add context: the review goes on with the diffs.
                Err(e) => {
                    crate::error::notice(&format!(
                        "nectr: the AI review gets diffs only: fetching whole files failed ({e})"
                    ));
                    BTreeMap::new()
                }
            }
        })
    }
}
