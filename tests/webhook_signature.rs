//! `X-Hub-Signature-256` verification (`nectr::github::webhook`): every reference vector in
//! tests/fixtures/vectors/webhook-hmac.json (GitHub's documented example, Octokit's, multibyte
//! UTF-8, a trailing-newline pair), one-byte changes, malformed headers, an empty secret,
//! and a 10 MB body.

use std::path::PathBuf;

use nectr::github::webhook::{SIGNATURE_HEADER, SignatureError, sign, verify_signature};

struct Vector {
    note: String,
    secret: String,
    payload: Vec<u8>,
    signature: String,
}

fn vectors() -> Vec<Vector> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vectors/webhook-hmac.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let json: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    json.iter()
        .map(|v| {
            let field = |k: &str| v[k].as_str().unwrap().to_owned();
            Vector {
                note: field("note"),
                secret: field("secret"),
                payload: hex(&field("payload_hex")),
                signature: field("signature"),
            }
        })
        .collect()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn malformed(r: Result<(), SignatureError>) -> bool {
    matches!(r, Err(SignatureError::Malformed { .. }))
}

#[test]
fn reference_vectors() {
    let all = vectors();
    assert_eq!(all.len(), 6);
    for v in &all {
        let (secret, body) = (v.secret.as_bytes(), v.payload.as_slice());
        assert_eq!(sign(secret, body), v.signature, "{}", v.note);
        assert_eq!(
            verify_signature(secret, body, Some(&v.signature)),
            Ok(()),
            "{}",
            v.note
        );
        // One byte changed in the body, anywhere.
        for i in [0, body.len() / 2, body.len() - 1] {
            let mut changed = body.to_vec();
            changed[i] ^= 0x01;
            assert_eq!(
                verify_signature(secret, &changed, Some(&v.signature)),
                Err(SignatureError::Mismatch),
                "{} body byte {i}",
                v.note
            );
        }
        // One hex digit changed in the signature, at every position.
        for i in "sha256=".len()..v.signature.len() {
            let mut sig = v.signature.clone().into_bytes();
            sig[i] = if sig[i] == b'0' { b'1' } else { b'0' };
            let sig = String::from_utf8(sig).unwrap();
            assert_eq!(
                verify_signature(secret, body, Some(&sig)),
                Err(SignatureError::Mismatch),
                "{} signature digit {i}",
                v.note
            );
        }
        // Another secret.
        let mut other = v.secret.clone();
        other.push('x');
        assert_eq!(
            verify_signature(other.as_bytes(), body, Some(&v.signature)),
            Err(SignatureError::Mismatch)
        );
        // Body prefix or extension.
        assert_eq!(
            verify_signature(secret, &body[..body.len() - 1], Some(&v.signature)),
            Err(SignatureError::Mismatch)
        );
        let mut longer = body.to_vec();
        longer.push(b'\n');
        assert_eq!(
            verify_signature(secret, &longer, Some(&v.signature)),
            Err(SignatureError::Mismatch)
        );
    }
}

