//! Self-tests of the fake GitHub in tests/support/: each drives it over a real socket with
//! the raw HTTP client and checks it answers as GitHub does.

mod support;

use serde_json::{Value, json};
use support::fake_github::{
    Access, FakeGitHub, Fault, FaultKind, IssueSpec, PullSpec, base64_decode, git_blob_sha,
};
use support::raw_http::{Client, send};

const REPO: &str = "acme/widgets";

/// Five files: a modified file with two hunks, an added, a removed, a renamed and a
/// binary file.
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
diff --git a/old.txt b/old.txt
deleted file mode 100644
index 4444444..0000000
--- a/old.txt
+++ /dev/null
@@ -1,2 +0,0 @@
-gone
-also gone
diff --git a/a/from.rs b/b/to.rs
similarity index 90%
rename from a/from.rs
rename to b/to.rs
index 5555555..6666666 100644
--- a/a/from.rs
+++ b/b/to.rs
@@ -1,2 +1,2 @@
-old line
+new line
 same
diff --git a/img.png b/img.png
new file mode 100644
index 0000000..7777777
Binary files /dev/null and b/img.png differ
";

const LIB_PATCH: &str = "\
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
 fn w() {}";

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

/// A fake with `acme/widgets`, PR #7 (by octocat) carrying [`DIFF`], a write token for
/// `nectr-bot`, a read-only token for `reader`, and a write token for octocat.
async fn setup() -> (FakeGitHub, Client) {
    let gh = FakeGitHub::start().await;
    gh.add_token("t-write", "nectr-bot", Access::Write, "repo");
    gh.add_token("t-read", "reader", Access::ReadOnly, "repo");
    gh.add_token("t-author", "octocat", Access::Write, "repo, workflow");
    gh.add_repo(REPO);
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
    let client = Client::new(&gh.url, Some("t-write"));
    (gh, client)
}

fn review(comments: Value) -> Value {
    json!({"body": "Nectr review", "event": "COMMENT", "comments": comments})
}

fn errors_text(v: &Value) -> String {
    v["errors"].to_string()
}

