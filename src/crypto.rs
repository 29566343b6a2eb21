//! Secrets at rest: users' OAuth tokens and per-repo webhook secrets, Fernet-encrypted
//! under the keys in `NECTR_ENCRYPTION_KEY` (comma-separated, newest first).
//!
//! A [`Keyring`] encrypts with the newest key and decrypts with any of them, so keys can be
//! rotated: put the new key first, keep the old one after it, run the rotation command
//! ([`Keyring::needs_rotation`] + [`Keyring::reencrypt`] on every stored secret), then drop
//! the old key.
//!
//! # Owner binding
//!
//! Fernet has no associated data, so every secret is encrypted together with its owner
//! label (`"user:42:oauth_token"`, `"installation:7:webhook_secret"`). The Fernet plaintext
//! is `"nx1:"`, the owner's length as a big-endian `u64`, the owner, then the secret.
//! [`Keyring::decrypt`] checks the label, so a ciphertext copied into another row does not
//! decrypt there.
//!
//! # How this module uses the `fernet` crate (0.2.2)
//!
//! The crate encrypts and runs AES-128-CBC; this module parses and authenticates tokens
//! itself first, because of two traps in the crate's decryption:
//!
//! - `decrypt_with_ttl` adds the TTL to the token's timestamp *before* checking the HMAC, so
//!   a forged timestamp near `u64::MAX` overflows (a panic with overflow checks on). It is
//!   never called here. TTL checks ([`Keyring::decrypt_raw`] with a [`Ttl`]) use checked
//!   arithmetic and run only after the HMAC has been verified.
//! - `Fernet::decrypt` rejects a token stamped more than 60 s in the future even without a
//!   TTL (Python's `cryptography` does not), so a secret written by a host whose clock ran
//!   ahead would be lost for good. Here, once a token's HMAC is verified, its timestamp is
//!   set to 0 and its HMAC recomputed with the same key before it is handed to
//!   `Fernet::decrypt`, whose skew check then cannot fire. This is sound: the rewritten token
//!   is built only from a token we have already authenticated, with our own key. Secrets at
//!   rest have no age limit, so their timestamps are ignored, as Python does without a TTL.
//!
//! Decryption never panics on hostile input: the token is size-checked, decoded and
//! HMAC-verified (constant time) before anything else reads it. (The crate's `encrypt` and
//! `decrypt` do panic if the host clock is before 1970 or the OS random generator fails.)

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The environment variable that holds the keys.
pub const ENV_VAR: &str = "NECTR_ENCRYPTION_KEY";

/// Fernet's allowed clock skew: with a TTL, a token stamped further than this ahead of
/// the checking host's clock is rejected (the spec's rule; secrets at rest have no TTL).
pub const MAX_CLOCK_SKEW_SECS: u64 = 60;

/// Marks a Nectr owner-bound plaintext (format version 1).
const FRAME_MAGIC: &[u8; 4] = b"nx1:";

/// Version byte, timestamp, IV.
const HEADER_LEN: usize = 1 + 8 + 16;
const HMAC_LEN: usize = 32;
const BLOCK_LEN: usize = 16;
const VERSION: u8 = 0x80;

type HmacSha256 = Hmac<Sha256>;

