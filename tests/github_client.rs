//! The GitHub client (`src/github/client.rs`) against the fake GitHub in tests/support/:
//! every typed operation, the error mapping, retries and rate-limit waits, ETags,
//! pagination and spaced-out writes, all over real HTTP through the octocrab transport.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use nectr::github::client::{GitHub, GitHubError, MAX_DIFF_LINES, MAX_PR_FILES};
use nectr::github::pr_state::PrState;
use nectr::github::ratelimit::RetryPolicy;
use nectr::github::transport::OctocrabTransport;
use nectr::github::types::{NewReview, NewReviewComment};
use support::fake_github::*;

const REPO: &str = "acme/widgets";
const TOKEN: &str = "ghp_writeTokenSECRET0123456789";
const READ_TOKEN: &str = "ghs_readOnlyTokenSECRET987";

/// Two files: `src/lib.rs` with two hunks and a new `README.md`.
///
/// `src/lib.rs`, RIGHT: 1 a, 2 b (added), 3 b2 (added), 4 c, 5 d | 21 x, 22 y (added),
/// 23 z, 24 w. LEFT: 1 a, 2 b (removed), 3 c, 4 d | 20 x, 21 z, 22 w.
const DIFF: &str = "\
diff --git a/src/lib.rs b/src/lib.rs
index 1111111..2222222 100644
--- a/src/lib.rs
+++ b/src/lib.rs
@@ -1,4 +1,5 @@
 fn a() {}
-fn b() {}
+fn b() -> u8 { 1 }
+fn b2() {}
 fn c() {}
 fn d() {}
@@ -20,3 +21,4 @@ fn t() {
 fn x() {}
+fn y() {}
 fn z() {}
 fn w() {}
diff --git a/README.md b/README.md
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/README.md
@@ -0,0 +1,2 @@
+# Title
+text
";

/// A diff adding `path` with `lines` lines; the diff itself is `lines + 6` lines long.
fn added_file(path: &str, lines: usize) -> String {
    let mut s = format!(
        "diff --git a/{path} b/{path}\nnew file mode 100644\nindex 0000000..1234567\n\
         --- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{lines} @@\n"
    );
    for i in 0..lines {
        s.push_str(&format!("+line {i}\n"));
    }
    s
}

fn many_files(n: usize) -> String {
    (0..n)
        .map(|i| added_file(&format!("f{i:04}.txt"), 1))
        .collect()
}

fn head_sha() -> String {
    PullSpec::default().head_sha
}

/// Retries without the production back-off, so fault tests stay fast.
fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(10),
        max_wait: Duration::from_secs(10),
    }
}

/// A fake with `acme/widgets` and PR #7 (by octocat) carrying [`DIFF`]; [`TOKEN`] writes as
/// `nectr-bot`, [`READ_TOKEN`] only reads.
async fn setup() -> FakeGitHub {
    let gh = FakeGitHub::start().await;
    gh.add_token(TOKEN, "nectr-bot", Access::Write, "repo, workflow");
    gh.add_token(READ_TOKEN, "reader", Access::ReadOnly, "");
    gh.add_pull(
        REPO,
        PullSpec {
            number: 7,
            title: "Add widgets".into(),
            body: Some("Adds them.".into()),
            diff: DIFF.into(),
            ..PullSpec::default()
        },
    );
    gh
}

/// A client with the fast retry policy and no gap between writes.
fn client(gh: &FakeGitHub, token: &str) -> GitHub {
    GitHub::connect(&gh.url, Some(token))
        .expect("connect")
        .with_policy(fast_policy())
        .with_write_gap(Duration::ZERO)
}

/// The recorded requests whose method is `method` and whose path contains `path`.
fn requests_to(gh: &FakeGitHub, method: &str, path: &str) -> Vec<RecordedRequest> {
    gh.requests()
        .into_iter()
        .filter(|r| r.method == method && r.path.contains(path))
        .collect()
}

fn comment(path: &str, line: u32, side: &'static str, body: &str) -> NewReviewComment {
    NewReviewComment {
        path: path.into(),
        line,
        side,
        start_line: None,
        start_side: None,
        body: body.into(),
    }
}

// ---- typed operations --------------------------------------------------------------

#[tokio::test]
async fn pull_is_typed_and_requests_carry_githubs_headers() {
    let gh = setup().await;
    let c = client(&gh, TOKEN);
    let pr = c.pull(REPO, 7).await.unwrap();
    assert_eq!(pr.number, 7);
    assert_eq!(pr.title, "Add widgets");
    assert_eq!(pr.body.as_deref(), Some("Adds them."));
    assert_eq!(pr.state, "open");
    assert_eq!(pr.merged, Some(false));
    assert_eq!(pr.head.sha, head_sha());
    assert_eq!(pr.head.name, "feature");
    assert_eq!(pr.base.name, "main");
    assert_eq!(pr.user.as_ref().map(|u| u.login.as_str()), Some("octocat"));
    assert_eq!(pr.changed_files, Some(2));
    assert_eq!((pr.additions, pr.deletions), (Some(5), Some(1)));
    assert!(!pr.is_from_fork());

    let reqs = gh.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.line(), "GET /repos/acme/widgets/pulls/7");
    assert_eq!(r.header("accept"), Some("application/vnd.github+json"));
    let auth: Vec<_> = r
        .headers
        .iter()
        .filter(|(k, _)| k == "authorization")
        .collect();
    assert_eq!(auth.len(), 1, "exactly one Authorization header: {auth:?}");
    assert_eq!(auth[0].1, format!("Bearer {TOKEN}"));
    assert_eq!(r.header("x-github-api-version"), Some("2022-11-28"));
    let agents: Vec<&str> = r
        .headers
        .iter()
        .filter(|(k, _)| k == "user-agent")
        .map(|(_, v)| v.as_str())
        .collect();
    // Octocrab always adds its own `octocrab` agent too (its extra headers are appended,
    // not replaced), so Nectr's is one of two.
    assert!(
        agents.contains(&concat!("nectr/", env!("CARGO_PKG_VERSION"))),
        "{agents:?}"
    );
    assert_eq!(c.calls(), 1);
}

