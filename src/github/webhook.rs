//! Webhook signatures: GitHub signs every delivery's raw body with the webhook's secret
//! (HMAC-SHA256) and sends `X-Hub-Signature-256: sha256=<64 lowercase hex digits>`.
//!
//! [`verify_signature`] runs on the exact bytes received, before any parsing; it compares in
//! constant time and never skips the check (an empty secret is refused). [`sign`] makes the
//! header value, for tests and for `nectr doctor`.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header GitHub puts the signature in.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

const PREFIX: &str = "sha256=";
const HEX_LEN: usize = 64;

type HmacSha256 = Hmac<Sha256>;

/// Why a delivery's signature was not accepted. No variant carries the secret or the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error(
        "no webhook secret is configured for this repository, and Nectr never accepts unsigned deliveries: set GITHUB_WEBHOOK_SECRET or reconnect the repository to give its webhook a secret"
    )]
    NoSecret,
    #[error(
        "the delivery has no X-Hub-Signature-256 header: give the webhook a secret in the repository's Settings → Webhooks (the same one Nectr has), or reconnect the repository"
    )]
    Missing,
    #[error(
        "the X-Hub-Signature-256 header is malformed ({reason}); GitHub sends `sha256=` followed by 64 lowercase hex digits — check that nothing between GitHub and Nectr rewrites headers"
    )]
    Malformed { reason: &'static str },
    #[error(
        "the X-Hub-Signature-256 signature does not match the body: check that the webhook's secret on GitHub is the one Nectr has (GITHUB_WEBHOOK_SECRET or the repository's own), and that no proxy changes the body"
    )]
    Mismatch,
}

/// Checks `header` (the `X-Hub-Signature-256` value, `None` when absent) against the
/// HMAC-SHA256 of `body` under `secret`. The header must be exactly `sha256=` and 64
/// lowercase hex digits. The comparison is constant time.
pub fn verify_signature(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    if secret.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    let header = header.ok_or(SignatureError::Missing)?;
    let expected = parse_header(header)?;
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts a key of any length");
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// The `X-Hub-Signature-256` value for `body` signed with `secret`: `sha256=` and 64
/// lowercase hex digits.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts a key of any length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(PREFIX.len() + HEX_LEN);
    out.push_str(PREFIX);
    for byte in digest {
        out.push(HEX[usize::from(byte >> 4)] as char);
        out.push(HEX[usize::from(byte & 0x0f)] as char);
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The 32 digest bytes named by a well-formed header.
fn parse_header(header: &str) -> Result<[u8; 32], SignatureError> {
    let malformed = |reason| Err(SignatureError::Malformed { reason });
    let Some(hex) = header.strip_prefix(PREFIX) else {
        if header.starts_with("sha1=") {
            return malformed("it is a SHA-1 signature; use the X-Hub-Signature-256 header");
        }
        if header.trim() != header {
            return malformed("it has surrounding whitespace");
        }
        if header
            .as_bytes()
            .get(..PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(PREFIX.as_bytes()))
        {
            return malformed("its `sha256=` prefix is not lowercase");
        }
        return malformed("it does not start with `sha256=`");
    };
    if hex.len() != HEX_LEN {
        if hex.trim() != hex {
            return malformed("it has surrounding whitespace");
        }
        return malformed("the digest is not 64 hex digits long");
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Ok(out)
}

/// A lowercase hex digit's value.
fn nibble(c: u8) -> Result<u8, SignatureError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Err(SignatureError::Malformed {
            reason: "the digest has uppercase hex digits",
        }),
        _ => Err(SignatureError::Malformed {
            reason: "the digest has a character that is not a hex digit",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_then_verify() {
        let header = sign(b"s3cret", b"{}");
        assert_eq!(header.len(), 71);
        assert_eq!(verify_signature(b"s3cret", b"{}", Some(&header)), Ok(()));
        assert_eq!(
            verify_signature(b"other", b"{}", Some(&header)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn malformed_reasons() {
        let good = sign(b"k", b"body");
        let reason = |h: &str| match parse_header(h) {
            Err(SignatureError::Malformed { reason }) => reason,
            other => panic!("{h:?}: {other:?}"),
        };
        assert!(reason(&good.to_uppercase()).contains("prefix"));
        assert!(reason(&format!("sha256={}", good[7..].to_uppercase())).contains("uppercase"));
        assert!(reason(&format!(" {good}")).contains("whitespace"));
        assert!(reason(&format!("{good}\n")).contains("whitespace"));
        assert!(reason("sha1=0123").contains("SHA-1"));
        assert!(reason(&good[7..]).contains("start with"));
        assert!(reason(&good[..70]).contains("64"));
        assert!(reason(&format!("sha256={}", "g".repeat(64))).contains("not a hex digit"));
        // Multi-byte characters where the prefix or a digit pair would be: no panic.
        assert!(reason("sha25\u{e9}0000").contains("start with"));
        assert!(reason(&format!("sha256={}\u{e9}", "0".repeat(62))).contains("not a hex"));
    }
}
