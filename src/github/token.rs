//! Which token to use, in the contract's order: an explicit token (the connecting user's
//! OAuth token in hosted mode), then `GITHUB_TOKEN`, then `gh auth token`, then
//! `GITHUB_PAT`.

use std::process::{Command, Stdio};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenSource {
    Explicit,
    GithubTokenEnv,
    GhCli,
    GithubPatEnv,
}

impl TokenSource {
    pub fn describe(self) -> &'static str {
        match self {
            TokenSource::Explicit => "the given token",
            TokenSource::GithubTokenEnv => "GITHUB_TOKEN",
            TokenSource::GhCli => "`gh auth token`",
            TokenSource::GithubPatEnv => "GITHUB_PAT",
        }
    }
}

/// The first token available, with where it came from. `env` reads a variable; `gh`
/// asks the GitHub CLI (only called when the earlier sources are empty).
pub fn resolve_with(
    explicit: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
    gh: impl FnOnce() -> Option<String>,
) -> Option<(String, TokenSource)> {
    let present = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    if let Some(t) = present(explicit.map(str::to_owned)) {
        return Some((t, TokenSource::Explicit));
    }
    if let Some(t) = present(env("GITHUB_TOKEN")) {
        return Some((t, TokenSource::GithubTokenEnv));
    }
    if let Some(t) = present(gh()) {
        return Some((t, TokenSource::GhCli));
    }
    present(env("GITHUB_PAT")).map(|t| (t, TokenSource::GithubPatEnv))
}

/// [`resolve_with`] over the process environment and the real `gh`.
pub fn resolve(explicit: Option<&str>) -> Option<(String, TokenSource)> {
    resolve_with(explicit, |k| std::env::var(k).ok(), gh_auth_token)
}

/// `gh auth token`, if `gh` is installed and logged in; never blocks for long.
pub fn gh_auth_token() -> Option<String> {
    let mut child = Command::new("gh")
        .args(["auth", "token"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break,
            Ok(Some(_)) | Err(_) => return None,
            Ok(None) if std::time::Instant::now() > deadline => {
                let _ = child.kill();
                return None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take()?, &mut out).ok()?;
    let token = out.trim().to_owned();
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn order_is_explicit_env_gh_pat() {
        let all = [("GITHUB_TOKEN", "env"), ("GITHUB_PAT", "pat")];
        assert_eq!(
            resolve_with(Some("oauth"), env(&all), || Some("gh".into())),
            Some(("oauth".into(), TokenSource::Explicit))
        );
        assert_eq!(
            resolve_with(None, env(&all), || panic!("gh must not be asked")),
            Some(("env".into(), TokenSource::GithubTokenEnv))
        );
        let pat_only = [("GITHUB_PAT", "pat"), ("GITHUB_TOKEN", "  ")];
        assert_eq!(
            resolve_with(None, env(&pat_only), || Some("gh\n".into())),
            Some(("gh".into(), TokenSource::GhCli))
        );
        assert_eq!(
            resolve_with(None, env(&pat_only), || None),
            Some(("pat".into(), TokenSource::GithubPatEnv))
        );
        assert_eq!(resolve_with(Some(""), env(&[]), || None), None);
    }
}