/// Why a key could not be loaded or a secret could not be decrypted. No variant ever
/// carries a key or a plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error(
        "NECTR_ENCRYPTION_KEY is not set or empty: set NECTR_ENCRYPTION_KEY to a key from `nectr keygen`"
    )]
    NoKey,
    #[error(
        "NECTR_ENCRYPTION_KEY is not valid UTF-8: set NECTR_ENCRYPTION_KEY to a key from `nectr keygen`"
    )]
    NotUnicode,
    #[error(
        "NECTR_ENCRYPTION_KEY: key {position} of {count} {reason}; set NECTR_ENCRYPTION_KEY to a key from `nectr keygen` (several keys: comma-separated, newest first)"
    )]
    MalformedKey {
        /// 1-based position in the comma-separated list.
        position: usize,
        count: usize,
        reason: String,
    },
    #[error(
        "NECTR_ENCRYPTION_KEY: keys {first} and {second} are the same key; list each key once, newest first"
    )]
    DuplicateKey { first: usize, second: usize },
    #[error(
        "this secret is not a Fernet token Nectr can read ({reason}); the stored value is truncated or corrupted: store the secret again (sign in again or reconnect the repository)"
    )]
    InvalidToken { reason: &'static str },
    #[error(
        "this secret was encrypted with a key that is not in NECTR_ENCRYPTION_KEY (or it was altered); add the old key after the new one: NECTR_ENCRYPTION_KEY=NEW_KEY,OLD_KEY"
    )]
    UnknownKey,
    #[error(
        "this secret belongs to {found:?}, not {expected:?}: its ciphertext was copied from another row; store the secret again (sign in again or reconnect the repository)"
    )]
    WrongOwner { expected: String, found: String },
    #[error(
        "this secret decrypts but has no owner label, so Nectr did not write it; store the secret again through Nectr"
    )]
    NotBound,
    #[error("this token is older than its time limit; start again (for example, sign in again)")]
    Expired,
    #[error(
        "this token is stamped more than 60 s ahead of this host's clock; check the clocks (NTP) of the host that wrote it and of this one"
    )]
    FromFuture,
}

/// A time limit for [`Keyring::decrypt_raw`]: the token must be at most `secs` old at `now`
/// (Unix seconds) and not stamped more than [`MAX_CLOCK_SKEW_SECS`] after `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttl {
    pub secs: u64,
    pub now: u64,
}

impl Ttl {
    /// A limit of `secs` seconds, measured from this host's clock.
    pub fn from_now(secs: u64) -> Ttl {
        Ttl {
            secs,
            now: unix_now(),
        }
    }
}

/// One key: the crate's `Fernet` (encryption, AES) and our copy of the signing half (HMAC).
#[derive(Clone)]
struct Key {
    fernet: fernet::Fernet,
    signing: [u8; 16],
}

impl Drop for Key {
    fn drop(&mut self) {
        // Best effort (`fernet::Fernet` zeroizes its own copy): `black_box` keeps the store
        // from being removed as dead.
        self.signing.fill(0);
        std::hint::black_box(&self.signing);
    }
}

impl Key {
    fn from_bytes(bytes: &[u8; 32]) -> Option<Key> {
        let fernet = fernet::Fernet::new(&URL_SAFE.encode(bytes))?;
        let mut signing = [0u8; 16];
        signing.copy_from_slice(&bytes[..16]);
        Some(Key { fernet, signing })
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.signing).expect("HMAC accepts a key of any length")
    }

    /// Whether `data` (a decoded, structurally valid token) carries this key's HMAC.
    fn authenticates(&self, data: &[u8]) -> bool {
        let (message, tag) = data.split_at(data.len() - HMAC_LEN);
        let mut mac = self.mac();
        mac.update(message);
        mac.verify_slice(tag).is_ok()
    }

    /// Decrypts a token this key authenticates (see the module doc for the re-stamp).
    fn open(&self, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut restamped = data[..data.len() - HMAC_LEN].to_vec();
        restamped[1..9].copy_from_slice(&0u64.to_be_bytes());
        let mut mac = self.mac();
        mac.update(&restamped);
        restamped.extend_from_slice(&mac.finalize().into_bytes());
        self.fernet
            .decrypt(&URL_SAFE.encode(&restamped))
            .map_err(|_| CryptoError::InvalidToken {
                reason: "its padding is wrong after decryption",
            })
    }
}

/// The keys from `NECTR_ENCRYPTION_KEY`, newest first. `Debug` shows only how many.
#[derive(Clone)]
pub struct Keyring {
    /// Never empty; `keys[0]` is the newest.
    keys: Vec<Key>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// Reads `NECTR_ENCRYPTION_KEY` (see [`Keyring::from_env_value`]).
    pub fn from_env() -> Result<Keyring, CryptoError> {
        match std::env::var(ENV_VAR) {
            Ok(value) => Keyring::from_env_value(&value),
            Err(std::env::VarError::NotPresent) => Err(CryptoError::NoKey),
            Err(std::env::VarError::NotUnicode(_)) => Err(CryptoError::NotUnicode),
        }
    }

