//! Key rotation for secrets at rest: re-encrypt every stored user token and webhook secret
//! that is not under the newest key of `NECTR_ENCRYPTION_KEY` (`nectr rotate-keys`).
//!
//! Two phases, so that nothing is written from a stale read:
//! - [`plan`] reads every ciphertext, decrypts it for its owner (the same labels the server
//!   uses, [`crate::server::owners`]) and encrypts it again under the newest key — in memory.
//! - [`apply`] writes each new ciphertext with the store's compare-and-swap
//!   (`update_user_token`, `update_installation_secret`): a row whose ciphertext changed since
//!   it was read (a user signed in again, a repository was reconnected) is left alone and
//!   counted as skipped, so a concurrent update is never overwritten.
//!
//! A ciphertext no key reads, or one bound to another owner, is never rewritten: it is
//! reported with its row id and what to do.

use crate::crypto::{CryptoError, Keyring};
use crate::server::owners;
use crate::store::{EncryptedSecret, Store, StoreError};

/// Which kind of stored secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretKind {
    /// `users.encrypted_token`, bound to the user's GitHub id.
    UserToken,
    /// `installations.encrypted_webhook_secret`, bound to the repository.
    WebhookSecret,
}

impl SecretKind {
    /// The owner label the ciphertext is bound to, from the store's `owner_key`.
    fn owner(self, owner_key: &str) -> Option<String> {
        match self {
            SecretKind::UserToken => owner_key.trim().parse().ok().map(owners::user_token),
            SecretKind::WebhookSecret => Some(owners::webhook_secret(owner_key)),
        }
    }

    /// `users row 7 (GitHub id 42)`, `installations row 3 (acme/widgets)`.
    fn row(self, id: i64, owner_key: &str) -> String {
        match self {
            SecretKind::UserToken => format!("users row {id} (GitHub id {owner_key})"),
            SecretKind::WebhookSecret => format!("installations row {id} ({owner_key})"),
        }
    }

    /// What to do when the secret is lost for good.
    fn replace(self, owner_key: &str) -> String {
        match self {
            SecretKind::UserToken => format!(
                "the user (GitHub id {owner_key}) must sign in to Nectr again, which stores a new token"
            ),
            SecretKind::WebhookSecret => format!(
                "reconnect {owner_key} in Nectr's dashboard (disconnect, connect), which installs a webhook with a new secret"
            ),
        }
    }
}

/// A stored secret no key in the keyring can open for its owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Undecryptable {
    pub kind: SecretKind,
    /// The row id (`users.id` or `installations.id`).
    pub id: i64,
    /// The user's GitHub id, or the repository.
    pub owner_key: String,
    pub reason: String,
    pub fix: String,
}

impl std::fmt::Display for Undecryptable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}; fix: {}",
            self.kind.row(self.id, &self.owner_key),
            self.reason,
            self.fix
        )
    }
}

/// Counts for one kind of secret.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Re-encrypted under the newest key (by [`plan`]: to be re-encrypted).
    pub reencrypted: usize,
    /// Already under the newest key and readable.
    pub current: usize,
    /// Changed by someone else between reading and writing; left as it was.
    pub skipped: usize,
    pub undecryptable: Vec<Undecryptable>,
}

/// One secret to write: its ciphertext as read and the same secret under the newest key.
#[derive(Clone, PartialEq, Eq)]
pub struct Rewrite {
    pub kind: SecretKind,
    pub id: i64,
    old: String,
    new: String,
}

impl std::fmt::Debug for Rewrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rewrite")
            .field("kind", &self.kind)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// What [`plan`] found (its tallies count rewrites as `reencrypted`) and, after [`apply`],
/// what happened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    pub tokens: Tally,
    pub secrets: Tally,
    pub rewrites: Vec<Rewrite>,
}

impl Rotation {
    pub fn undecryptable(&self) -> impl Iterator<Item = &Undecryptable> {
        self.tokens
            .undecryptable
            .iter()
            .chain(&self.secrets.undecryptable)
    }

    fn tally(&mut self, kind: SecretKind) -> &mut Tally {
        match kind {
            SecretKind::UserToken => &mut self.tokens,
            SecretKind::WebhookSecret => &mut self.secrets,
        }
    }
}

/// Reads every stored secret and works out, in memory, what rotating it means. Writes
/// nothing (this is the whole of `--dry-run`).
pub async fn plan(store: &dyn Store, keys: &Keyring) -> Result<Rotation, StoreError> {
    let mut rotation = Rotation::default();
    let tokens = store.list_users_with_tokens().await?;
    plan_rows(&mut rotation, keys, SecretKind::UserToken, tokens);
    let secrets = store.list_installation_secrets().await?;
    plan_rows(&mut rotation, keys, SecretKind::WebhookSecret, secrets);
    Ok(rotation)
}

