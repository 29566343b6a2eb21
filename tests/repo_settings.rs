//! A repository's settings on the dashboard (AI on/off, drafts, which events start a
//! review) honoured end to end: the real `nectr serve` binary with one worker, the fake
//! GitHub, the mock LLM as the operator's model, and the store on SQLite (always) and
//! PostgreSQL (when `NECTR_TEST_POSTGRES_URL` is set). The settings are changed through the
//! repository page's form, as a person would; deliveries are signed like GitHub's.

mod support;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nectr::crypto::{Keyring, generate_key};
use nectr::server::session;
use nectr::store::{DraftsSetting, EventStatus, RepoSettings, Session, Store};
use serde_json::{Value, json};
use support::db::{Connected, Db, seed_connected};
use support::fake_github::{Access, FakeGitHub, PullSpec, sha1_hex};
use support::mock_llm::{MockLlm, MockReply};
use support::raw_http::{HttpResponse, deliver_signed, send, try_send};
use support::serve::serve_command;

const REPO: &str = "acme/settings";
const LOGIN: &str = "alice";
const TOKEN: &str = "gho_settings_token_0123456789";
const SECRET: &str = "5e7715e7715e7715e7715e7715e7715e7715e7715e7715e7715e7715e7715e77";
const HOOK_ID: i64 = 7373;
const DIFF: &str = concat!(
    "diff --git a/src/lib.rs b/src/lib.rs\n",
    "--- a/src/lib.rs\n",
    "+++ b/src/lib.rs\n",
    "@@ -1,2 +1,3 @@\n",
    " fn a() {}\n",
    "+fn b(x: u32) -> u32 { dbg!(x) }\n",
    " fn c() {}\n",
);

backend_tests!(store: settings_are_honoured_by_nectr_serve);

/// A running `nectr serve`; killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    async fn start(db_url: &str, key: &str, fake: &FakeGitHub, mock: &MockLlm) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let child = serve_command(key, db_url, port, &fake.url)
            .env("NECTR_PUBLIC_URL", &url)
            .env("NECTR_CONTEXT", "off")
            .env("NECTR_WORKERS", "1")
            .env("NECTR_LLM_PROVIDER", "openai")
            .env("NECTR_LLM_BASE_URL", mock.openai_base())
            .env("NECTR_LLM_API_KEY", "sk-settings-test-key-0123456789")
            .env("NECTR_LLM_MODEL", "mock-model")
            .env("NECTR_LLM_MAX_RETRIES", "0")
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nectr serve");
        let server = Server { child, url };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(r) = try_send("GET", &format!("{}/healthz", server.url), &[], None).await
                && r.status == 200
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("nectr serve did not become ready");
    }

    async fn deliver(&self, event: &str, delivery: &str, payload: &Value) -> HttpResponse {
        let body = serde_json::to_vec(payload).unwrap();
        deliver_signed(&self.url, SECRET, HOOK_ID, event, delivery, &body).await
    }

    /// The settings form of the repository page, posted with the session's CSRF token.
    async fn save_settings(&self, cookie: &str, csrf: &str, fields: &str) -> HttpResponse {
        send(
            "POST",
            &format!("{}/repos/{REPO}/settings", self.url),
            &[
                ("Cookie", cookie),
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Accept", "text/html"),
            ],
            Some(format!("csrf_token={csrf}&{fields}").as_bytes()),
        )
        .await
    }
}

fn pr_payload(action: &str, number: u64, head: &str, draft: bool) -> Value {
    json!({
        "action": action,
        "number": number,
        "pull_request": {
            "number": number, "title": format!("Change {number}"), "body": null,
            "state": "open", "draft": draft,
            "head": {"ref": "feature", "sha": head, "repo": {"full_name": REPO}},
            "base": {"ref": "main", "sha": sha1_hex(b"base commit"), "repo": {"full_name": REPO}},
            "user": {"login": "bob"}
        },
        "repository": {"full_name": REPO, "private": false},
        "sender": {"login": "bob"}
    })
}