#[tokio::test]
async fn pull_diff_is_text_and_none_when_github_refuses_a_huge_diff() {
    let gh = setup().await;
    // Exactly at GitHub's limit, and one line over it.
    gh.add_pull(
        REPO,
        PullSpec::new(8, added_file("ok.txt", MAX_DIFF_LINES - 6)),
    );
    gh.add_pull(
        REPO,
        PullSpec::new(9, added_file("big.txt", MAX_DIFF_LINES + 1 - 6)),
    );
    let c = client(&gh, TOKEN);

    assert_eq!(c.pull_diff(REPO, 7).await.unwrap().as_deref(), Some(DIFF));
    let r = &requests_to(&gh, "GET", "/pulls/7")[0];
    assert_eq!(r.header("accept"), Some("application/vnd.github.diff"));

    let at_limit = c
        .pull_diff(REPO, 8)
        .await
        .unwrap()
        .expect("20,000 lines is served");
    assert_eq!(at_limit.lines().count(), MAX_DIFF_LINES);

    assert_eq!(
        c.pull_diff(REPO, 9).await.unwrap(),
        None,
        "20,001 lines: 406"
    );
    let refused = requests_to(&gh, "GET", "/pulls/9");
    assert_eq!(refused.len(), 1, "a 406 is final, not retried");
    assert_eq!(refused[0].status, 406);

    let missing = c.pull_diff(REPO, 404).await.unwrap_err();
    assert!(
        matches!(missing, GitHubError::NotFound { .. }),
        "{missing:?}"
    );
}

#[tokio::test]
async fn pull_files_follows_link_pages_of_100() {
    let gh = setup().await;
    gh.add_pull(REPO, PullSpec::new(9, many_files(250)));
    let c = client(&gh, TOKEN);
    let files = c.pull_files(REPO, 9).await.unwrap();
    assert_eq!(files.len(), 250);
    let names: Vec<String> = (0..250).map(|i| format!("f{i:04}.txt")).collect();
    assert_eq!(
        files.iter().map(|f| f.filename.clone()).collect::<Vec<_>>(),
        names
    );
    assert_eq!(files[0].status, "added");
    assert_eq!(files[0].additions, 1);
    assert_eq!(files[0].patch.as_deref(), Some("@@ -0,0 +1,1 @@\n+line 0"));

    let reqs = requests_to(&gh, "GET", "/pulls/9/files");
    assert_eq!(
        reqs.len(),
        3,
        "{:?}",
        reqs.iter().map(|r| r.line()).collect::<Vec<_>>()
    );
    for (i, r) in reqs.iter().enumerate() {
        assert_eq!(
            r.query_param("per_page").as_deref(),
            Some("100"),
            "{}",
            r.line()
        );
        let page = r.query_param("page");
        let expected = (i > 0).then(|| (i + 1).to_string());
        assert_eq!(page, expected, "{}", r.line());
        assert!(
            r.header("authorization").is_some(),
            "Link URLs are authenticated too"
        );
    }
    assert_eq!(reqs[0].path, "/repos/acme/widgets/pulls/9/files");
    // The next pages come from the `Link` header, which names the repository by id.
    assert!(
        reqs[1].path.starts_with("/repositories/"),
        "{}",
        reqs[1].path
    );
}

#[tokio::test]
async fn pull_files_stops_at_githubs_3000() {
    let gh = setup().await;
    gh.add_pull(REPO, PullSpec::new(10, many_files(MAX_PR_FILES + 1)));
    let c = client(&gh, TOKEN);
    let files = c.pull_files(REPO, 10).await.unwrap();
    assert_eq!(files.len(), MAX_PR_FILES);
    assert_eq!(files.last().unwrap().filename, "f2999.txt");
    assert_eq!(requests_to(&gh, "GET", "/pulls/10/files").len(), 30);
}

#[tokio::test]
async fn list_pulls_filters_by_state_and_stops_at_the_limit() {
    let gh = setup().await;
    gh.add_pull(
        REPO,
        PullSpec {
            state: "closed".into(),
            ..PullSpec::new(11, "")
        },
    );
    gh.add_pull(
        REPO,
        PullSpec {
            merged: true,
            state: "closed".into(),
            ..PullSpec::new(12, "")
        },
    );
    let c = client(&gh, TOKEN);
    let open = c.list_pulls(REPO, "open", 100).await.unwrap();
    assert_eq!(open.iter().map(|p| p.number).collect::<Vec<_>>(), [7]);
    let mut closed: Vec<u64> = c
        .list_pulls(REPO, "closed", 100)
        .await
        .unwrap()
        .iter()
        .map(|p| p.number)
        .collect();
    closed.sort();
    assert_eq!(closed, [11, 12]);
    let r = &requests_to(&gh, "GET", "/pulls")[1];
    assert_eq!(r.query_param("state").as_deref(), Some("closed"));
    assert_eq!(r.query_param("per_page").as_deref(), Some("100"));

    for n in 100..350 {
        gh.add_pull("acme/many", PullSpec::new(n, ""));
    }
    gh.clear_requests();
    let some = c.list_pulls("acme/many", "open", 150).await.unwrap();
    assert_eq!(some.len(), 150);
    assert_eq!(some[0].number, 349, "newest first");
    assert_eq!(
        gh.requests().len(),
        2,
        "no third page once the limit is reached"
    );
}

#[tokio::test]
async fn file_content_decodes_base64_at_a_branch_with_a_slash() {
    let gh = setup().await;
    let path = "dir with space/ü ñ.txt";
    let git_ref = "feature/x-y";
    let text = "héllo wörld\n".repeat(20);
    gh.set_file(REPO, git_ref, path, text.as_bytes());
    let binary: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    gh.set_file(REPO, "main", "bin/blob.dat", &binary);
    let c = client(&gh, TOKEN);

    let got = c.file_content(REPO, path, git_ref).await.unwrap();
    assert_eq!(got.as_deref(), Some(text.as_bytes()));
    let r = &gh.requests()[0];
    assert_eq!(
        r.path,
        "/repos/acme/widgets/contents/dir%20with%20space/%C3%BC%20%C3%B1.txt"
    );
    assert_eq!(r.query, "ref=feature%2Fx-y");
    assert_eq!(r.query_param("ref").as_deref(), Some(git_ref));

    // Wrapped base64 (GitHub breaks it every 60 characters) of every byte value.
    let got = c.file_content(REPO, "bin/blob.dat", "main").await.unwrap();
    assert_eq!(got, Some(binary.clone()));

    let raw = c.file_content_raw(REPO, path, git_ref).await.unwrap();
    assert_eq!(raw.as_deref(), Some(text.as_bytes()));
    let raw_req = gh.requests().pop().unwrap();
    assert_eq!(raw_req.header("accept"), Some("application/vnd.github.raw"));
    assert_eq!(
        c.file_content_raw(REPO, "bin/blob.dat", "main")
            .await
            .unwrap(),
        Some(binary)
    );

    assert_eq!(
        c.file_content(REPO, "nope.txt", git_ref).await.unwrap(),
        None
    );
    assert_eq!(
        c.file_content_raw(REPO, "nope.txt", "main").await.unwrap(),
        None
    );
    assert_eq!(
        c.file_content(REPO, path, "no-such-branch").await.unwrap(),
        None
    );
}