    /// Parses one or more comma-separated URL-safe base64 32-byte Fernet keys, newest first.
    /// Whitespace around keys is ignored (padding `=` is optional); an empty value, an empty
    /// entry, a malformed key or the same key twice is an error naming the key's position.
    pub fn from_env_value(value: &str) -> Result<Keyring, CryptoError> {
        if value.trim().is_empty() {
            return Err(CryptoError::NoKey);
        }
        let entries: Vec<&str> = value.split(',').map(str::trim).collect();
        let count = entries.len();
        let malformed = |position: usize, reason: String| CryptoError::MalformedKey {
            position,
            count,
            reason,
        };
        let mut raw: Vec<[u8; 32]> = Vec::with_capacity(count);
        for (i, entry) in entries.iter().enumerate() {
            let position = i + 1;
            if entry.is_empty() {
                return Err(malformed(position, "is empty (a stray comma?)".into()));
            }
            let bytes = match URL_SAFE_NO_PAD.decode(entry.trim_end_matches('=')) {
                Ok(bytes) => bytes,
                Err(_) if entry.contains(['+', '/']) => {
                    return Err(malformed(
                        position,
                        "contains '+' or '/': a Fernet key is URL-safe base64 ('-' and '_')".into(),
                    ));
                }
                Err(_) => return Err(malformed(position, "is not URL-safe base64".into())),
            };
            let Ok(bytes) = <[u8; 32]>::try_from(bytes.as_slice()) else {
                return Err(malformed(
                    position,
                    format!(
                        "decodes to {} bytes; a Fernet key is 32 bytes (44 characters)",
                        bytes.len()
                    ),
                ));
            };
            if let Some(first) = raw.iter().position(|k| *k == bytes) {
                return Err(CryptoError::DuplicateKey {
                    first: first + 1,
                    second: position,
                });
            }
            raw.push(bytes);
        }
        let mut keys = Vec::with_capacity(raw.len());
        for (i, bytes) in raw.iter_mut().enumerate() {
            let key = Key::from_bytes(bytes);
            bytes.fill(0);
            std::hint::black_box(&bytes);
            keys.push(key.ok_or_else(|| malformed(i + 1, "is not a Fernet key".into()))?);
        }
        Ok(Keyring { keys })
    }

    /// How many keys (at least one).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: a keyring has at least one key.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Encrypts `plaintext` for `owner` (a row label such as `"user:42:oauth_token"`) with
    /// the newest key. Only [`Keyring::decrypt`] with the same owner opens it.
    pub fn encrypt(&self, owner: &str, plaintext: &[u8]) -> String {
        let mut framed = Vec::with_capacity(FRAME_MAGIC.len() + 8 + owner.len() + plaintext.len());
        framed.extend_from_slice(FRAME_MAGIC);
        framed.extend_from_slice(&(owner.len() as u64).to_be_bytes());
        framed.extend_from_slice(owner.as_bytes());
        framed.extend_from_slice(plaintext);
        let token = self.keys[0].fernet.encrypt(&framed);
        wipe(&mut framed);
        token
    }

    /// Decrypts a token from [`Keyring::encrypt`], trying every key, and checks that it was
    /// encrypted for `owner`. The token's timestamp is not checked (secrets at rest do not
    /// expire, and a token written by a host whose clock ran ahead still decrypts).
    pub fn decrypt(&self, owner: &str, token: &str) -> Result<Vec<u8>, CryptoError> {
        let (_, mut framed) = self.open(token)?;
        let result = unframe(owner, &framed);
        wipe(&mut framed);
        result
    }

    /// Whether `token` is not encrypted under the newest key, so the rotation command should
    /// [`Keyring::reencrypt`] it. True also for a token no key can read (re-encrypting it
    /// then reports why).
    pub fn needs_rotation(&self, token: &str) -> bool {
        self.key_index(token) != Some(0)
    }

    /// Which key authenticates `token`: 0 for the newest, `None` for none of them.
    pub fn key_index(&self, token: &str) -> Option<usize> {
        let data = decode_token(token).ok()?;
        self.keys.iter().position(|k| k.authenticates(&data))
    }

    /// Decrypts `token` for `owner` with whichever key reads it and encrypts it again with
    /// the newest key (for the key-rotation command).
    pub fn reencrypt(&self, owner: &str, token: &str) -> Result<String, CryptoError> {
        let mut plaintext = self.decrypt(owner, token)?;
        let token = self.encrypt(owner, &plaintext);
        wipe(&mut plaintext);
        Ok(token)
    }