fn add_pull(fake: &FakeGitHub, number: u64, head: &str, draft: bool) {
    fake.add_pull(
        REPO,
        PullSpec {
            head_sha: head.to_owned(),
            draft,
            ..PullSpec::new(number, DIFF)
        },
    );
}

/// Waits until the event the answer queued is no longer pending or running.
async fn settled(store: &dyn Store, r: &HttpResponse) -> nectr::store::EventSummary {
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["event_id"].as_i64().expect("an event id");
    for _ in 0..1200 {
        let e = store.get_event(id).await.unwrap().unwrap();
        if !matches!(e.status, EventStatus::Pending | EventStatus::Running) {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("event {id} did not settle");
}

/// 200 and stored as ignored, with a reason containing `why`.
async fn ignored(store: &dyn Store, r: &HttpResponse, why: &str) {
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "ignored", "{}", r.text());
    let reason = r.json()["reason"].as_str().unwrap_or_default().to_owned();
    assert!(reason.contains(why), "{reason}");
    let id = r.json()["event_id"].as_i64().unwrap();
    let e = store.get_event(id).await.unwrap().unwrap();
    assert_eq!(e.status, EventStatus::Ignored);
    assert_eq!(e.error.as_deref(), Some(reason.as_str()));
}

async fn settings_are_honoured_by_nectr_serve(db: Db) {
    nectr::github::transport::install_crypto_provider();
    let store = db.store.clone();
    let mock = MockLlm::start().await;
    mock.respond_with(|_| MockReply::text(r#"{"summary": "Adds b.", "findings": []}"#));
    let fake = FakeGitHub::start().await;
    fake.add_token(TOKEN, LOGIN, Access::Write, "repo");
    fake.add_repo(REPO);
    fake.add_collaborator(REPO, "bob", "maintain");
    let key = generate_key();
    let keyring = Keyring::from_env_value(&key).unwrap();
    let user_id = seed_connected(
        store.as_ref(),
        &keyring,
        &Connected {
            repo: REPO,
            login: LOGIN,
            github_id: 4242,
            token: TOKEN,
            hook_id: HOOK_ID,
            secret: SECRET,
        },
    )
    .await;
    // A signed-in browser: the session row as sign-in stores it (the cookie's SHA-256).
    let cookie_value = "0f".repeat(32);
    let csrf = "c5".repeat(32);
    let now = nectr::server::now();
    store
        .create_session(&Session {
            id: session::sha256_hex(&cookie_value),
            user_id,
            csrf_token: csrf.clone(),
            created_at: now,
            expires_at: now + 3600,
        })
        .await
        .unwrap();
    let cookie = format!("{}={cookie_value}", session::SESSION_COOKIE);
    let server = Server::start(&db.url, &key, &fake, &mock).await;

    // Defaults: today's behaviour. The operator's model reviews an opened pull request.
    let head1 = sha1_hex(b"settings head 1");
    add_pull(&fake, 1, &head1, false);
    let e = settled(
        store.as_ref(),
        &server
            .deliver(
                "pull_request",
                "s-1",
                &pr_payload("opened", 1, &head1, false),
            )
            .await,
    )
    .await;
    assert_eq!(e.status, EventStatus::Done, "{e:?}");
    assert_eq!(fake.reviews(REPO, 1).len(), 1);
    let calls_with_ai = mock.request_count();
    assert!(calls_with_ai >= 1, "the AI review ran by default");

    // Through the repository page's form: synchronize, comments and the AI off, drafts not
    // reviewed. The page shows them.
    let r = server
        .save_settings(
            &cookie,
            &csrf,
            "on_opened=on&on_reopened=on&on_ready_for_review=on&drafts=no",
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(
        store.repo_settings(REPO).await.unwrap(),
        RepoSettings {
            ai_enabled: false,
            drafts: DraftsSetting::No,
            on_synchronize: false,
            on_comments: false,
            ..RepoSettings::default()
        }
    );
    // A form without the token changes nothing.
    let r = server.save_settings(&cookie, "forged", "drafts=yes").await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(
        store.repo_settings(REPO).await.unwrap().drafts,
        DraftsSetting::No
    );

    // A push: synchronize is off, so it is stored as ignored with the reason, not reviewed.
    let head2 = sha1_hex(b"settings head 2");
    add_pull(&fake, 1, &head2, false);
    let r = server
        .deliver(
            "pull_request",
            "s-2",
            &pr_payload("synchronize", 1, &head2, false),
        )
        .await;
    ignored(
        store.as_ref(),
        &r,
        "pull request `synchronize` events are turned off",
    )
    .await;
    // A draft: not reviewed.
    let head3 = sha1_hex(b"settings head 3");
    add_pull(&fake, 2, &head3, true);
    let r = server
        .deliver(
            "pull_request",
            "s-3",
            &pr_payload("opened", 2, &head3, true),
        )
        .await;
    ignored(store.as_ref(), &r, "drafts are not reviewed").await;
    // A command in a comment: comment commands are off.
    let comment = fake.add_comment_as(REPO, 1, "bob", "/nectr review");
    let r = server
        .deliver(
            "issue_comment",
            "s-4",
            &fake.issue_comment_event(REPO, comment),
        )
        .await;
    ignored(store.as_ref(), &r, "comment commands are turned off").await;

    // An opened pull request is still reviewed — rules only: no call to the model.
    let head4 = sha1_hex(b"settings head 4");
    add_pull(&fake, 3, &head4, false);
    let e = settled(
        store.as_ref(),
        &server
            .deliver(
                "pull_request",
                "s-5",
                &pr_payload("opened", 3, &head4, false),
            )
            .await,
    )
    .await;
    assert_eq!(e.status, EventStatus::Done, "{e:?}");
    assert_eq!(
        mock.request_count(),
        calls_with_ai,
        "no model call with the AI off"
    );
    let posted = fake.reviews(REPO, 3);
    assert_eq!(posted.len(), 1);
    assert!(
        posted[0]
            .body
            .contains("the AI review is turned off for this repository"),
        "{}",
        posted[0].body
    );
    assert!(
        posted[0]
            .comments
            .iter()
            .any(|c| c.body.contains("debug.rust-dbg")),
        "the rules still ran: {:?}",
        posted[0].comments
    );
    assert!(fake.reviews(REPO, 1).len() == 1 && fake.reviews(REPO, 2).is_empty());

    // Drafts reviewed: a draft is reviewed although `.nectr.yml` (none: the default) would
    // skip it. Still no model call.
    let r = server
        .save_settings(
            &cookie,
            &csrf,
            "on_opened=on&on_reopened=on&on_ready_for_review=on&drafts=yes",
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let head5 = sha1_hex(b"settings head 5");
    add_pull(&fake, 4, &head5, true);
    let e = settled(
        store.as_ref(),
        &server
            .deliver(
                "pull_request",
                "s-6",
                &pr_payload("opened", 4, &head5, true),
            )
            .await,
    )
    .await;
    assert_eq!(e.status, EventStatus::Done, "{e:?}");
    assert_eq!(fake.reviews(REPO, 4).len(), 1);
    assert_eq!(mock.request_count(), calls_with_ai);

    // The AI back on: the operator's model is used again (the switch only turns it off).
    let r = server
        .save_settings(
            &cookie,
            &csrf,
            "on_opened=on&on_synchronize=on&on_reopened=on&on_ready_for_review=on&on_comments=on&drafts=config&ai=on",
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(
        store.repo_settings(REPO).await.unwrap(),
        RepoSettings::default()
    );
    let head6 = sha1_hex(b"settings head 6");
    add_pull(&fake, 5, &head6, false);
    let e = settled(
        store.as_ref(),
        &server
            .deliver(
                "pull_request",
                "s-7",
                &pr_payload("opened", 5, &head6, false),
            )
            .await,
    )
    .await;
    assert_eq!(e.status, EventStatus::Done, "{e:?}");
    assert!(mock.request_count() > calls_with_ai);
    // Every change is on record.
    let actions = store.dashboard_actions_for(REPO, None, 10).await.unwrap();
    assert_eq!(
        actions.iter().filter(|a| a.action == "settings").count(),
        3,
        "{actions:?}"
    );
    drop(server);
}