#[tokio::test]
async fn pull_json_and_files_are_derived_from_the_diff() {
    let (gh, c) = setup().await;
    let pr = c.get("/repos/acme/widgets/pulls/7").await;
    assert_eq!(pr.status, 200, "{}", pr.text());
    let v = pr.json();
    assert_eq!(v["number"], 7);
    assert_eq!(v["state"], "open");
    assert_eq!(v["title"], "Add widgets");
    assert_eq!(v["user"]["login"], "octocat");
    assert_eq!(v["changed_files"], 5);
    assert_eq!(v["additions"], 6);
    assert_eq!(v["deletions"], 4);
    assert_eq!(v["head"]["sha"], PullSpec::default().head_sha);
    assert_eq!(v["base"]["ref"], "main");
    assert_eq!(v["head"]["repo"]["full_name"], REPO);
    assert_eq!(v["head"]["repo"]["fork"], false);
    assert_eq!(v["base"]["repo"]["full_name"], REPO);
    assert_eq!(v["base"]["repo"]["default_branch"], "main");
    assert_eq!(
        v["html_url"].as_str().unwrap(),
        format!("{}/acme/widgets/pull/7", gh.url)
    );
    assert_eq!(v["merged"], false);
    assert_eq!(v["draft"], false);

    let files = c.get("/repos/acme/widgets/pulls/7/files").await;
    assert_eq!(files.status, 200);
    assert!(files.header("link").is_none(), "one page needs no Link");
    let f = files.json();
    let f = f.as_array().unwrap();
    let names: Vec<&str> = f.iter().map(|x| x["filename"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["src/lib.rs", "README.md", "old.txt", "b/to.rs", "img.png"]
    );
    let status: Vec<&str> = f.iter().map(|x| x["status"].as_str().unwrap()).collect();
    assert_eq!(status, ["modified", "added", "removed", "renamed", "added"]);
    assert_eq!(f[0]["patch"], LIB_PATCH);
    assert_eq!(
        (&f[0]["additions"], &f[0]["deletions"], &f[0]["changes"]),
        (&json!(3), &json!(1), &json!(4))
    );
    assert_eq!(f[2]["patch"], "@@ -1,2 +0,0 @@\n-gone\n-also gone");
    assert_eq!(f[3]["previous_filename"], "a/from.rs");
    assert!(f[0].get("previous_filename").is_none());
    assert!(f[4].get("patch").is_none(), "binary files have no patch");
    assert_eq!(f[4]["changes"], 0);
}

#[tokio::test]
async fn forks_and_deleted_forks() {
    let (gh, c) = setup().await;
    gh.add_pull(
        REPO,
        PullSpec {
            number: 8,
            head_repo: Some("alice/widgets".into()),
            ..PullSpec::new(8, DIFF)
        },
    );
    gh.add_pull(
        REPO,
        PullSpec {
            number: 9,
            head_repo: Some("bob/widgets".into()),
            head_repo_deleted: true,
            ..PullSpec::new(9, DIFF)
        },
    );
    let v = c.get("/repos/acme/widgets/pulls/8").await.json();
    assert_eq!(v["head"]["repo"]["full_name"], "alice/widgets");
    assert_eq!(v["head"]["repo"]["fork"], true);
    assert_eq!(v["head"]["label"], "alice:feature");
    assert_eq!(v["base"]["repo"]["full_name"], REPO);
    let v = c.get("/repos/acme/widgets/pulls/9").await.json();
    assert!(v["head"]["repo"].is_null(), "{}", v["head"]);
    assert_eq!(v["head"]["ref"], "feature");
}

#[tokio::test]
async fn files_pagination_writes_github_link_headers() {
    let (gh, c) = setup().await;
    gh.add_pull(REPO, PullSpec::new(10, many_files(5)));
    let repo_id = c.get("/repos/acme/widgets").await.json()["id"]
        .as_u64()
        .unwrap();
    let base = format!("{}/repositories/{repo_id}/pulls/10/files", gh.url);

    let p1 = c.get("/repos/acme/widgets/pulls/10/files?per_page=2").await;
    assert_eq!(
        p1.header("link").unwrap(),
        format!(
            "<{base}?per_page=2&page=2>; rel=\"next\", <{base}?per_page=2&page=3>; rel=\"last\""
        )
    );
    let p2 = c
        .get("/repos/acme/widgets/pulls/10/files?per_page=2&page=2")
        .await;
    assert_eq!(
        p2.header("link").unwrap(),
        format!(
            "<{base}?per_page=2&page=1>; rel=\"prev\", <{base}?per_page=2&page=3>; rel=\"next\", \
             <{base}?per_page=2&page=3>; rel=\"last\", <{base}?per_page=2&page=1>; rel=\"first\""
        )
    );
    let p3 = c.get(&p2.link("next").unwrap()).await;
    assert_eq!(
        p3.header("link").unwrap(),
        format!(
            "<{base}?per_page=2&page=2>; rel=\"prev\", <{base}?per_page=2&page=1>; rel=\"first\""
        )
    );

    // Following `next` from the first page walks every file once, in order.
    let mut names = Vec::new();
    let mut next = Some("/repos/acme/widgets/pulls/10/files?per_page=2".to_string());
    while let Some(url) = next {
        let page = c.get(&url).await;
        assert_eq!(page.status, 200);
        for f in page.json().as_array().unwrap() {
            names.push(f["filename"].as_str().unwrap().to_string());
        }
        next = page.link("next");
    }
    let want: Vec<String> = (0..5).map(|i| format!("f{i:04}.txt")).collect();
    assert_eq!(names, want);

    // Past the last page: an empty array.
    let p9 = c
        .get("/repos/acme/widgets/pulls/10/files?per_page=2&page=9")
        .await;
    assert_eq!(p9.json(), json!([]));
}

#[tokio::test]
async fn files_page_size_defaults_to_30_caps_at_100_and_lists_at_most_3000() {
    let (gh, c) = setup().await;
    gh.add_pull(REPO, PullSpec::new(11, many_files(3001)));
    let v = c.get("/repos/acme/widgets/pulls/11").await.json();
    assert_eq!(v["changed_files"], 3001);

    let d = c.get("/repos/acme/widgets/pulls/11/files").await;
    assert_eq!(d.json().as_array().unwrap().len(), 30);
    assert!(
        d.link("last").unwrap().ends_with("page=100"),
        "{:?}",
        d.link("last")
    );

    let big = c
        .get("/repos/acme/widgets/pulls/11/files?per_page=1000")
        .await;
    assert_eq!(big.json().as_array().unwrap().len(), 100);
    assert!(big.link("last").unwrap().ends_with("per_page=1000&page=30"));

    let last = c
        .get("/repos/acme/widgets/pulls/11/files?per_page=100&page=30")
        .await;
    let items = last.json();
    assert_eq!(items.as_array().unwrap().len(), 100);
    assert_eq!(items[99]["filename"], "f2999.txt");
    assert!(last.link("next").is_none());
    let beyond = c
        .get("/repos/acme/widgets/pulls/11/files?per_page=100&page=31")
        .await;
    assert_eq!(beyond.json(), json!([]));
}

#[tokio::test]
async fn diff_media_type_has_githubs_line_and_file_limits() {
    let (gh, c) = setup().await;
    let ok = added_file("big.txt", 20_000 - 6);
    assert_eq!(ok.lines().count(), 20_000);
    let too_big = added_file("big.txt", 20_001 - 6);
    gh.add_pull(REPO, PullSpec::new(20, ok.clone()));
    gh.add_pull(REPO, PullSpec::new(21, too_big));
    gh.add_pull(REPO, PullSpec::new(22, many_files(301)));
    gh.add_pull(REPO, PullSpec::new(23, many_files(300)));
    let diff = [("Accept", "application/vnd.github.diff")];

    let r = c.get_with("/repos/acme/widgets/pulls/20", &diff).await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/vnd.github.diff")
    );
    assert_eq!(r.text(), ok);
    let r = c
        .get_with(
            "/repos/acme/widgets/pulls/7",
            &[("Accept", "application/vnd.github.v3.diff")],
        )
        .await;
    assert_eq!(r.text(), DIFF);

    let r = c.get_with("/repos/acme/widgets/pulls/21", &diff).await;
    assert_eq!(r.status, 406);
    let v = r.json();
    assert_eq!(
        v["message"],
        "Sorry, the diff exceeded the maximum number of lines (20000)"
    );
    assert_eq!(
        v["errors"],
        json!([{"resource": "PullRequest", "field": "diff", "code": "too_large"}])
    );
    // The JSON and the files list still work.
    assert_eq!(c.get("/repos/acme/widgets/pulls/21").await.status, 200);
    assert_eq!(
        c.get("/repos/acme/widgets/pulls/21/files").await.status,
        200
    );

    let r = c.get_with("/repos/acme/widgets/pulls/22", &diff).await;
    assert_eq!(r.status, 406);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("Sorry, the diff exceeded the maximum number of files (300)")
    );
    assert_eq!(
        c.get_with("/repos/acme/widgets/pulls/23", &diff)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn valid_review_is_stored_listed_and_editable_only_by_its_author() {
    let (gh, c) = setup().await;
    let body = review(json!([
        {"path": "src/lib.rs", "line": 2, "side": "RIGHT", "body": "added line"},
        {"path": "src/lib.rs", "line": 2, "side": "LEFT", "body": "removed line"},
        {"path": "src/lib.rs", "start_line": 1, "line": 3, "side": "RIGHT", "body": "range"},
        {"path": "src/lib.rs", "line": 22, "body": "second hunk, side defaults to RIGHT"},
        {"path": "README.md", "line": 1, "side": "RIGHT", "body": "new file"},
        {"path": "old.txt", "line": 2, "side": "LEFT", "body": "deleted file"},
        {"path": "b/to.rs", "start_line": 1, "start_side": "LEFT", "line": 1, "side": "RIGHT",
         "body": "from the old line to the new one"},
    ]));
    let r = c.post("/repos/acme/widgets/pulls/7/reviews", &body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let id = v["id"].as_u64().unwrap();
    assert_eq!(v["state"], "COMMENTED");
    assert_eq!(v["user"]["login"], "nectr-bot");
    assert_eq!(v["body"], "Nectr review");
    assert_eq!(v["commit_id"], PullSpec::default().head_sha);
    assert!(
        v["html_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/acme/widgets/pull/7#pullrequestreview-{id}"))
    );

    let stored = gh.reviews(REPO, 7);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id, id);
    assert_eq!(stored[0].event, "COMMENT");
    assert_eq!(stored[0].comments.len(), 7);
    let range = &stored[0].comments[2];
    assert_eq!(
        (range.start_line, range.line, range.side.as_deref()),
        (Some(1), Some(3), Some("RIGHT"))
    );
    assert_eq!(range.start_side.as_deref(), Some("RIGHT"));
    assert_eq!(stored[0].comments[3].side.as_deref(), Some("RIGHT"));
    assert_eq!(gh.review_comments(REPO, 7).len(), 7);

    let listed = c.get("/repos/acme/widgets/pulls/7/comments").await.json();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 7);
    assert_eq!(listed[0]["pull_request_review_id"], id);
    assert_eq!(listed[0]["line"], 2);
    assert_eq!(listed[0]["side"], "RIGHT");
    assert!(listed[0]["start_line"].is_null());
    assert_eq!(listed[0]["position"], 3);
    assert_eq!(
        listed[0]["diff_hunk"],
        "@@ -1,4 +1,5 @@\n fn a() {}\n-fn b() {}\n+fn b() -> u8 { 1 }"
    );
    assert_eq!(listed[1]["side"], "LEFT");
    assert_eq!(
        listed[1]["diff_hunk"],
        "@@ -1,4 +1,5 @@\n fn a() {}\n-fn b() {}"
    );

    let reviews = c.get("/repos/acme/widgets/pulls/7/reviews").await.json();
    assert_eq!(reviews.as_array().unwrap().len(), 1);
    assert!(reviews[0]["submitted_at"].is_string());

    // Only the reviewer may edit the review's body.
    let other = Client::new(&gh.url, Some("t-author"));
    let path = format!("/repos/acme/widgets/pulls/7/reviews/{id}");
    let r = other.put(&path, &json!({"body": "hijacked"})).await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = c
        .put(&path, &json!({"body": "Nectr review (updated)"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["body"], "Nectr review (updated)");
    assert_eq!(gh.reviews(REPO, 7)[0].body, "Nectr review (updated)");
}

async fn assert_review_refused(c: &Client, gh: &FakeGitHub, body: Value, expect: &str) {
    let r = c.post("/repos/acme/widgets/pulls/7/reviews", &body).await;
    assert_eq!(r.status, 422, "{body}: {}", r.text());
    let v = r.json();
    let text = format!("{} {}", v["message"], errors_text(&v));
    assert!(
        text.contains(expect),
        "{body}: expected {expect:?} in {text}"
    );
    assert!(
        gh.reviews(REPO, 7).is_empty(),
        "a refused review is not stored"
    );
    assert!(gh.review_comments(REPO, 7).is_empty());
}

#[tokio::test]
async fn review_comment_off_the_diff_is_422() {
    let (gh, c) = setup().await;
    let v = json!({"message": "Unprocessable Entity",
        "errors": ["Pull request review thread line must be part of the diff and Pull request review thread diff hunk can't be blank"],
        "documentation_url": "https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request",
        "status": "422"});
    let bad = review(json!([
        {"path": "src/lib.rs", "line": 2, "body": "fine"},
        {"path": "src/lib.rs", "line": 10, "side": "RIGHT", "body": "between the hunks"},
    ]));
    let r = c.post("/repos/acme/widgets/pulls/7/reviews", &bad).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json(), v);
    assert!(gh.reviews(REPO, 7).is_empty());

    assert_review_refused(
        &c,
        &gh,
        review(json!([{"path": "nope.rs", "line": 1, "body": "x"}])),
        "Pull request review thread path is invalid",
    )
    .await;
    assert_review_refused(
        &c,
        &gh,
        review(json!([{"path": "img.png", "line": 1, "body": "binary"}])),
        "line must be part of the diff",
    )
    .await;
}

