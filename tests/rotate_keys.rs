//! `nectr rotate-keys`: the real binary against a real database — a SQLite file in a temp
//! dir always, and a fresh PostgreSQL database (created and dropped by the test) when
//! `NECTR_TEST_POSTGRES_URL` names a server, as in `tests/store.rs`.

use std::process::Output;

use nectr::crypto::{CryptoError, Keyring, generate_key};
use nectr::rotation;
use nectr::server::owners;
use nectr::store::{NewInstallation, NewUser, Store};
use support::db::Db;

mod support;

const T: i64 = 1_700_000_000;

backend_tests!(
    store:
    rotation_reencrypts_everything_under_the_new_key,
    dry_run_writes_nothing,
    undecryptable_rows_are_named_and_left_alone,
    a_concurrent_change_is_never_overwritten,
);

/// Two keys: `old` wrote the data, `new` replaces it.
struct Keys {
    old: String,
    new: String,
}

impl Keys {
    fn new() -> Keys {
        Keys {
            old: generate_key(),
            new: generate_key(),
        }
    }

    fn old_ring(&self) -> Keyring {
        Keyring::from_env_value(&self.old).unwrap()
    }

    fn new_ring(&self) -> Keyring {
        Keyring::from_env_value(&self.new).unwrap()
    }

    /// `NECTR_ENCRYPTION_KEY=new,old`.
    fn rotation_env(&self) -> String {
        format!("{},{}", self.new, self.old)
    }
}

fn token_of(github_id: i64) -> String {
    format!("gho_token_of_{github_id}")
}

fn secret_of(repo: &str) -> String {
    format!("webhook-secret-of-{repo}")
}

/// Users 42 and 43 and the installation of `Acme/Widgets` under the old key, user 44
/// already under the new one. Returns the users' row ids and the installation's.
async fn seed(store: &dyn Store, keys: &Keys) -> (Vec<i64>, i64) {
    let mut ids = Vec::new();
    for (github_id, ring) in [
        (42, keys.old_ring()),
        (43, keys.old_ring()),
        (44, keys.new_ring()),
    ] {
        let user = store
            .upsert_user(
                &NewUser {
                    github_id,
                    login: format!("user{github_id}"),
                    encrypted_token: ring.encrypt(
                        &owners::user_token(github_id),
                        token_of(github_id).as_bytes(),
                    ),
                    scopes: "repo".into(),
                },
                T,
            )
            .await
            .unwrap();
        ids.push(user.id);
    }
    let repo = "Acme/Widgets";
    let inst = store
        .upsert_installation(
            &NewInstallation {
                repo: repo.into(),
                user_id: ids[0],
                webhook_id: 7,
                encrypted_webhook_secret: keys
                    .old_ring()
                    .encrypt(&owners::webhook_secret(repo), secret_of(repo).as_bytes()),
            },
            T,
        )
        .await
        .unwrap();
    (ids, inst.id)
}

/// Every stored ciphertext, in row order: user tokens, then webhook secrets.
async fn ciphertexts(store: &dyn Store) -> Vec<String> {
    let mut all: Vec<String> = store
        .list_users_with_tokens()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.encrypted)
        .collect();
    all.extend(
        store
            .list_installation_secrets()
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.encrypted),
    );
    all
}