fn plan_rows(
    rotation: &mut Rotation,
    keys: &Keyring,
    kind: SecretKind,
    rows: Vec<EncryptedSecret>,
) {
    for row in rows {
        let unreadable = |reason: String, fix: String| Undecryptable {
            kind,
            id: row.id,
            owner_key: row.owner_key.clone(),
            reason,
            fix,
        };
        let Some(owner) = kind.owner(&row.owner_key) else {
            let bad = unreadable(
                format!("its owner key {:?} is not a GitHub id", row.owner_key),
                kind.replace(&row.owner_key),
            );
            rotation.tally(kind).undecryptable.push(bad);
            continue;
        };
        if !keys.needs_rotation(&row.encrypted) {
            // Under the newest key already; still check that it opens for its owner.
            match keys.decrypt(&owner, &row.encrypted) {
                Ok(mut plaintext) => {
                    plaintext.fill(0);
                    rotation.tally(kind).current += 1;
                }
                Err(e) => {
                    let (reason, fix) = explain(kind, &row.owner_key, &e);
                    rotation
                        .tally(kind)
                        .undecryptable
                        .push(unreadable(reason, fix));
                }
            }
            continue;
        }
        match keys.reencrypt(&owner, &row.encrypted) {
            Ok(new) => {
                rotation.tally(kind).reencrypted += 1;
                rotation.rewrites.push(Rewrite {
                    kind,
                    id: row.id,
                    old: row.encrypted,
                    new,
                });
            }
            Err(e) => {
                let (reason, fix) = explain(kind, &row.owner_key, &e);
                rotation
                    .tally(kind)
                    .undecryptable
                    .push(unreadable(reason, fix));
            }
        }
    }
}

/// Why a secret cannot be read, and what to do about it.
fn explain(kind: SecretKind, owner_key: &str, err: &CryptoError) -> (String, String) {
    let replace = kind.replace(owner_key);
    match err {
        CryptoError::UnknownKey => (
            "it was encrypted with a key that is not in NECTR_ENCRYPTION_KEY (or altered)"
                .to_owned(),
            format!(
                "if you still have the key it was written with, list it after the new one (NECTR_ENCRYPTION_KEY=NEW,…,OLD) and run `nectr rotate-keys` again; otherwise {replace}"
            ),
        ),
        CryptoError::WrongOwner { found, .. } => (
            format!("it belongs to {found:?}, not to this row: it was copied from another row"),
            replace,
        ),
        CryptoError::NotBound => (
            "it decrypts but has no owner label, so Nectr did not write it".to_owned(),
            replace,
        ),
        CryptoError::InvalidToken { reason } => (
            format!("it is not a Fernet token ({reason}): truncated or corrupted"),
            replace,
        ),
        other => (other.to_string(), replace),
    }
}

/// Writes the planned ciphertexts with compare-and-swap. A rewrite whose row changed since
/// [`plan`] read it moves from `reencrypted` to `skipped`.
pub async fn apply(
    store: &dyn Store,
    mut rotation: Rotation,
    now: i64,
) -> Result<Rotation, StoreError> {
    for rewrite in std::mem::take(&mut rotation.rewrites) {
        let swapped = match rewrite.kind {
            SecretKind::UserToken => {
                store
                    .update_user_token(rewrite.id, &rewrite.old, &rewrite.new, now)
                    .await?
            }
            SecretKind::WebhookSecret => {
                store
                    .update_installation_secret(rewrite.id, &rewrite.old, &rewrite.new, now)
                    .await?
            }
        };
        if !swapped {
            let tally = rotation.tally(rewrite.kind);
            tally.reencrypted -= 1;
            tally.skipped += 1;
        }
    }
    Ok(rotation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_labels_are_the_servers() {
        assert_eq!(
            SecretKind::UserToken.owner("42").as_deref(),
            Some(owners::user_token(42).as_str())
        );
        assert_eq!(SecretKind::UserToken.owner("x"), None);
        assert_eq!(
            SecretKind::WebhookSecret.owner("Acme/Widgets"),
            Some(owners::webhook_secret("acme/widgets"))
        );
    }

    #[test]
    fn rewrites_never_show_ciphertexts() {
        let rewrite = Rewrite {
            kind: SecretKind::UserToken,
            id: 1,
            old: "gAAAAA-old".into(),
            new: "gAAAAA-new".into(),
        };
        let shown = format!("{rewrite:?}");
        assert!(!shown.contains("gAAAAA"), "{shown}");
    }

    #[test]
    fn unknown_key_advice_names_the_key_order_and_the_fallback() {
        let (reason, fix) = explain(
            SecretKind::WebhookSecret,
            "acme/w",
            &CryptoError::UnknownKey,
        );
        assert!(reason.contains("not in NECTR_ENCRYPTION_KEY"));
        assert!(fix.contains("NEW,…,OLD"), "{fix}");
        assert!(fix.contains("reconnect acme/w"), "{fix}");
    }
}