#[tokio::test]
async fn file_content_over_1mb_falls_back_to_the_raw_media_type() {
    let gh = setup().await;
    // GitHub answers files over 1 MB with `"encoding": "none"` and empty content.
    let big: Vec<u8> = (0..1_200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    gh.set_file(REPO, "main", "big.txt", &big);
    let c = client(&gh, TOKEN);
    let got = c.file_content(REPO, "big.txt", "main").await.unwrap();
    assert_eq!(got.map(|b| b.len()), Some(big.len()));
    let reqs = gh.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].header("accept"), Some("application/vnd.github.raw"));
}

#[tokio::test]
async fn file_contents_come_in_one_graphql_query_with_an_alias_per_file() {
    let gh = setup().await;
    let sha = head_sha();
    let odd = "dir with space/\"quoted\" ü.rs";
    gh.set_file(REPO, &sha, "src/lib.rs", b"fn a() {}\nfn b() -> u8 { 1 }\n");
    gh.set_file(REPO, &sha, odd, "// ünïcode\n".as_bytes());
    gh.set_file(REPO, &sha, "logo.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
    let big = "x".repeat(300 * 1024);
    gh.set_file(REPO, &sha, "big.txt", big.as_bytes());
    gh.set_file(REPO, "main", "only-on-main.rs", b"fn main() {}\n");
    let c = client(&gh, TOKEN);
    let paths: Vec<String> = [
        "src/lib.rs",
        odd,
        "logo.png",
        "big.txt",
        "only-on-main.rs",
        "src",
        "missing.rs",
    ]
    .iter()
    .map(|p| p.to_string())
    .collect();
    let got = c.file_contents_graphql(REPO, &sha, &paths).await.unwrap();
    assert_eq!(got.len(), paths.len(), "every path is answered: {got:?}");
    assert_eq!(
        got["src/lib.rs"].as_deref(),
        Some("fn a() {}\nfn b() -> u8 { 1 }\n")
    );
    assert_eq!(got[odd].as_deref(), Some("// ünïcode\n"));
    assert_eq!(got["logo.png"], None, "binary");
    assert_eq!(got["big.txt"], None, "over the size cap");
    assert_eq!(got["only-on-main.rs"], None, "not at this ref");
    assert_eq!(got["src"], None, "a directory is a tree, not a blob");
    assert_eq!(got["missing.rs"], None);
    // One request, and it is GraphQL: no REST call per file.
    let reqs = gh.requests();
    assert_eq!(
        reqs.len(),
        1,
        "{:?}",
        reqs.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].path.as_str()),
        ("POST", "/graphql")
    );
    let body = reqs[0].body_json().unwrap();
    let query = body["query"].as_str().unwrap();
    assert!(query.contains("f6: object(expression: $e6)"), "{query}");
    assert_eq!(body["variables"]["e1"], format!("{sha}:{odd}"));
}