async fn rotate_keys(db: &Db, key_env: Option<String>, extra: &[&str]) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_nectr"));
    cmd.env_clear()
        .env("DATABASE_URL", &db.url)
        .arg("rotate-keys")
        .args(extra);
    if let Some(keys) = key_env {
        cmd.env("NECTR_ENCRYPTION_KEY", keys);
    }
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn rotation_reencrypts_everything_under_the_new_key(db: Db) {
    let keys = Keys::new();
    let store = &*db.store;
    seed(store, &keys).await;

    let out = rotate_keys(&db, Some(keys.rotation_env()), &[]).await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains(
            "user tokens: 2 re-encrypted, 1 already current, 0 changed concurrently (skipped), 0 undecryptable"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "webhook secrets: 1 re-encrypted, 0 already current, 0 changed concurrently (skipped), 0 undecryptable"
        ),
        "{stdout}"
    );

    // The new key alone opens every secret, for its own owner only; the old key opens none.
    let new_only = keys.new_ring();
    let old_only = keys.old_ring();
    for row in store.list_users_with_tokens().await.unwrap() {
        let github_id: i64 = row.owner_key.parse().unwrap();
        let owner = owners::user_token(github_id);
        assert_eq!(
            new_only.decrypt(&owner, &row.encrypted).unwrap(),
            token_of(github_id).as_bytes()
        );
        assert!(matches!(
            new_only.decrypt(&owners::user_token(github_id + 1), &row.encrypted),
            Err(CryptoError::WrongOwner { .. })
        ));
        assert_eq!(
            old_only.decrypt(&owner, &row.encrypted),
            Err(CryptoError::UnknownKey)
        );
    }
    let secrets = store.list_installation_secrets().await.unwrap();
    assert_eq!(secrets.len(), 1);
    let owner = owners::webhook_secret(&secrets[0].owner_key);
    assert_eq!(
        new_only.decrypt(&owner, &secrets[0].encrypted).unwrap(),
        secret_of("Acme/Widgets").as_bytes()
    );
    assert!(
        new_only
            .decrypt(&owners::webhook_secret("acme/other"), &secrets[0].encrypted)
            .is_err()
    );

    // Running again finds nothing to do.
    let before = ciphertexts(store).await;
    let again = rotate_keys(&db, Some(keys.rotation_env()), &[]).await;
    assert_eq!(again.status.code(), Some(0));
    assert!(
        text(&again.stdout).contains("user tokens: 0 re-encrypted, 3 already current"),
        "{}",
        text(&again.stdout)
    );
    assert_eq!(ciphertexts(store).await, before);
}

async fn dry_run_writes_nothing(db: Db) {
    let keys = Keys::new();
    let store = &*db.store;
    seed(store, &keys).await;
    let before = ciphertexts(store).await;

    let out = rotate_keys(&db, Some(keys.rotation_env()), &["--dry-run"]).await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.starts_with("dry run: nothing was written\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("user tokens: 2 to re-encrypt, 1 already current, 0 undecryptable"),
        "{stdout}"
    );
    assert!(
        stdout.contains("webhook secrets: 1 to re-encrypt, 0 already current, 0 undecryptable"),
        "{stdout}"
    );
    assert_eq!(ciphertexts(store).await, before, "a dry run changes no row");
    let old_only = keys.old_ring();
    let tokens = store.list_users_with_tokens().await.unwrap();
    assert!(
        old_only
            .decrypt(&owners::user_token(42), &tokens[0].encrypted)
            .is_ok()
    );
}

async fn undecryptable_rows_are_named_and_left_alone(db: Db) {
    let keys = Keys::new();
    let store = &*db.store;
    let (users, _) = seed(store, &keys).await;
    // User 45's token was written under a key nobody kept.
    let lost = Keyring::from_env_value(&generate_key()).unwrap();
    let lost_user = store
        .upsert_user(
            &NewUser {
                github_id: 45,
                login: "user45".into(),
                encrypted_token: lost.encrypt(&owners::user_token(45), b"gho_lost"),
                scopes: "repo".into(),
            },
            T,
        )
        .await
        .unwrap();
    // User 46's row holds a copy of user 42's ciphertext: it decrypts, but not for 46.
    let copied = store.list_users_with_tokens().await.unwrap()[0]
        .encrypted
        .clone();
    let copy_user = store
        .upsert_user(
            &NewUser {
                github_id: 46,
                login: "user46".into(),
                encrypted_token: copied,
                scopes: "repo".into(),
            },
            T,
        )
        .await
        .unwrap();
    let lost_before = store
        .get_user(lost_user.id)
        .await
        .unwrap()
        .unwrap()
        .encrypted_token;

    let out = rotate_keys(&db, Some(keys.rotation_env()), &[]).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("user tokens: 2 re-encrypted, 1 already current, 0 changed concurrently (skipped), 2 undecryptable"),
        "{stdout}"
    );
    let line = |id: i64| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("undecryptable: users row {id} ")))
            .unwrap_or_else(|| panic!("users row {id} is not named:\n{stdout}"))
            .to_owned()
    };
    let lost_line = line(lost_user.id);
    assert!(lost_line.contains("(GitHub id 45)"), "{lost_line}");
    assert!(
        lost_line.contains("not in NECTR_ENCRYPTION_KEY"),
        "{lost_line}"
    );
    assert!(
        lost_line.contains("must sign in to Nectr again"),
        "{lost_line}"
    );
    let copy_line = line(copy_user.id);
    assert!(copy_line.contains("copied from another row"), "{copy_line}");
    assert!(
        stderr.contains("error: 2 stored secrets cannot be decrypted"),
        "{stderr}"
    );
    // The unreadable rows are left exactly as they were; the readable ones were rotated.
    assert_eq!(
        store
            .get_user(lost_user.id)
            .await
            .unwrap()
            .unwrap()
            .encrypted_token,
        lost_before
    );
    let rotated = store.get_user(users[0]).await.unwrap().unwrap();
    assert!(
        keys.new_ring()
            .decrypt(&owners::user_token(42), &rotated.encrypted_token)
            .is_ok()
    );
}