    /// Encrypts with the newest key as a plain Fernet token (no owner label), readable by
    /// any Fernet implementation: for short-lived tokens checked with a [`Ttl`].
    pub fn encrypt_raw(&self, plaintext: &[u8]) -> String {
        self.keys[0].fernet.encrypt(plaintext)
    }

    /// Decrypts a plain Fernet token (from [`Keyring::encrypt_raw`] or any Fernet
    /// implementation), trying every key. With a [`Ttl`], applies the spec's time checks
    /// (too old, or stamped more than [`MAX_CLOCK_SKEW_SECS`] in the future) after the HMAC;
    /// without one, like Python's `cryptography`, ignores the timestamp.
    pub fn decrypt_raw(&self, token: &str, ttl: Option<Ttl>) -> Result<Vec<u8>, CryptoError> {
        let (timestamp, plaintext) = self.open(token)?;
        if let Some(Ttl { secs, now }) = ttl {
            if timestamp.checked_add(secs).is_some_and(|end| end < now) {
                return Err(CryptoError::Expired);
            }
            if now.saturating_add(MAX_CLOCK_SKEW_SECS) < timestamp {
                return Err(CryptoError::FromFuture);
            }
        }
        Ok(plaintext)
    }

    /// Authenticates `token` with the first key that can and decrypts it: the timestamp and
    /// the Fernet plaintext.
    fn open(&self, token: &str) -> Result<(u64, Vec<u8>), CryptoError> {
        let data = decode_token(token)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.authenticates(&data))
            .ok_or(CryptoError::UnknownKey)?;
        let timestamp = u64::from_be_bytes(data[1..9].try_into().expect("8 bytes"));
        Ok((timestamp, key.open(&data)?))
    }
}

/// A new random Fernet key (URL-safe base64 of 32 bytes), as `nectr keygen` prints.
pub fn generate_key() -> String {
    fernet::Fernet::generate_key()
}

/// Decodes a token and checks its shape: version byte, at least one block, whole blocks.
/// Surrounding whitespace and missing `=` padding are accepted, as the crate does.
fn decode_token(token: &str) -> Result<Vec<u8>, CryptoError> {
    let invalid = |reason| CryptoError::InvalidToken { reason };
    let text = token.trim().trim_end_matches('=');
    if text.is_empty() {
        return Err(invalid("it is empty"));
    }
    let data = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| invalid("it is not URL-safe base64"))?;
    if data.len() < HEADER_LEN + HMAC_LEN {
        return Err(invalid("it is too short"));
    }
    if data[0] != VERSION {
        return Err(invalid("it does not start with Fernet's version byte"));
    }
    let ciphertext_len = data.len() - HEADER_LEN - HMAC_LEN;
    if !ciphertext_len.is_multiple_of(BLOCK_LEN) {
        return Err(invalid(
            "its ciphertext is not a whole number of AES blocks",
        ));
    }
    // PKCS#7 always adds at least one block.
    if ciphertext_len == 0 {
        return Err(invalid("it is too short"));
    }
    Ok(data)
}

/// Checks the owner label of a decrypted plaintext and returns the secret after it.
fn unframe(owner: &str, framed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let rest = framed
        .strip_prefix(FRAME_MAGIC.as_slice())
        .ok_or(CryptoError::NotBound)?;
    let (len, rest) = rest.split_first_chunk::<8>().ok_or(CryptoError::NotBound)?;
    let len = usize::try_from(u64::from_be_bytes(*len)).map_err(|_| CryptoError::NotBound)?;
    if len > rest.len() {
        return Err(CryptoError::NotBound);
    }
    let (found, secret) = rest.split_at(len);
    if found != owner.as_bytes() {
        return Err(CryptoError::WrongOwner {
            expected: owner.to_owned(),
            found: String::from_utf8_lossy(found).into_owned(),
        });
    }
    Ok(secret.to_vec())
}