#[tokio::test]
async fn file_contents_are_batched_and_graphql_errors_are_mapped() {
    let gh = setup().await;
    let sha = head_sha();
    let paths: Vec<String> = (0..60).map(|i| format!("src/f{i}.rs")).collect();
    for (i, p) in paths.iter().enumerate() {
        gh.set_file(REPO, &sha, p, format!("// file {i}\n").as_bytes());
    }
    // GraphQL queries are reads: never spaced out like writes (1 s by default here), and
    // retried after a 502 like any read.
    let c = GitHub::connect(&gh.url, Some(TOKEN))
        .unwrap()
        .with_policy(fast_policy());
    gh.inject(Fault {
        method: "POST",
        path_contains: "/graphql",
        kind: FaultKind::Status(502),
        times: 1,
    });
    let started = Instant::now();
    let got = c.file_contents_graphql(REPO, &sha, &paths).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(got.len(), 60);
    assert_eq!(got["src/f59.rs"].as_deref(), Some("// file 59\n"));
    assert!(got.values().all(Option::is_some));
    let posts = requests_to(&gh, "POST", "/graphql");
    assert_eq!(
        posts.len(),
        4,
        "3 batches of at most 25, one retried after the 502"
    );

    // A repository GitHub cannot resolve: its NOT_FOUND error, as NotFound.
    let err = c
        .file_contents_graphql("acme/nope", &sha, &paths[..1])
        .await
        .unwrap_err();
    assert!(matches!(err, GitHubError::NotFound { .. }), "{err}");
    // No token: 401 before any GraphQL.
    let anonymous = GitHub::connect(&gh.url, None).unwrap();
    let err = anonymous
        .file_contents_graphql(REPO, &sha, &paths[..1])
        .await
        .unwrap_err();
    assert!(matches!(err, GitHubError::Unauthorized { .. }), "{err}");
    // Nothing asked, nothing sent.
    let before = gh.requests().len();
    assert!(
        c.file_contents_graphql(REPO, &sha, &[])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(gh.requests().len(), before);
}

#[tokio::test]
async fn issue_comments_create_update_list() {
    let gh = setup().await;
    let c = client(&gh, TOKEN);
    let created = c.create_issue_comment(REPO, 7, "first ✓").await.unwrap();
    assert_eq!(created.body.as_deref(), Some("first ✓"));
    assert_eq!(
        created.user.as_ref().map(|u| u.login.as_str()),
        Some("nectr-bot")
    );
    let post = &requests_to(&gh, "POST", "/issues/7/comments")[0];
    assert_eq!(
        post.body_json(),
        Some(serde_json::json!({"body": "first ✓"}))
    );
    assert_eq!(post.header("content-type"), Some("application/json"));

    let second = c.create_issue_comment(REPO, 7, "second").await.unwrap();
    assert_ne!(second.id, created.id);
    let updated = c
        .update_issue_comment(REPO, created.id, "edited")
        .await
        .unwrap();
    assert_eq!(
        (updated.id, updated.body.as_deref()),
        (created.id, Some("edited"))
    );
    assert_eq!(requests_to(&gh, "PATCH", "/issues/comments/").len(), 1);

    let listed = c.list_issue_comments(REPO, 7).await.unwrap();
    let bodies: Vec<_> = listed.iter().map(|c| c.body.clone().unwrap()).collect();
    assert_eq!(bodies, ["edited", "second"]);
    let stored: Vec<_> = gh
        .issue_comments(REPO, 7)
        .into_iter()
        .map(|c| c.body)
        .collect();
    assert_eq!(stored, ["edited", "second"]);

    let missing = c.update_issue_comment(REPO, 1, "x").await.unwrap_err();
    assert!(
        matches!(missing, GitHubError::NotFound { .. }),
        "{missing:?}"
    );
}

#[tokio::test]
async fn review_with_line_side_and_ranges_then_list_and_update() {
    let gh = setup().await;
    let c = client(&gh, TOKEN);
    let review = NewReview {
        commit_id: head_sha(),
        body: "Nectr found 3 things".into(),
        event: "COMMENT",
        comments: vec![
            NewReviewComment {
                start_line: Some(1),
                start_side: Some("RIGHT"),
                ..comment("src/lib.rs", 3, "RIGHT", "range on the new side")
            },
            comment("src/lib.rs", 2, "LEFT", "on a removed line"),
            comment("README.md", 2, "RIGHT", "on a new file"),
        ],
    };
    let info = c.create_review(REPO, 7, &review).await.unwrap();
    assert_eq!(info.state.as_deref(), Some("COMMENTED"));
    assert_eq!(info.body.as_deref(), Some("Nectr found 3 things"));
    assert_eq!(info.commit_id.as_deref(), Some(head_sha().as_str()));

    // What was sent: start_side only where set, event COMMENT.
    let sent = requests_to(&gh, "POST", "/pulls/7/reviews")[0]
        .body_json()
        .unwrap();
    assert_eq!(sent["event"], "COMMENT");
    assert_eq!(sent["comments"][0]["start_line"], 1);
    assert_eq!(sent["comments"][0]["start_side"], "RIGHT");
    assert!(sent["comments"][1].get("start_line").is_none(), "{sent}");

    let stored = gh.reviews(REPO, 7);
    assert_eq!(stored.len(), 1);
    let anchors: Vec<_> = stored[0]
        .comments
        .iter()
        .map(|c| {
            (
                c.path.clone().unwrap(),
                c.line,
                c.side.clone().unwrap(),
                c.start_line,
            )
        })
        .collect();
    assert_eq!(
        anchors,
        [
            (
                "src/lib.rs".to_string(),
                Some(3),
                "RIGHT".to_string(),
                Some(1)
            ),
            ("src/lib.rs".to_string(), Some(2), "LEFT".to_string(), None),
            ("README.md".to_string(), Some(2), "RIGHT".to_string(), None),
        ]
    );

    let reviews = c.list_reviews(REPO, 7).await.unwrap();
    assert_eq!(reviews.iter().map(|r| r.id).collect::<Vec<_>>(), [info.id]);
    let comments = c.list_review_comments(REPO, 7).await.unwrap();
    assert_eq!(comments.len(), 3);
    assert!(
        comments
            .iter()
            .all(|c| c.pull_request_review_id == Some(info.id))
    );
    assert_eq!(
        (
            comments[1].path.as_str(),
            comments[1].line,
            comments[1].side.as_deref()
        ),
        ("src/lib.rs", Some(2), Some("LEFT"))
    );

    let updated = c
        .update_review(REPO, 7, info.id, "Nectr: all fixed")
        .await
        .unwrap();
    assert_eq!(updated.body.as_deref(), Some("Nectr: all fixed"));
    assert_eq!(
        requests_to(&gh, "PUT", &format!("/reviews/{}", info.id)).len(),
        1
    );
    assert_eq!(gh.reviews(REPO, 7)[0].body, "Nectr: all fixed");

    let single = c
        .create_review_comment(
            REPO,
            7,
            &head_sha(),
            &comment("src/lib.rs", 22, "RIGHT", "single"),
        )
        .await
        .unwrap();
    assert_eq!(
        (single.path.as_str(), single.line, single.side.as_deref()),
        ("src/lib.rs", Some(22), Some("RIGHT"))
    );
    let sent = requests_to(&gh, "POST", "/pulls/7/comments")[0]
        .body_json()
        .unwrap();
    assert_eq!(sent["commit_id"], head_sha());
    assert_eq!(gh.review_comments(REPO, 7).len(), 4);
}

#[tokio::test]
async fn resolved_review_threads_come_from_graphql_pages_of_100() {
    let gh = setup().await;
    gh.add_pull(
        REPO,
        PullSpec {
            number: 9,
            diff: added_file("big.txt", 150),
            ..PullSpec::default()
        },
    );
    let c = client(&gh, TOKEN);
    let review = NewReview {
        commit_id: head_sha(),
        body: "many".into(),
        event: "COMMENT",
        comments: (1..=150)
            .map(|line| comment("big.txt", line, "RIGHT", "x"))
            .collect(),
    };
    c.create_review(REPO, 9, &review).await.unwrap();
    let ids: Vec<u64> = gh.review_comments(REPO, 9).iter().map(|c| c.id).collect();
    assert_eq!(ids.len(), 150);
    // Both ends of the first page and of the second.
    let resolved: std::collections::HashSet<u64> = [ids[0], ids[99], ids[100], ids[149]].into();
    for id in &resolved {
        gh.resolve_thread(REPO, *id);
    }
    gh.react(REPO, ids[5], "-1");
    gh.react(REPO, ids[5], "+1");
    gh.react(REPO, ids[5], "-1");

    gh.clear_requests();
    assert_eq!(c.resolved_review_threads(REPO, 9).await.unwrap(), resolved);
    let queries = requests_to(&gh, "POST", "/graphql");
    assert_eq!(queries.len(), 2, "150 threads in pages of 100");
    let second = queries[1].body_json().unwrap();
    assert!(second["variables"]["after"].is_string(), "{second}");

    // Reactions come with the REST listing.
    let listed = c.list_review_comments(REPO, 9).await.unwrap();
    let reactions = listed[5].reactions.clone().unwrap();
    assert_eq!((reactions.thumbs_up, reactions.thumbs_down), (1, 2));

    // No threads: an empty set from one query. No such PR: not found.
    assert!(c.resolved_review_threads(REPO, 7).await.unwrap().is_empty());
    let err = c.resolved_review_threads(REPO, 404).await.unwrap_err();
    assert!(matches!(err, GitHubError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn list_issues_excludes_prs_and_counts_only_issues_toward_the_limit() {
    let gh = setup().await;
    let repo = "acme/tracker";
    gh.add_issue(repo, IssueSpec::new(1, "old open"));
    gh.add_issue(
        repo,
        IssueSpec {
            state: "closed".into(),
            ..IssueSpec::new(2, "closed")
        },
    );
    gh.add_issue(repo, IssueSpec::new(3, "new open"));
    // Newer than every issue, so they come first in the listing.
    for n in 4..=8 {
        gh.add_pull(repo, PullSpec::new(n, ""));
    }
    let c = client(&gh, TOKEN);

    let open = c.list_issues(repo, "open", 2).await.unwrap();
    assert_eq!(open.iter().map(|i| i.number).collect::<Vec<_>>(), [3, 1]);
    assert!(open.iter().all(|i| i.pull_request.is_none()));
    assert_eq!(open[0].title, "new open");

    let r = &requests_to(&gh, "GET", "/issues")[0];
    assert_eq!(r.query_param("state").as_deref(), Some("open"));
    assert_eq!(r.query_param("per_page").as_deref(), Some("100"));
    assert_eq!(r.query_param("sort").as_deref(), Some("updated"));
    assert_eq!(r.query_param("direction").as_deref(), Some("desc"));

    let all = c.list_issues(repo, "all", 10).await.unwrap();
    assert_eq!(all.iter().map(|i| i.number).collect::<Vec<_>>(), [3, 2, 1]);
    assert_eq!(all[1].state, "closed");
}

#[tokio::test]
async fn languages_contributors_and_current_user() {
    let gh = setup().await;
    gh.set_languages(REPO, &[("Shell", 120), ("Rust", 98_000)]);
    gh.add_contributor(REPO, "alice", 5);
    gh.add_contributor(REPO, "bob", 50);
    gh.add_contributor(REPO, "carol", 20);
    let c = client(&gh, TOKEN);

    let langs = c.languages(REPO).await.unwrap();
    assert_eq!(
        langs.into_iter().collect::<Vec<_>>(),
        [("Rust".to_string(), 98_000), ("Shell".to_string(), 120)]
    );

    let top = c.contributors(REPO, 2).await.unwrap();
    let top: Vec<_> = top
        .iter()
        .map(|c| (c.login.clone().unwrap(), c.contributions))
        .collect();
    assert_eq!(top, [("bob".to_string(), 50), ("carol".to_string(), 20)]);

    let (user, scopes) = c.current_user().await.unwrap();
    assert_eq!(user.login, "nectr-bot");
    assert_eq!(scopes, ["repo", "workflow"]);
    let (reader, none) = client(&gh, READ_TOKEN).current_user().await.unwrap();
    assert_eq!(reader.login, "reader");
    assert!(none.is_empty(), "{none:?}");
}

#[tokio::test]
async fn hooks_create_list_delete_and_deliveries() {
    let gh = setup().await;
    let c = client(&gh, TOKEN);
    let hook = c
        .create_hook(
            REPO,
            "https://nectr.example/hook",
            "s3cret",
            &["pull_request", "issue_comment"],
        )
        .await
        .unwrap();
    assert!(hook.active);
    assert_eq!(hook.events, ["pull_request", "issue_comment"]);
    assert_eq!(
        hook.config.url.as_deref(),
        Some("https://nectr.example/hook")
    );
    assert_eq!(hook.config.content_type.as_deref(), Some("json"));
    assert_eq!(hook.config.insecure_ssl.as_deref(), Some("0"));
    let stored = gh.hooks(REPO);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].config["secret"], "s3cret");

    let listed = c.list_hooks(REPO).await.unwrap();
    assert_eq!(listed, std::slice::from_ref(&hook));

    // Deliveries paginate with a cursor in the `Link` header, newest first.
    let ids: Vec<u64> = (0..130)
        .map(|i| {
            gh.add_delivery(
                REPO,
                hook.id,
                if i % 2 == 0 { 200 } else { 500 },
                "pull_request",
            )
        })
        .collect();
    let deliveries = c.hook_deliveries(REPO, hook.id, 120).await.unwrap();
    assert_eq!(deliveries.len(), 120);
    let newest: Vec<u64> = ids.iter().rev().take(120).copied().collect();
    assert_eq!(deliveries.iter().map(|d| d.id).collect::<Vec<_>>(), newest);
    assert_eq!(deliveries[0].event.as_deref(), Some("pull_request"));
    assert_eq!(deliveries[0].status_code, Some(500));
    let pages = requests_to(&gh, "GET", "/deliveries");
    assert_eq!(pages.len(), 2);
    assert!(
        pages[1].query_param("cursor").is_some(),
        "{}",
        pages[1].line()
    );

    assert!(c.delete_hook(REPO, hook.id).await.unwrap());
    assert!(!c.delete_hook(REPO, hook.id).await.unwrap(), "already gone");
    assert_eq!(requests_to(&gh, "DELETE", "/hooks/").len(), 2);
    assert!(c.list_hooks(REPO).await.unwrap().is_empty());
}

// ---- errors --------------------------------------------------------------------------

#[tokio::test]
async fn unknown_token_is_unauthorized_and_never_echoed() {
    let gh = setup().await;
    let bogus = "ghp_bogusTokenSECRETxyz42";
    let c = client(&gh, bogus);
    let err = c.pull(REPO, 7).await.unwrap_err();
    assert!(matches!(err, GitHubError::Unauthorized { .. }), "{err:?}");
    assert!(err.is_user_fixable());
    let text = err.to_string();
    assert!(text.contains("invalid or expired"), "{text}");
    assert!(text.contains("GITHUB_TOKEN"), "says what to do: {text}");
    assert!(text.contains("GET /repos/acme/widgets/pulls/7"), "{text}");
    for shown in [text, format!("{err:?}")] {
        assert!(!shown.contains(bogus), "token leaked: {shown}");
        assert!(!shown.contains("SECRET"), "token leaked: {shown}");
    }
    assert_eq!(gh.requests().len(), 1, "a 401 is not retried");

    let anonymous = GitHub::connect(&gh.url, None).unwrap();
    let err = anonymous.current_user().await.unwrap_err();
    assert!(matches!(err, GitHubError::Unauthorized { .. }), "{err:?}");
    assert!(gh.requests()[1].header("authorization").is_none());
}

#[tokio::test]
async fn read_only_token_writing_is_forbidden_read_only() {
    let gh = setup().await;
    let c = client(&gh, READ_TOKEN);
    assert_eq!(c.pull(REPO, 7).await.unwrap().number, 7, "reads work");
    let err = c.create_issue_comment(REPO, 7, "hello").await.unwrap_err();
    match &err {
        GitHubError::Forbidden {
            read_only, message, ..
        } => {
            assert!(*read_only);
            assert!(
                message.contains("Resource not accessible by integration"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_read_only() && err.is_user_fixable());
    assert!(
        err.to_string()
            .contains("POST /repos/acme/widgets/issues/7/comments"),
        "{err}"
    );
    assert_eq!(requests_to(&gh, "POST", "/comments").len(), 1);
    assert!(gh.issue_comments(REPO, 7).is_empty());

    let review = NewReview {
        commit_id: head_sha(),
        body: "x".into(),
        event: "COMMENT",
        comments: vec![],
    };
    let err = c.create_review(REPO, 7, &review).await.unwrap_err();
    assert!(err.is_read_only(), "{err:?}");
}

#[tokio::test]
async fn missing_things_are_not_found() {
    let gh = setup().await;
    let c = client(&gh, TOKEN);
    let err = c.pull(REPO, 999).await.unwrap_err();
    match &err {
        GitHubError::NotFound { endpoint } => {
            assert_eq!(endpoint, "GET /repos/acme/widgets/pulls/999")
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_user_fixable());
    assert!(
        err.to_string().contains("check the repository and number"),
        "{err}"
    );
    let err = c.list_issue_comments("acme/nope", 1).await.unwrap_err();
    assert!(matches!(err, GitHubError::NotFound { .. }), "{err:?}");
    assert_eq!(gh.requests().len(), 2, "404s are not retried");
}

#[tokio::test]
async fn off_diff_review_comment_is_unprocessable_with_githubs_message() {
    let gh = setup().await;
    let c = client(&gh, TOKEN);
    let review = NewReview {
        commit_id: head_sha(),
        body: "summary".into(),
        event: "COMMENT",
        comments: vec![
            comment("src/lib.rs", 3, "RIGHT", "fine"),
            comment("src/lib.rs", 10, "RIGHT", "not in the diff"),
        ],
    };
    let err = c.create_review(REPO, 7, &review).await.unwrap_err();
    match &err {
        GitHubError::Unprocessable {
            status,
            message,
            endpoint,
        } => {
            assert_eq!(*status, 422);
            assert_eq!(endpoint, "POST /repos/acme/widgets/pulls/7/reviews");
            assert!(message.starts_with("Unprocessable Entity ("), "{message}");
            assert!(
                message.contains("Pull request review thread line must be part of the diff"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.is_user_fixable());
    assert_eq!(
        requests_to(&gh, "POST", "/reviews").len(),
        1,
        "a 422 is not retried"
    );
    assert!(gh.reviews(REPO, 7).is_empty(), "nothing half-posted");

    let err = c
        .create_review_comment(
            REPO,
            7,
            &head_sha(),
            &comment("README.md", 9, "RIGHT", "off"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GitHubError::Unprocessable { status: 422, message, .. }
            if message.contains("Validation Failed")
                && message.contains("pull_request_review_thread.line must be part of the diff")),
        "{err:?}"
    );
}

// ---- faults, retries and rate limits -------------------------------------------------

#[tokio::test]
async fn get_is_retried_after_two_502s() {
    let gh = setup().await;
    gh.inject(Fault {
        method: "GET",
        path_contains: "/pulls/7",
        kind: FaultKind::Status(502),
        times: 2,
    });
    let c = client(&gh, TOKEN);
    assert_eq!(c.pull(REPO, 7).await.unwrap().number, 7);
    let statuses: Vec<u16> = gh.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [502, 502, 200]);
    assert_eq!(c.calls(), 3);
}

#[tokio::test]
async fn get_gives_up_after_max_retries_of_502() {
    let gh = setup().await;
    gh.inject(Fault {
        method: "GET",
        path_contains: "/pulls/7",
        kind: FaultKind::Status(502),
        times: 100,
    });
    let c = client(&gh, TOKEN);
    let err = c.pull(REPO, 7).await.unwrap_err();
    assert!(matches!(err, GitHubError::Unavailable { .. }), "{err:?}");
    assert!(err.to_string().contains("502 after 3 retries"), "{err}");
    assert!(!err.is_user_fixable());
    assert_eq!(gh.requests().len(), 4, "the first try and 3 retries");
}

#[tokio::test]
async fn post_is_never_resent_after_a_502() {
    let gh = setup().await;
    gh.inject(Fault {
        method: "POST",
        path_contains: "/issues/7/comments",
        kind: FaultKind::Status(502),
        times: 1,
    });
    let c = client(&gh, TOKEN);
    let err = c.create_issue_comment(REPO, 7, "once").await.unwrap_err();
    assert!(matches!(err, GitHubError::Unavailable { .. }), "{err:?}");
    assert!(err.to_string().contains("not re-sent blindly"), "{err}");
    assert_eq!(requests_to(&gh, "POST", "/comments").len(), 1);
    assert_eq!(c.calls(), 1);
}

#[tokio::test]
async fn secondary_rate_limit_waits_for_retry_after() {
    let gh = setup().await;
    gh.inject(Fault {
        method: "GET",
        path_contains: "/pulls/7",
        kind: FaultKind::SecondaryRateLimit { retry_after: 1 },
        times: 1,
    });
    let c = client(&gh, TOKEN);
    let start = Instant::now();
    assert_eq!(c.pull(REPO, 7).await.unwrap().number, 7);
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    let statuses: Vec<u16> = gh.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [403, 200]);
}

#[tokio::test]
async fn status_429_is_retried_even_for_a_post_and_posts_once() {
    let gh = setup().await;
    gh.inject(Fault {
        method: "POST",
        path_contains: "/issues/7/comments",
        kind: FaultKind::Status429 { retry_after: 1 },
        times: 1,
    });
    let c = client(&gh, TOKEN);
    let start = Instant::now();
    c.create_issue_comment(REPO, 7, "after the limit")
        .await
        .unwrap();
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    let statuses: Vec<u16> = requests_to(&gh, "POST", "/comments")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(
        statuses,
        [429, 201],
        "a rate-limited request was not processed"
    );
    assert_eq!(gh.issue_comments(REPO, 7).len(), 1);
}

#[tokio::test]
async fn exhausted_rate_limit_waits_until_reset() {
    let gh = setup().await;
    gh.set_rate_limit(0, 1);
    let c = client(&gh, TOKEN);
    let start = Instant::now();
    assert_eq!(c.pull(REPO, 7).await.unwrap().number, 7);
    let waited = start.elapsed();
    assert!(waited >= Duration::from_secs(1), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    let statuses: Vec<u16> = gh.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [403, 200]);
    assert_eq!(c.rate_limit().remaining, Some(DEFAULT_RATE_LIMIT - 1));
}

#[tokio::test]
async fn exhausted_rate_limit_beyond_the_cap_gives_up_at_once() {
    let gh = setup().await;
    gh.set_rate_limit(0, 3600);
    let c = client(&gh, TOKEN).with_policy(RetryPolicy {
        max_wait: Duration::from_secs(5),
        ..fast_policy()
    });
    let start = Instant::now();
    let err = c.pull(REPO, 7).await.unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert!(matches!(err, GitHubError::Unavailable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("rate limit resets in 360"),
        "names the wait: {text}"
    );
    assert!(text.contains("longer than the 5 s"), "{text}");
    assert_eq!(gh.requests().len(), 1);
    assert_eq!(c.rate_limit().remaining, Some(0));
}

#[tokio::test]
async fn stalled_response_times_out_get_retries_post_does_not() {
    let gh = setup().await;
    let transport = OctocrabTransport::with_timeouts(
        &gh.url,
        Some(TOKEN),
        Duration::from_secs(2),
        Duration::from_millis(300),
    )
    .unwrap();
    let c = GitHub::with_transport(&gh.url, Arc::new(transport))
        .with_policy(fast_policy())
        .with_write_gap(Duration::ZERO);
    let delay = FaultKind::Delay { millis: 1500 };

    gh.inject(Fault {
        method: "GET",
        path_contains: "/pulls/7",
        kind: delay.clone(),
        times: 1,
    });
    let start = Instant::now();
    assert_eq!(c.pull(REPO, 7).await.unwrap().number, 7);
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(
        took < Duration::from_millis(1400),
        "did not wait for the stalled answer: {took:?}"
    );
    assert_eq!(requests_to(&gh, "GET", "/pulls/7").len(), 2);

    gh.inject(Fault {
        method: "POST",
        path_contains: "/issues/7/comments",
        kind: delay,
        times: 1,
    });
    let start = Instant::now();
    let err = c.create_issue_comment(REPO, 7, "slow").await.unwrap_err();
    assert!(
        start.elapsed() < Duration::from_millis(1400),
        "{:?}",
        start.elapsed()
    );
    assert!(matches!(err, GitHubError::Unavailable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("no response from GitHub"), "{text}");
    assert!(text.contains("not re-sent blindly"), "{text}");
    assert!(!text.contains(TOKEN), "{text}");
    assert_eq!(requests_to(&gh, "POST", "/comments").len(), 1);
    // On GitHub the POST may still have been processed: exactly why it is not re-sent.
    // (The fake cannot show that: it drops a delayed request once the client hangs up.)
}

// ---- ETags, rate-limit headers, spacing ----------------------------------------------

#[tokio::test]
async fn second_get_revalidates_with_etag_and_gets_the_full_body() {
    let gh = setup().await;
    let c = client(&gh, TOKEN);
    let first = c.pull(REPO, 7).await.unwrap();
    let spent = DEFAULT_RATE_LIMIT - gh.rate_limit_remaining();
    let second = c.pull(REPO, 7).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(second.title, "Add widgets");

    let reqs = gh.requests();
    assert_eq!(reqs.len(), 2);
    assert!(reqs[0].header("if-none-match").is_none());
    let etag = reqs[1].header("if-none-match").expect("If-None-Match");
    assert!(etag.starts_with('"') && etag.len() > 2, "{etag}");
    assert_eq!((reqs[0].status, reqs[1].status), (200, 304));
    assert_eq!(c.calls(), 2);
    assert_eq!(
        DEFAULT_RATE_LIMIT - gh.rate_limit_remaining(),
        spent,
        "a 304 costs no rate limit"
    );

    // The diff of the same URL is a different representation with its own ETag.
    assert_eq!(c.pull_diff(REPO, 7).await.unwrap().as_deref(), Some(DIFF));
    assert_eq!(c.pull_diff(REPO, 7).await.unwrap().as_deref(), Some(DIFF));
    let reqs = gh.requests();
    assert!(reqs[2].header("if-none-match").is_none());
    assert_eq!((reqs[2].status, reqs[3].status), (200, 304));
}

#[tokio::test]
async fn rate_limit_headers_are_read_on_every_response() {
    let gh = setup().await;
    gh.set_rate_limit(42, 3600);
    let c = client(&gh, TOKEN);
    assert_eq!(c.rate_limit().remaining, None, "nothing seen yet");
    c.pull(REPO, 7).await.unwrap();
    let rl = c.rate_limit();
    assert_eq!(rl.remaining, Some(41));
    assert_eq!(rl.limit, Some(DEFAULT_RATE_LIMIT));
    assert_eq!(rl.resource.as_deref(), Some("core"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let reset = rl.reset.unwrap();
    assert!(
        reset > now + 3500 && reset <= now + 3602,
        "{reset} vs {now}"
    );

    c.current_user().await.unwrap();
    assert_eq!(c.rate_limit().remaining, Some(40));
    // Errors carry the headers too.
    c.pull(REPO, 999).await.unwrap_err();
    assert_eq!(c.rate_limit().remaining, Some(39));
    // A 502 from GitHub's front end has none: the last known values stay.
    gh.inject(Fault {
        method: "GET",
        path_contains: "/languages",
        kind: FaultKind::Status(502),
        times: 1,
    });
    c.languages(REPO).await.unwrap();
    assert_eq!(c.rate_limit().remaining, Some(38));
}

#[tokio::test]
async fn writes_are_spaced_by_the_write_gap_reads_are_not() {
    let gh = setup().await;
    let gap = Duration::from_millis(250);
    let c = client(&gh, TOKEN).with_write_gap(gap);
    let t0 = Instant::now();
    c.create_issue_comment(REPO, 7, "one").await.unwrap();
    c.create_issue_comment(REPO, 7, "two").await.unwrap();
    let t2 = Instant::now();
    assert!(t2 - t0 >= gap, "the second POST waited: {:?}", t2 - t0);
    c.pull(REPO, 7).await.unwrap();
    assert!(
        t2.elapsed() < gap,
        "a read right after a write is not held back: {:?}",
        t2.elapsed()
    );

    // Concurrent writes are spaced too.
    let t3 = Instant::now();
    let (a, b) = tokio::join!(
        c.create_issue_comment(REPO, 7, "three"),
        c.create_issue_comment(REPO, 7, "four")
    );
    a.unwrap();
    b.unwrap();
    assert!(t3.elapsed() >= gap, "{:?}", t3.elapsed());
    assert_eq!(gh.issue_comments(REPO, 7).len(), 4);
}

// ---- base URL and the PR-state cache -------------------------------------------------

/// GitHub Enterprise Server serves the API under `/api/v3`. The fake only serves at its
/// root, so this checks what the client sends (the prefix kept on every request, auth
/// included) and that error messages name the endpoint without it; it cannot check a
/// successful round trip.
#[tokio::test]
async fn ghes_base_url_keeps_its_path_prefix() {
    let gh = setup().await;
    let base = format!("{}/api/v3/", gh.url);
    let c = GitHub::connect(&base, Some(TOKEN))
        .unwrap()
        .with_policy(fast_policy());
    assert_eq!(c.api_url(), format!("{}/api/v3", gh.url));
    let err = c.pull(REPO, 7).await.unwrap_err();
    match &err {
        GitHubError::NotFound { endpoint } => {
            assert_eq!(endpoint, "GET /repos/acme/widgets/pulls/7")
        }
        other => panic!("{other:?}"),
    }
    let reqs = gh.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].path, "/api/v3/repos/acme/widgets/pulls/7");
    assert_eq!(
        reqs[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
}

#[tokio::test]
async fn pr_state_is_cached() {
    let gh = setup().await;
    gh.add_pull(
        REPO,
        PullSpec {
            state: "closed".into(),
            ..PullSpec::new(11, "")
        },
    );
    gh.add_pull(
        REPO,
        PullSpec {
            merged: true,
            state: "closed".into(),
            ..PullSpec::new(12, "")
        },
    );
    let c = client(&gh, TOKEN);
    assert_eq!(c.pr_state(REPO, 7).await.unwrap(), PrState::Open);
    assert_eq!(c.pr_state(REPO, 7).await.unwrap(), PrState::Open);
    assert_eq!(
        gh.requests().len(),
        1,
        "the second answer came from the cache"
    );
    assert_eq!(c.pr_state(REPO, 11).await.unwrap(), PrState::Closed);
    assert_eq!(c.pr_state(REPO, 12).await.unwrap(), PrState::Merged);
    assert_eq!(c.pr_state(REPO, 12).await.unwrap(), PrState::Merged);
    assert_eq!(gh.requests().len(), 3);
    assert_eq!(c.calls(), 3);

    // Errors are not cached.
    assert!(c.pr_state(REPO, 999).await.is_err());
    assert!(c.pr_state(REPO, 999).await.is_err());
    assert_eq!(gh.requests().len(), 5);
}

#[tokio::test]
async fn compare_reports_how_two_commits_relate_and_none_for_unknown_ones() {
    use std::collections::BTreeMap;

    use nectr::github::types::CompareStatus;

    let gh = setup().await;
    let commit = |name: &str, parents: &[&str], text: &str| CommitSpec {
        sha: sha1_hex(name.as_bytes()),
        parents: parents.iter().map(|p| sha1_hex(p.as_bytes())).collect(),
        message: name.into(),
        files: BTreeMap::from([("src/app.rs".to_owned(), text.to_owned())]),
    };
    // root → one → two, and a rewrite of `one` on top of root.
    gh.add_commit(REPO, commit("root", &[], "a\nb\nc\n"));
    gh.add_commit(REPO, commit("one", &["root"], "a\nB\nc\n"));
    gh.add_commit(REPO, commit("two", &["one"], "a\nB\nc\nd\n"));
    gh.add_commit(REPO, commit("rewrite", &["root"], "a\nb\nc\nz\n"));
    let sha = |name: &str| sha1_hex(name.as_bytes());
    let api = client(&gh, TOKEN);

    let ahead = api
        .compare(REPO, &sha("one"), &sha("two"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ahead.status, CompareStatus::Ahead);
    assert_eq!((ahead.ahead_by, ahead.behind_by), (1, 0));
    assert_eq!(ahead.commits.len(), 1);
    assert_eq!(ahead.commits[0].sha, sha("two"));
    assert_eq!(ahead.files.len(), 1);
    assert_eq!(ahead.files[0].filename, "src/app.rs");
    assert_eq!((ahead.files[0].additions, ahead.files[0].deletions), (1, 0));
    assert_eq!(
        ahead.files[0].patch.as_deref(),
        Some("@@ -1,3 +1,4 @@\n a\n B\n c\n+d")
    );

    let behind = api.compare(REPO, &sha("two"), &sha("root")).await.unwrap();
    assert_eq!(behind.unwrap().status, CompareStatus::Behind);
    let diverged = api
        .compare(REPO, &sha("two"), &sha("rewrite"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(diverged.status, CompareStatus::Diverged);
    assert_eq!((diverged.ahead_by, diverged.behind_by), (1, 2));
    // Three dots: the changes since the merge base (root), not since `two`.
    assert_eq!(
        diverged.files[0].patch.as_deref(),
        Some("@@ -1,3 +1,4 @@\n a\n b\n c\n+z")
    );
    let same = api.compare(REPO, &sha("two"), &sha("two")).await.unwrap();
    let same = same.unwrap();
    assert_eq!(same.status, CompareStatus::Identical);
    assert!(same.files.is_empty() && same.commits.is_empty());

    // A commit GitHub does not know (a force-push left it behind and it was collected).
    gh.remove_commit(REPO, &sha("one"));
    assert_eq!(
        api.compare(REPO, &sha("one"), &sha("rewrite"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        api.compare(REPO, &"0".repeat(40), &sha("two"))
            .await
            .unwrap(),
        None
    );
    let asked = requests_to(&gh, "GET", "/compare/");
    assert!(
        asked
            .iter()
            .all(|r| r.path.contains(&format!("/repos/{REPO}/compare/")) && r.path.contains("...")),
        "{asked:?}"
    );
}