async fn a_concurrent_change_is_never_overwritten(db: Db) {
    let keys = Keys::new();
    let store = &*db.store;
    let (users, inst) = seed(store, &keys).await;
    let both = Keyring::from_env_value(&keys.rotation_env()).unwrap();

    let plan = rotation::plan(store, &both).await.unwrap();
    assert_eq!(plan.tokens.reencrypted, 2);
    assert_eq!(plan.secrets.reencrypted, 1);
    // Between the read and the write, user 42 signs in again (a server with only the old
    // key still configured) and the repository is reconnected.
    let fresh = keys
        .old_ring()
        .encrypt(&owners::user_token(42), b"gho_fresh");
    store
        .upsert_user(
            &NewUser {
                github_id: 42,
                login: "user42".into(),
                encrypted_token: fresh.clone(),
                scopes: "repo".into(),
            },
            T + 5,
        )
        .await
        .unwrap();
    let fresh_secret = keys
        .new_ring()
        .encrypt(&owners::webhook_secret("Acme/Widgets"), b"reconnected");
    store
        .upsert_installation(
            &NewInstallation {
                repo: "Acme/Widgets".into(),
                user_id: users[0],
                webhook_id: 8,
                encrypted_webhook_secret: fresh_secret.clone(),
            },
            T + 5,
        )
        .await
        .unwrap();

    let done = rotation::apply(store, plan, T + 10).await.unwrap();
    assert_eq!((done.tokens.reencrypted, done.tokens.skipped), (1, 1));
    assert_eq!((done.secrets.reencrypted, done.secrets.skipped), (0, 1));
    assert_eq!(
        store
            .get_user(users[0])
            .await
            .unwrap()
            .unwrap()
            .encrypted_token,
        fresh,
        "the newer token is kept"
    );
    let secrets = store.list_installation_secrets().await.unwrap();
    assert_eq!(
        (secrets[0].id, secrets[0].encrypted.as_str()),
        (inst, fresh_secret.as_str())
    );
    // User 43 had nothing concurrent: rotated.
    let other = store.get_user(users[1]).await.unwrap().unwrap();
    assert!(
        keys.new_ring()
            .decrypt(&owners::user_token(43), &other.encrypted_token)
            .is_ok()
    );
    // A second run picks up what was skipped.
    let rerun = rotation::apply(store, rotation::plan(store, &both).await.unwrap(), T + 20)
        .await
        .unwrap();
    assert_eq!(rerun.tokens.reencrypted, 1);
    assert_eq!(rerun.secrets.current, 1);
}

// --- backend-independent: configuration errors ---

#[test]
fn no_key_is_exit_2_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("nectr.db").display());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nectr"))
        .env_clear()
        .env("DATABASE_URL", &url)
        .arg("rotate-keys")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("NECTR_ENCRYPTION_KEY is not set"),
        "{stderr}"
    );
    assert!(stderr.contains("nectr keygen"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        !dir.path().join("nectr.db").exists(),
        "nothing is opened without a key"
    );
}

#[test]
fn a_missing_sqlite_file_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.db");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nectr"))
        .env_clear()
        .env("NECTR_ENCRYPTION_KEY", generate_key())
        .args(["rotate-keys", "--database-url"])
        .arg(format!("sqlite://{}", path.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("there is no database at"), "{stderr}");
    assert!(!path.exists());
}