/// Best-effort erasure of a buffer that held a secret.
fn wipe(buf: &mut [u8]) {
    buf.fill(0);
    std::hint::black_box(&buf);
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";

    fn ring(value: &str) -> Keyring {
        Keyring::from_env_value(value).unwrap()
    }

    /// Rewrites a token's timestamp and signs it again with `key`, as a host with that
    /// clock would have written it.
    fn stamped(key: &Key, token: &str, timestamp: u64) -> String {
        let data = decode_token(token).unwrap();
        let mut message = data[..data.len() - HMAC_LEN].to_vec();
        message[1..9].copy_from_slice(&timestamp.to_be_bytes());
        let mut mac = key.mac();
        mac.update(&message);
        message.extend_from_slice(&mac.finalize().into_bytes());
        URL_SAFE.encode(&message)
    }

    #[test]
    fn token_from_a_clock_far_ahead_still_decrypts() {
        let keys = ring(KEY_A);
        let token = keys.encrypt("user:1:oauth_token", b"gho_x");
        for ts in [
            unix_now() + 61,
            unix_now() + 86_400 * 365,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let future = stamped(&keys.keys[0], &token, ts);
            // The crate alone refuses it (the trap) ...
            if ts > unix_now() + 120 {
                assert!(keys.keys[0].fernet.decrypt(&future).is_err());
            }
            // ... the keyring does not.
            assert_eq!(
                keys.decrypt("user:1:oauth_token", &future).unwrap(),
                b"gho_x"
            );
            assert!(!keys.needs_rotation(&future));
        }
    }

    #[test]
    fn ttl_checks_never_overflow() {
        let keys = ring(KEY_A);
        let token = keys.encrypt_raw(b"state");
        let max = stamped(&keys.keys[0], &token, u64::MAX);
        let ttl = |secs, now| Some(Ttl { secs, now });
        assert_eq!(
            keys.decrypt_raw(&max, ttl(u64::MAX, 0)),
            Err(CryptoError::FromFuture)
        );
        assert_eq!(keys.decrypt_raw(&max, ttl(60, u64::MAX)).unwrap(), b"state");
        let zero = stamped(&keys.keys[0], &token, 0);
        assert_eq!(
            keys.decrypt_raw(&zero, ttl(60, u64::MAX)),
            Err(CryptoError::Expired)
        );
        assert_eq!(
            keys.decrypt_raw(&zero, ttl(u64::MAX, u64::MAX)).unwrap(),
            b"state"
        );
        assert_eq!(keys.decrypt_raw(&max, None).unwrap(), b"state");
    }

    #[test]
    fn forged_timestamp_without_the_key_is_unknown_key() {
        let keys = ring(KEY_A);
        let token = keys.encrypt("o", b"s");
        let mut data = decode_token(&token).unwrap();
        data[1..9].copy_from_slice(&u64::MAX.to_be_bytes());
        let forged = URL_SAFE.encode(&data);
        assert_eq!(keys.decrypt("o", &forged), Err(CryptoError::UnknownKey));
        assert_eq!(
            keys.decrypt_raw(&forged, Some(Ttl::from_now(u64::MAX))),
            Err(CryptoError::UnknownKey)
        );
    }

    #[test]
    fn frame_layout() {
        assert_eq!(unframe("ab", b"nx1:\0\0\0\0\0\0\0\x02abXY").unwrap(), b"XY");
        assert_eq!(unframe("", b"nx1:\0\0\0\0\0\0\0\0").unwrap(), b"");
        assert_eq!(unframe("ab", b"hello"), Err(CryptoError::NotBound));
        assert_eq!(unframe("ab", b"nx1:\0\0\0"), Err(CryptoError::NotBound));
        assert_eq!(
            unframe("ab", b"nx1:\xff\xff\xff\xff\xff\xff\xff\xffab"),
            Err(CryptoError::NotBound)
        );
        assert_eq!(
            unframe("ab", b"nx1:\0\0\0\0\0\0\0\x03abcXY"),
            Err(CryptoError::WrongOwner {
                expected: "ab".into(),
                found: "abc".into()
            })
        );
    }

    #[test]
    fn a_bound_token_is_not_mistaken_for_an_unbound_one() {
        let keys = ring(KEY_A);
        let raw = keys.encrypt_raw(b"hello");
        assert_eq!(keys.decrypt("user:1", &raw), Err(CryptoError::NotBound));
    }
}