#[tokio::test]
async fn review_range_across_hunks_or_backwards_is_422() {
    let (gh, c) = setup().await;
    assert_review_refused(
        &c,
        &gh,
        review(json!([{"path": "src/lib.rs", "start_line": 4, "line": 22, "body": "x"}])),
        "Pull request review thread start line must be part of the same hunk as the line.",
    )
    .await;
    assert_review_refused(
        &c,
        &gh,
        review(json!([{"path": "src/lib.rs", "start_line": 3, "line": 3, "body": "x"}])),
        "start line must precede the end line",
    )
    .await;
    assert_review_refused(
        &c,
        &gh,
        review(json!([{"path": "src/lib.rs", "start_line": 5, "line": 2, "body": "x"}])),
        "start line must precede the end line",
    )
    .await;
    // Within one hunk it is fine.
    let ok = review(json!([{"path": "src/lib.rs", "start_line": 21, "line": 24, "body": "x"}]));
    let r = c.post("/repos/acme/widgets/pulls/7/reviews", &ok).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn review_sides_left_and_right_are_checked() {
    let (gh, c) = setup().await;
    // New line 5 is context (commentable on the RIGHT); old line 5 is outside the hunk.
    assert_review_refused(
        &c,
        &gh,
        review(json!([{"path": "src/lib.rs", "line": 5, "side": "LEFT", "body": "x"}])),
        "line must be part of the diff",
    )
    .await;
    // A deleted file has no right side.
    assert_review_refused(
        &c,
        &gh,
        review(json!([{"path": "old.txt", "line": 1, "side": "RIGHT", "body": "x"}])),
        "line must be part of the diff",
    )
    .await;
    // An added file has no left side.
    assert_review_refused(
        &c,
        &gh,
        review(json!([{"path": "README.md", "line": 1, "side": "LEFT", "body": "x"}])),
        "line must be part of the diff",
    )
    .await;
    assert_review_refused(
        &c,
        &gh,
        review(json!([{"path": "src/lib.rs", "line": 5, "side": "left", "body": "x"}])),
        "For 'properties/side', \\\"left\\\" is not a member of enum.",
    )
    .await;
    for (path, line, side) in [("src/lib.rs", 5, "RIGHT"), ("old.txt", 1, "LEFT")] {
        let ok = review(json!([{"path": path, "line": line, "side": side, "body": "x"}]));
        let r = c.post("/repos/acme/widgets/pulls/7/reviews", &ok).await;
        assert_eq!(r.status, 200, "{path}:{line}:{side}: {}", r.text());
    }
}

#[tokio::test]
async fn review_bodies_over_65536_characters_and_bad_events_are_422() {
    let (gh, c) = setup().await;
    let long = "é".repeat(65_537);
    assert_review_refused(
        &c,
        &gh,
        json!({"body": long, "event": "COMMENT"}),
        "Body is too long (maximum is 65536 characters)",
    )
    .await;
    assert_review_refused(
        &c,
        &gh,
        review(json!([{"path": "src/lib.rs", "line": 2, "body": long}])),
        "is too long (maximum is 65536 characters)",
    )
    .await;
    assert_review_refused(
        &c,
        &gh,
        json!({"body": "x", "event": "LGTM"}),
        "For 'properties/event', \\\"LGTM\\\" is not a member of enum.",
    )
    .await;
    assert_review_refused(
        &c,
        &gh,
        json!({"body": "x", "event": "COMMENT", "commit_id": "0".repeat(40)}),
        "No commit found for SHA",
    )
    .await;
    assert_review_refused(
        &c,
        &gh,
        json!({"event": "REQUEST_CHANGES"}),
        "requested changes",
    )
    .await;
    let r = c
        .send(
            "POST",
            "/repos/acme/widgets/pulls/7/reviews",
            &[],
            Some(b"{not json"),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["message"], "Problems parsing JSON");

    let exact = "é".repeat(65_536);
    let r = c
        .post(
            "/repos/acme/widgets/pulls/7/reviews",
            &json!({"body": exact, "event": "COMMENT",
                    "comments": [{"path": "src/lib.rs", "line": 2, "body": exact}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", &r.text()[..200.min(r.body.len())]);
}

#[tokio::test]
async fn author_cannot_approve_own_pull_and_pending_reviews_are_private() {
    let (gh, c) = setup().await;
    let author = Client::new(&gh.url, Some("t-author"));
    let r = author
        .post(
            "/repos/acme/widgets/pulls/7/reviews",
            &json!({"event": "APPROVE"}),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(
        r.json()["errors"],
        json!(["Can not approve your own pull request"])
    );

    // No event: a pending review, visible only to its author until submitted.
    let r = c
        .post(
            "/repos/acme/widgets/pulls/7/reviews",
            &review(json!([{"path": "src/lib.rs", "line": 2, "body": "draft"}]))
                .as_object()
                .map(|o| {
                    let mut o = o.clone();
                    o.remove("event");
                    Value::Object(o)
                })
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["state"], "PENDING");
    let id = r.json()["id"].as_u64().unwrap();
    let theirs = author.get("/repos/acme/widgets/pulls/7/reviews").await;
    assert_eq!(theirs.json(), json!([]));
    let comments = author.get("/repos/acme/widgets/pulls/7/comments").await;
    assert_eq!(comments.json(), json!([]));
    let r = c
        .post(
            &format!("/repos/acme/widgets/pulls/7/reviews/{id}/events"),
            &json!({"event": "APPROVE"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["state"], "APPROVED");
    let theirs = author
        .get("/repos/acme/widgets/pulls/7/reviews")
        .await
        .json();
    assert_eq!(theirs[0]["state"], "APPROVED");
    assert_eq!(gh.reviews(REPO, 7)[0].state, "APPROVED");
}

#[tokio::test]
async fn single_review_comments_are_validated_the_same_way() {
    let (gh, c) = setup().await;
    let sha = PullSpec::default().head_sha;
    let r = c
        .post(
            "/repos/acme/widgets/pulls/7/comments",
            &json!({"body": "nit", "commit_id": sha, "path": "src/lib.rs", "line": 22, "side": "RIGHT"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let v = r.json();
    assert_eq!(v["line"], 22);
    assert_eq!(v["subject_type"], "line");
    let parent = v["id"].as_u64().unwrap();

    let r = c
        .post(
            "/repos/acme/widgets/pulls/7/comments",
            &json!({"body": "off", "commit_id": sha, "path": "src/lib.rs", "line": 10, "side": "RIGHT"}),
        )
        .await;
    assert_eq!(r.status, 422);
    let v = r.json();
    assert_eq!(v["message"], "Validation Failed");
    assert_eq!(v["errors"][0]["resource"], "PullRequestReviewComment");
    assert_eq!(v["errors"][0]["field"], "pull_request_review_thread.line");
    assert_eq!(
        v["errors"][0]["message"],
        "pull_request_review_thread.line must be part of the diff"
    );

    let r = c
        .post(
            "/repos/acme/widgets/pulls/7/comments",
            &json!({"body": "no sha", "path": "src/lib.rs", "line": 22}),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(
        r.json()["message"],
        "Invalid request.\n\n\"commit_id\" wasn't supplied."
    );

    let r = c
        .post(
            "/repos/acme/widgets/pulls/7/comments",
            &json!({"body": "agreed", "in_reply_to": parent}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["in_reply_to_id"], parent);
    assert_eq!(r.json()["line"], 22);

    let file_level = c
        .post(
            "/repos/acme/widgets/pulls/7/comments",
            &json!({"body": "whole file", "commit_id": sha, "path": "img.png", "subject_type": "file"}),
        )
        .await;
    assert_eq!(file_level.status, 201, "{}", file_level.text());
    assert_eq!(gh.review_comments(REPO, 7).len(), 3);
}

#[tokio::test]
async fn matching_etag_gets_304_without_spending_rate_limit() {
    let (gh, c) = setup().await;
    let first = c.get("/repos/acme/widgets/pulls/7").await;
    let etag = first.header("etag").unwrap().to_string();
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "strong ETag: {etag}"
    );
    let remaining = first.header("x-ratelimit-remaining").unwrap().to_string();
    assert_eq!(remaining, "4999");

    let again = c
        .get_with("/repos/acme/widgets/pulls/7", &[("If-None-Match", &etag)])
        .await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    assert_eq!(again.header("x-ratelimit-remaining"), Some("4999"));
    assert_eq!(gh.rate_limit_remaining(), 4999);

    let weak = format!("W/{etag}");
    let r = c
        .get_with("/repos/acme/widgets/pulls/7", &[("If-None-Match", &weak)])
        .await;
    assert_eq!(r.status, 304);

    let stale = c
        .get_with(
            "/repos/acme/widgets/pulls/7",
            &[("If-None-Match", "\"stale\"")],
        )
        .await;
    assert_eq!(stale.status, 200);
    assert_eq!(stale.header("x-ratelimit-remaining"), Some("4998"));
    // The diff is a different representation with its own ETag.
    let diff = c
        .get_with(
            "/repos/acme/widgets/pulls/7",
            &[
                ("Accept", "application/vnd.github.diff"),
                ("If-None-Match", &etag),
            ],
        )
        .await;
    assert_eq!(diff.status, 200);
    assert_ne!(diff.header("etag"), Some(etag.as_str()));
}

#[tokio::test]
async fn bad_or_missing_token_is_401() {
    let (gh, _c) = setup().await;
    let none = Client::new(&gh.url, None)
        .get("/repos/acme/widgets/pulls/7")
        .await;
    assert_eq!(none.status, 401);
    assert_eq!(none.json()["message"], "Bad credentials");
    assert!(none.json()["documentation_url"].is_string());
    let wrong = Client::new(&gh.url, Some("nope")).get("/user").await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.header("x-ratelimit-limit").is_some());

    let token_scheme = send(
        "GET",
        &format!("{}/user", gh.url),
        &[("Authorization", "token t-write")],
        None,
    )
    .await;
    assert_eq!(token_scheme.status, 200);
    assert_eq!(token_scheme.json()["login"], "nectr-bot");
    assert_eq!(token_scheme.header("x-oauth-scopes"), Some("repo"));
    let author = Client::new(&gh.url, Some("t-author")).get("/user").await;
    assert_eq!(author.header("x-oauth-scopes"), Some("repo, workflow"));
}

#[tokio::test]
async fn read_only_token_gets_403_on_every_write() {
    let (gh, _c) = setup().await;
    let ro = Client::new(&gh.url, Some("t-read"));
    assert_eq!(ro.get("/repos/acme/widgets/pulls/7").await.status, 200);
    let writes = [
        (
            "POST",
            "/repos/acme/widgets/issues/7/comments",
            json!({"body": "hi"}),
        ),
        (
            "POST",
            "/repos/acme/widgets/pulls/7/reviews",
            review(json!([])),
        ),
        (
            "POST",
            "/repos/acme/widgets/hooks",
            json!({"config": {"url": "http://x"}}),
        ),
        (
            "PATCH",
            "/repos/acme/widgets/issues/comments/1",
            json!({"body": "x"}),
        ),
        ("DELETE", "/repos/acme/widgets/hooks/1", json!({})),
    ];
    for (method, path, body) in writes {
        let b = serde_json::to_vec(&body).unwrap();
        let r = ro.send(method, path, &[], Some(&b)).await;
        assert_eq!(r.status, 403, "{method} {path}");
        assert_eq!(
            r.json()["message"],
            "Resource not accessible by integration"
        );
    }
    assert!(gh.issue_comments(REPO, 7).is_empty());
    assert!(gh.reviews(REPO, 7).is_empty());
    assert!(gh.hooks(REPO).is_empty());
}

#[tokio::test]
async fn rate_limit_counts_down_to_403_and_resets() {
    let (gh, c) = setup().await;
    gh.set_rate_limit(3, 60);
    for left in ["2", "1", "0"] {
        let r = c.get("/repos/acme/widgets/pulls/7").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-ratelimit-remaining"), Some(left));
        assert_eq!(r.header("x-ratelimit-resource"), Some("core"));
        assert_eq!(r.header("x-ratelimit-limit"), Some("5000"));
    }
    let r = c.get("/repos/acme/widgets/pulls/7").await;
    assert_eq!(r.status, 403);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("API rate limit exceeded for user ID ")
    );
    assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(r.header("x-ratelimit-used"), Some("5000"));
    let reset: u64 = r.header("x-ratelimit-reset").unwrap().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        reset >= now + 58 && reset <= now + 61,
        "reset {reset}, now {now}"
    );
    // Writes are refused too, and nothing is stored.
    let w = c
        .post(
            "/repos/acme/widgets/issues/7/comments",
            &json!({"body": "x"}),
        )
        .await;
    assert_eq!(w.status, 403);
    assert!(gh.issue_comments(REPO, 7).is_empty());
    // GET /rate_limit still answers, and spends nothing.
    let rl = c.get("/rate_limit").await;
    assert_eq!(rl.status, 200);
    assert_eq!(rl.json()["resources"]["core"]["remaining"], 0);
    assert_eq!(rl.json()["rate"]["reset"], reset);

    // Once the reset time has passed, the full limit is back.
    gh.set_rate_limit(0, 0);
    let r = c.get("/repos/acme/widgets/pulls/7").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-ratelimit-remaining"), Some("4999"));
}

#[tokio::test]
async fn injected_502s_fire_then_requests_succeed() {
    let (gh, c) = setup().await;
    gh.inject(Fault {
        method: "GET",
        path_contains: "/pulls/7/files",
        kind: FaultKind::Status(502),
        times: 2,
    });
    for _ in 0..2 {
        let r = c.get("/repos/acme/widgets/pulls/7/files").await;
        assert_eq!(r.status, 502);
        assert!(r.header("content-type").unwrap().starts_with("text/html"));
        assert!(r.text().contains("Unicorn!"));
    }
    // Other paths are untouched.
    assert_eq!(c.get("/repos/acme/widgets/pulls/7").await.status, 200);
    assert_eq!(c.get("/repos/acme/widgets/pulls/7/files").await.status, 200);
    let seen: Vec<(String, u16)> = gh
        .requests()
        .iter()
        .map(|r| (r.path.clone(), r.status))
        .collect();
    assert_eq!(
        seen,
        [
            ("/repos/acme/widgets/pulls/7/files".to_string(), 502),
            ("/repos/acme/widgets/pulls/7/files".to_string(), 502),
            ("/repos/acme/widgets/pulls/7".to_string(), 200),
            ("/repos/acme/widgets/pulls/7/files".to_string(), 200),
        ]
    );
    // Faults do not spend the rate limit.
    assert_eq!(gh.rate_limit_remaining(), 4998);
}

#[tokio::test]
async fn secondary_rate_limit_and_429_carry_retry_after() {
    let (gh, c) = setup().await;
    gh.inject(Fault {
        method: "POST",
        path_contains: "/reviews",
        kind: FaultKind::SecondaryRateLimit { retry_after: 30 },
        times: 1,
    });
    gh.inject(Fault {
        method: "",
        path_contains: "/reviews",
        kind: FaultKind::Status429 { retry_after: 5 },
        times: 1,
    });
    let body = review(json!([]));
    let r = c.post("/repos/acme/widgets/pulls/7/reviews", &body).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.header("retry-after"), Some("30"));
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("You have exceeded a secondary rate limit")
    );
    assert_ne!(r.header("x-ratelimit-remaining"), Some("0"));
    let r = c.post("/repos/acme/widgets/pulls/7/reviews", &body).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("5"));
    assert!(gh.reviews(REPO, 7).is_empty());
    let r = c.post("/repos/acme/widgets/pulls/7/reviews", &body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(gh.reviews(REPO, 7).len(), 1);
}

#[tokio::test]
async fn delay_fault_holds_the_answer() {
    let (gh, c) = setup().await;
    gh.inject(Fault {
        method: "*",
        path_contains: "/user",
        kind: FaultKind::Delay { millis: 150 },
        times: 1,
    });
    let start = std::time::Instant::now();
    assert_eq!(c.get("/user").await.status, 200);
    assert!(start.elapsed() >= std::time::Duration::from_millis(150));
}

#[tokio::test]
async fn issues_listing_mixes_pull_requests_as_github_does() {
    let (gh, c) = setup().await;
    gh.add_issue(
        REPO,
        IssueSpec {
            labels: vec!["bug".into()],
            ..IssueSpec::new(3, "It breaks")
        },
    );
    gh.add_issue(
        REPO,
        IssueSpec {
            state: "closed".into(),
            ..IssueSpec::new(4, "Old")
        },
    );
    gh.add_pull(
        REPO,
        PullSpec {
            state: "closed".into(),
            merged: true,
            ..PullSpec::new(8, DIFF)
        },
    );
    let open = c.get("/repos/acme/widgets/issues").await.json();
    let numbers: Vec<u64> = open
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [3, 7], "open, newest first");
    assert!(open[0].get("pull_request").is_none());
    assert_eq!(open[0]["labels"][0]["name"], "bug");
    assert_eq!(
        open[1]["pull_request"]["url"].as_str().unwrap(),
        format!("{}/repos/acme/widgets/pulls/7", gh.url)
    );

    let all = c
        .get("/repos/acme/widgets/issues?state=all&sort=created&direction=asc&per_page=3")
        .await;
    let v = all.json();
    let numbers: Vec<u64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [7, 3, 4]);
    assert!(all.link("next").is_some());
    let rest = c.get(&all.link("next").unwrap()).await.json();
    assert_eq!(rest[0]["number"], 8);
    assert!(rest[0]["pull_request"]["merged_at"].is_string());

    let pulls = c.get("/repos/acme/widgets/pulls?state=closed").await.json();
    assert_eq!(pulls.as_array().unwrap().len(), 1);
    assert_eq!(pulls[0]["number"], 8);
    assert!(
        pulls[0].get("changed_files").is_none(),
        "the list omits diff stats"
    );
    let pulls = c.get("/repos/acme/widgets/pulls").await.json();
    assert_eq!(pulls.as_array().unwrap().len(), 1);
    assert_eq!(pulls[0]["number"], 7);
    assert_eq!(c.get("/repos/acme/widgets/pulls/3").await.status, 404);
    assert_eq!(
        c.get("/repos/acme/widgets/issues/7").await.json()["pull_request"]["html_url"],
        format!("{}/acme/widgets/pull/7", gh.url)
    );
}

#[tokio::test]
async fn contents_api_serves_base64_raw_and_404s() {
    let (gh, c) = setup().await;
    let text: Vec<u8> = (0..100u8).map(|i| b'a' + i % 26).collect();
    gh.set_file(REPO, "main", "src/lib.rs", &text);
    gh.set_file(REPO, "main", "hello.txt", b"hello\n");
    let head = PullSpec::default().head_sha;
    gh.set_file(REPO, &head, "src/lib.rs", b"at head");

    let r = c.get("/repos/acme/widgets/contents/src/lib.rs").await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["type"], "file");
    assert_eq!(v["encoding"], "base64");
    assert_eq!(v["size"], 100);
    assert_eq!(v["path"], "src/lib.rs");
    assert_eq!(v["name"], "lib.rs");
    let content = v["content"].as_str().unwrap();
    let lines: Vec<&str> = content.split_terminator('\n').collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0].len(), 60);
    assert!(content.ends_with('\n'));
    assert_eq!(base64_decode(content).unwrap(), text);
    assert_eq!(v["sha"], git_blob_sha(&text));

    let hello = c
        .get("/repos/acme/widgets/contents/hello.txt?ref=main")
        .await
        .json();
    assert_eq!(hello["sha"], "ce013625030ba8dba906f756967f9e9ca394464a");
    assert_eq!(hello["content"], "aGVsbG8K\n");

    let at_head = c
        .get_with(
            &format!("/repos/acme/widgets/contents/src/lib.rs?ref={head}"),
            &[("Accept", "application/vnd.github.raw+json")],
        )
        .await;
    assert_eq!(at_head.status, 200);
    assert_eq!(at_head.body, b"at head");

    let dir = c.get("/repos/acme/widgets/contents/src").await.json();
    assert_eq!(dir[0]["name"], "lib.rs");

    let missing = c.get("/repos/acme/widgets/contents/nope.rs").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["message"], "Not Found");
    let bad_ref = c
        .get("/repos/acme/widgets/contents/src/lib.rs?ref=no-such-branch")
        .await;
    assert_eq!(bad_ref.status, 404);
    assert_eq!(
        bad_ref.json()["message"],
        "No commit found for the ref no-such-branch"
    );
}

#[tokio::test]
async fn issue_comments_are_editable_only_by_their_author() {
    let (gh, c) = setup().await;
    let r = c
        .post(
            "/repos/acme/widgets/issues/7/comments",
            &json!({"body": "Summary"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let v = r.json();
    let id = v["id"].as_u64().unwrap();
    assert_eq!(v["user"]["login"], "nectr-bot");
    assert!(
        v["html_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/acme/widgets/pull/7#issuecomment-{id}"))
    );
    let path = format!("/repos/acme/widgets/issues/comments/{id}");
    let other = Client::new(&gh.url, Some("t-author"));
    assert_eq!(
        other
            .patch(&path, &json!({"body": "mine now"}))
            .await
            .status,
        403
    );
    let r = c.patch(&path, &json!({"body": "Summary v2"})).await;
    assert_eq!(r.status, 200);
    assert_eq!(gh.issue_comments(REPO, 7)[0].body, "Summary v2");
    let list = c.get("/repos/acme/widgets/issues/7/comments").await.json();
    assert_eq!(list[0]["body"], "Summary v2");
    assert_eq!(
        c.get("/repos/acme/widgets/pulls/7").await.json()["comments"],
        1
    );

    let long = "x".repeat(65_537);
    let r = c
        .post(
            "/repos/acme/widgets/issues/7/comments",
            &json!({"body": long}),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(
        r.json()["errors"][0]["message"],
        "Body is too long (maximum is 65536 characters)"
    );
    assert_eq!(
        c.post(
            "/repos/acme/widgets/issues/99/comments",
            &json!({"body": "x"})
        )
        .await
        .status,
        404
    );
}

#[tokio::test]
async fn webhooks_are_created_listed_delivered_and_deleted() {
    let (gh, c) = setup().await;
    let r = c
        .post(
            "/repos/acme/widgets/hooks",
            &json!({"name": "web", "active": true, "events": ["pull_request"],
                    "config": {"url": "https://hooks.example/nectr", "content_type": "json",
                               "secret": "s3cret"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let v = r.json();
    let id = v["id"].as_u64().unwrap();
    assert_eq!(v["config"]["secret"], "********");
    assert_eq!(v["events"], json!(["pull_request"]));
    assert_eq!(gh.hooks(REPO)[0].config["secret"], "s3cret");

    let dup = c
        .post(
            "/repos/acme/widgets/hooks",
            &json!({"config": {"url": "https://hooks.example/nectr"}}),
        )
        .await;
    assert_eq!(dup.status, 422);

    gh.add_delivery(REPO, id, 200, "pull_request");
    gh.add_delivery(REPO, id, 500, "pull_request");
    let d = c
        .get(&format!(
            "/repos/acme/widgets/hooks/{id}/deliveries?per_page=1"
        ))
        .await;
    let v = d.json();
    assert_eq!(v[0]["status_code"], 500, "newest first");
    assert_eq!(v[0]["status"], "Invalid HTTP Response: 500");
    let older = c.get(&d.link("next").unwrap()).await.json();
    assert_eq!(older[0]["status_code"], 200);
    assert_eq!(older[0]["status"], "OK");

    let listed = c.get("/repos/acme/widgets/hooks").await.json();
    assert_eq!(listed[0]["last_response"]["code"], 500);
    let path = format!("/repos/acme/widgets/hooks/{id}");
    let del = c.delete(&path).await;
    assert_eq!(del.status, 204);
    assert!(del.body.is_empty());
    assert_eq!(c.delete(&path).await.status, 404);
    assert!(gh.hooks(REPO).is_empty());
}

#[tokio::test]
async fn misc_endpoints_and_unknown_routes() {
    let (gh, c) = setup().await;
    gh.set_languages(REPO, &[("Shell", 10), ("Rust", 900)]);
    gh.add_contributor(REPO, "alice", 3);
    gh.add_contributor(REPO, "bob", 30);
    let langs = c.get("/repos/acme/widgets/languages").await;
    assert_eq!(langs.text(), r#"{"Rust":900,"Shell":10}"#);
    let contributors = c.get("/repos/acme/widgets/contributors").await.json();
    assert_eq!(contributors[0]["login"], "bob");
    assert_eq!(contributors[0]["contributions"], 30);

    let user = c.get("/user").await.json();
    assert_eq!(user["login"], "nectr-bot");
    assert_eq!(user["type"], "User");

    for path in [
        "/nope",
        "/repos/acme/missing/pulls/7",
        "/repos/acme/widgets/pulls/999",
    ] {
        let r = c.get(path).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.json()["message"], "Not Found");
        assert!(r.header("x-ratelimit-remaining").is_some());
    }
    // Owner and name are case-insensitive, as on GitHub.
    assert_eq!(c.get("/repos/ACME/Widgets/pulls/7").await.status, 200);
}

#[tokio::test]
async fn every_request_is_recorded() {
    let (gh, c) = setup().await;
    c.get("/repos/acme/widgets/pulls/7/files?per_page=5&page=1")
        .await;
    c.post(
        "/repos/acme/widgets/issues/7/comments",
        &json!({"body": "hi"}),
    )
    .await;
    Client::new(&gh.url, None).get("/user").await;
    let reqs = gh.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].path, "/repos/acme/widgets/pulls/7/files");
    assert_eq!(reqs[0].query, "per_page=5&page=1");
    assert_eq!(reqs[0].query_param("per_page").as_deref(), Some("5"));
    assert_eq!(reqs[0].header("Authorization"), Some("Bearer t-write"));
    assert!(
        reqs[0]
            .headers
            .iter()
            .all(|(k, _)| *k == k.to_ascii_lowercase())
    );
    assert_eq!(reqs[1].body_json().unwrap()["body"], "hi");
    assert_eq!(reqs[1].status, 201);
    assert_eq!(reqs[2].status, 401);
    assert!(reqs.windows(2).all(|w| w[0].seq < w[1].seq));
}

/// The server has a thread and runtime of its own: a plain `#[test]` can use it, and it
/// answers while the test thread is blocked (as when a test waits on the `nectr` binary).
#[test]
fn serves_while_the_test_thread_blocks_without_a_runtime() {
    use std::io::{Read, Write};
    let gh = FakeGitHub::start_blocking();
    gh.add_token("t", "someone", Access::Write, "");
    let addr = gh.url.trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "GET /rate_limit HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"remaining\":5000"), "{answer}");
    drop(gh); // stops and joins the server thread
}

#[tokio::test]
async fn graphql_answers_aliased_blob_objects_from_the_registered_files() {
    let (gh, c) = setup().await;
    let head = PullSpec::default().head_sha;
    gh.set_file(REPO, &head, "src/lib.rs", b"fn a() {}\n");
    gh.set_file(REPO, &head, "img.png", b"\x89PNG\0\0");
    gh.set_file(REPO, "main", "src/lib.rs", b"old\n");
    let big = "y".repeat(support::fake_github::MAX_GRAPHQL_BLOB_TEXT + 10);
    gh.set_file(REPO, &head, "big.txt", big.as_bytes());
    // Literal expressions and variables, aliases, comments, commas, `__typename`.
    let query = format!(
        "# files\nquery Files($owner: String!, $name: String!, $e: String!) {{\n\
         repository(owner: $owner, name: $name) {{ nameWithOwner,\n\
         head: object(expression: \"{head}:src/lib.rs\") {{ __typename ... on Blob {{ text byteSize isBinary oid }} }}\n\
         base: object(expression: $e) {{ ... on Blob {{ text }} }}\n\
         bin: object(expression: \"{head}:img.png\") {{ ... on Blob {{ text isBinary }} }}\n\
         big: object(expression: \"{head}:big.txt\") {{ ... on Blob {{ byteSize isTruncated }} }}\n\
         dir: object(expression: \"{head}:src\") {{ __typename ... on Blob {{ text }} }}\n\
         none: object(expression: \"{head}:nope.rs\") {{ ... on Blob {{ text }} }} }} }}"
    );
    let r = c
        .post(
            "/graphql",
            &json!({"query": query, "variables": {"owner": "acme", "name": "widgets", "e": "main:src/lib.rs"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert!(v.get("errors").is_none(), "{v:#}");
    let repo = &v["data"]["repository"];
    assert_eq!(repo["nameWithOwner"], "acme/widgets");
    assert_eq!(repo["head"]["__typename"], "Blob");
    assert_eq!(repo["head"]["text"], "fn a() {}\n");
    assert_eq!(repo["head"]["byteSize"], 10);
    assert_eq!(repo["head"]["isBinary"], false);
    assert_eq!(repo["head"]["oid"], git_blob_sha(b"fn a() {}\n"));
    assert_eq!(repo["base"]["text"], "old\n", "the variable's ref");
    assert_eq!(repo["bin"], json!({"text": null, "isBinary": true}));
    assert_eq!(repo["big"]["isTruncated"], true);
    assert_eq!(repo["dir"], json!({"__typename": "Tree"}));
    assert_eq!(repo["none"], Value::Null);
}

#[tokio::test]
async fn graphql_review_threads_show_resolution_replies_and_pages() {
    let (gh, c) = setup().await;
    let sha = PullSpec::default().head_sha;
    let mut roots = Vec::new();
    for line in [2, 22] {
        let r = c
            .post(
                "/repos/acme/widgets/pulls/7/comments",
                &json!({"body": format!("on {line}"), "commit_id": sha, "path": "src/lib.rs", "line": line, "side": "RIGHT"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        roots.push(r.json()["id"].as_u64().unwrap());
    }
    let reply = c
        .post(
            "/repos/acme/widgets/pulls/7/comments",
            &json!({"body": "fixed elsewhere", "in_reply_to": roots[1]}),
        )
        .await
        .json()["id"]
        .as_u64()
        .unwrap();
    // Resolving through a reply resolves its thread; reactions show in REST.
    gh.resolve_thread(REPO, reply);
    gh.react(REPO, roots[0], "heart");
    let listed = c.get("/repos/acme/widgets/pulls/7/comments").await.json();
    assert_eq!(listed[0]["reactions"]["heart"], 1);
    assert_eq!(listed[0]["reactions"]["total_count"], 1);
    assert_eq!(listed[1]["reactions"]["-1"], 0);

    let query = "query($n: Int!, $after: String) { repository(owner: \"acme\", name: \"widgets\") { pullRequest(number: $n) { number reviewThreads(first: 1, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { isResolved comments(first: 10) { nodes { databaseId body } } } } } } }";
    let page = |after: Value| {
        let c = c.clone();
        async move {
            let v = c
                .post(
                    "/graphql",
                    &json!({"query": query, "variables": {"n": 7, "after": after}}),
                )
                .await
                .json();
            assert!(v.get("errors").is_none(), "{v:#}");
            v["data"]["repository"]["pullRequest"].clone()
        }
    };
    let first = page(Value::Null).await;
    assert_eq!(first["number"], 7);
    let threads = &first["reviewThreads"];
    assert_eq!(threads["totalCount"], 2);
    assert_eq!(threads["pageInfo"]["hasNextPage"], true);
    assert_eq!(threads["nodes"][0]["isResolved"], false);
    assert_eq!(
        threads["nodes"][0]["comments"]["nodes"][0]["databaseId"],
        roots[0]
    );
    let second = page(threads["pageInfo"]["endCursor"].clone()).await;
    let threads = &second["reviewThreads"];
    assert_eq!(threads["pageInfo"]["hasNextPage"], false);
    assert_eq!(threads["nodes"][0]["isResolved"], true);
    let ids: Vec<u64> = threads["nodes"][0]["comments"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["databaseId"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![roots[1], reply], "the root first, then its reply");

    // As on GitHub: `first` must be 1..=100, a cursor must be one of ours, and a missing
    // pull request is null with NOT_FOUND.
    let ask = |query: String| {
        let c = c.clone();
        async move { c.post("/graphql", &json!({"query": query})).await.json() }
    };
    let v = ask("{ repository(owner: \"acme\", name: \"widgets\") { pullRequest(number: 7) { reviewThreads(first: 500) { totalCount } } } }".into()).await;
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("between 1 and 100"),
        "{v}"
    );
    let v = ask("{ repository(owner: \"acme\", name: \"widgets\") { pullRequest(number: 7) { reviewThreads(first: 5, after: \"bogus\") { totalCount } } } }".into()).await;
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("valid cursor"),
        "{v}"
    );
    let v = ask(
        "{ repository(owner: \"acme\", name: \"widgets\") { pullRequest(number: 99) { number } } }"
            .into(),
    )
    .await;
    assert_eq!(v["data"]["repository"]["pullRequest"], Value::Null);
    assert_eq!(v["errors"][0]["type"], "NOT_FOUND");
    let v = ask("{ repository(owner: \"acme\", name: \"widgets\") { pullRequest(number: 7) { reviewThreads(first: 5) { nodes { resolved } } } } }".into()).await;
    assert_eq!(
        v["errors"][0]["message"],
        "Field 'resolved' doesn't exist on type 'PullRequestReviewThread'"
    );
}

#[tokio::test]
async fn graphql_refuses_bad_queries_as_github_does() {
    let (gh, c) = setup().await;
    let head = PullSpec::default().head_sha;
    gh.set_file(REPO, &head, "a.rs", b"x\n");
    let ask = |query: String, variables: Value| {
        let c = c.clone();
        async move {
            let r = c
                .post("/graphql", &json!({"query": query, "variables": variables}))
                .await;
            assert_eq!(
                r.status,
                200,
                "GraphQL errors still answer 200: {}",
                r.text()
            );
            r.json()
        }
    };
    let message = |v: &Value| v["errors"][0]["message"].as_str().unwrap_or("").to_string();
    let blob = format!("object(expression: \"{head}:a.rs\") {{ ... on Blob {{ text }} }}");

    // A syntax error: no data at all.
    let v = ask(
        format!("{{ repository(owner: \"acme\", name: \"widgets\") {{ {blob} }}"),
        json!({}),
    )
    .await;
    assert!(
        v.get("data").is_none() && message(&v).starts_with("Parse error"),
        "{v}"
    );
    // An unknown field.
    let v = ask(
        format!("{{ repository(owner: \"acme\", name: \"widgets\") {{ f: object(expression: \"{head}:a.rs\") {{ ... on Blob {{ txt }} }} }} }}"),
        json!({}),
    )
    .await;
    assert_eq!(
        message(&v),
        "Field 'txt' doesn't exist on type 'Blob'",
        "{v}"
    );
    assert_eq!(v["errors"][0]["extensions"]["code"], "undefinedField");
    // A variable used but not declared, and one declared but missing.
    let v = ask(
        "query { repository(owner: $o, name: \"widgets\") { nameWithOwner } }".into(),
        json!({}),
    )
    .await;
    assert!(message(&v).contains("$o") && v.get("data").is_none(), "{v}");
    let v = ask(
        "query($o: String!) { repository(owner: $o, name: \"widgets\") { nameWithOwner } }".into(),
        json!({}),
    )
    .await;
    assert!(message(&v).contains("invalid value"), "{v}");
    // Two fields answering under one alias with different arguments.
    let v = ask(
        format!("{{ repository(owner: \"acme\", name: \"widgets\") {{ f0: {blob} f0: object(expression: \"main:a.rs\") {{ ... on Blob {{ text }} }} }} }}"),
        json!({}),
    )
    .await;
    assert!(message(&v).contains("'f0'"), "{v}");
    // A repository that does not resolve: data with null and a NOT_FOUND error.
    let v = ask(
        format!("{{ repository(owner: \"acme\", name: \"nope\") {{ f0: {blob} }} }}"),
        json!({}),
    )
    .await;
    assert_eq!(v["data"]["repository"], Value::Null);
    assert_eq!(v["errors"][0]["type"], "NOT_FOUND");
    // Mutations are not the fake's business.
    let v = ask(
        "mutation { addStar(input: {}) { clientMutationId } }".into(),
        json!({}),
    )
    .await;
    assert!(v.get("data").is_none(), "{v}");
    // And the endpoint needs a token like every other.
    let anonymous = Client::new(&gh.url, None)
        .post("/graphql", &json!({"query": "{ __typename }"}))
        .await;
    assert_eq!(anonymous.status, 401);
}