#[test]
fn trailing_newline_pair_differs() {
    let all = vectors();
    let with = all
        .iter()
        .find(|v| v.note.contains("trailing newline"))
        .unwrap();
    let without = all
        .iter()
        .find(|v| v.note.contains("without the newline"))
        .unwrap();
    assert_eq!(with.secret, without.secret);
    assert_eq!(with.payload.last(), Some(&b'\n'));
    assert_eq!(
        &with.payload[..with.payload.len() - 1],
        without.payload.as_slice()
    );
    assert_ne!(with.signature, without.signature);
    let secret = with.secret.as_bytes();
    assert_eq!(
        verify_signature(secret, &without.payload, Some(&with.signature)),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify_signature(secret, &with.payload, Some(&without.signature)),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn malformed_headers() {
    let (secret, body) = (
        b"It's a Secret to Everybody".as_slice(),
        b"Hello, World!".as_slice(),
    );
    let good = sign(secret, body);
    let digest = &good["sha256=".len()..];
    assert_eq!(verify_signature(secret, body, Some(&good)), Ok(()));

    let cases = [
        String::new(),
        "sha256=".into(),
        digest.into(),                               // no prefix
        format!("sha256={}", digest.to_uppercase()), // uppercase digits
        format!("SHA256={digest}"),                  // uppercase prefix
        format!("sha1={}", &digest[..40]),           // the SHA-1 header's format
        format!("sha1={digest}"),
        format!("sha512={digest}"),
        format!("sha256:{digest}"),
        format!("sha256= {digest}"),
        format!(" {good}"),
        format!("{good} "),
        format!("{good}\n"),
        format!("{good}\r\n"),
        format!("sha256={}", &digest[..63]), // too short
        format!("{good}0"),                  // too long
        format!("{good}{digest}"),
        format!("sha256={}", "g".repeat(64)),
        format!("sha256={}z", &digest[..63]),
        format!("sha256=0x{}", &digest[..62]),
        format!("sha256={}\u{e9}", &digest[..62]), // multibyte in the digest
        "sha25\u{e9}".into(),
        format!("{good},{good}"), // two values joined
        "\u{1f980}".repeat(40),
    ];
    for header in &cases {
        assert!(
            malformed(verify_signature(secret, body, Some(header))),
            "{header:?} → {:?}",
            verify_signature(secret, body, Some(header))
        );
    }
    // Mixed-case hex of the right digest is still refused: GitHub sends lowercase.
    let mixed: String = digest
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();
    assert!(mixed != digest);
    assert!(malformed(verify_signature(
        secret,
        body,
        Some(&format!("sha256={mixed}"))
    )));
}

#[test]
fn missing_header_and_empty_secret() {
    let body = b"{}";
    assert_eq!(
        verify_signature(b"s", body, None),
        Err(SignatureError::Missing)
    );
    // An empty secret is never "no verification": refused before looking at the header,
    // even with a header that an empty-key HMAC would accept.
    let empty_key_signature = sign(b"", body);
    for header in [None, Some(""), Some(empty_key_signature.as_str())] {
        assert_eq!(
            verify_signature(b"", body, header),
            Err(SignatureError::NoSecret)
        );
    }
}

#[test]
fn messages_explain_and_never_leak() {
    let secret = "correct-horse-battery-staple";
    let body = b"{\"action\":\"opened\"}";
    let header = sign(b"wrong", body);
    let errors = [
        verify_signature(b"", body, Some(&header)).unwrap_err(),
        verify_signature(secret.as_bytes(), body, None).unwrap_err(),
        verify_signature(secret.as_bytes(), body, Some("sha1=abc")).unwrap_err(),
        verify_signature(secret.as_bytes(), body, Some(&header)).unwrap_err(),
    ];
    for e in errors {
        let text = format!("{e} {e:?}");
        assert!(!text.contains(secret), "{text}");
        assert!(!text.contains(&header[7..]), "{text}");
        assert!(
            text.contains(SIGNATURE_HEADER) || text.contains("secret"),
            "{text}"
        );
    }
    let mismatch = verify_signature(secret.as_bytes(), body, Some(&header))
        .unwrap_err()
        .to_string();
    assert!(mismatch.contains("secret"), "{mismatch}");
}

#[test]
fn ten_megabyte_body() {
    let body: Vec<u8> = (0..10 * 1024 * 1024u32)
        .map(|i| (i * 31 % 256) as u8)
        .collect();
    let secret = b"nectr-test-secret";
    let header = sign(secret, &body);
    assert_eq!(verify_signature(secret, &body, Some(&header)), Ok(()));
    let mut changed = body.clone();
    *changed.last_mut().unwrap() ^= 1;
    assert_eq!(
        verify_signature(secret, &changed, Some(&header)),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn binary_secret_and_body() {
    let secret = [0u8, 255, 1, 254, 0];
    let body = [0u8; 3];
    let header = sign(&secret, &body);
    assert!(header.starts_with("sha256="));
    assert_eq!(header.len(), 71);
    assert!(
        header[7..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_eq!(verify_signature(&secret, &body, Some(&header)), Ok(()));
    assert_eq!(
        // (Not `secret[..4]`: HMAC pads short keys with zeros, so a trailing NUL is moot.)
        verify_signature(&secret[1..], &body, Some(&header)),
        Err(SignatureError::Mismatch)
    );
}
