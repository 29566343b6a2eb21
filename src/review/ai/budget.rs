//! Fitting a pull request into the model's budget: which files are sent at all, in what
//! order, and how they are split into calls that fit the context window.
//!
//! Token estimate: no tokenizer is linked (the BPE tables of OpenAI's alone would add
//! 4–9 MB to the binary and ~100 ms to start up, and other providers' tokenizers differ or
//! are not public). [`estimate_tokens`] is a cheap byte-class count checked against
//! OpenAI's `o200k_base` and `cl100k_base` in `tests/token_estimate.rs`: on code, diffs,
//! prose, JSON, lock files, hashes and eight non-Latin scripts it never counts more than 5%
//! below either tokenizer (numbers in BENCHMARKS.md). No file is dropped silently:
//! everything not sent is returned with a reason.
//!
//! Services with per-request limits (GitHub Models' free tiers: 8,000 prompt / 4,000
//! reply tokens) get calls sized to them: [`reply_budget`] and [`call_room`] take the
//! model's [`RequestLimits`] into account, with the estimate's 5% margin.
//!
//! Lock files and generated files never go to the model unless `llm.include_generated`
//! is `true` ([`not_for_model`]): they are listed as skipped with the reason. The rules
//! still read them (a key in a lock file leaks too).

use crate::llm::RequestLimits;
use crate::review::rules::is_generated_path;

/// The reply tokens of one call: the review's cap, a quarter of the window at most, and
/// the service's per-request cap.
pub fn reply_budget(review_cap: u32, window: usize, limits: &RequestLimits) -> usize {
    let mut n = (review_cap as usize).min(window / 4);
    if let Some(cap) = limits.max_output_tokens {
        n = n.min(cap as usize);
    }
    n.max(1)
}

/// Tokens left for the diff (and whole files) in one call, after the reply and the fixed
/// `overhead` (instructions, PR text, schema). A per-request input cap is applied at 95%:
/// the estimate never counts more than 5% below the real tokenizers, so a call estimated
/// at 95% of the cap stays under it.
pub fn call_room(window: usize, reply: usize, overhead: usize, limits: &RequestLimits) -> usize {
    let mut input = window.saturating_sub(reply);
    if let Some(cap) = limits.max_input_tokens {
        input = input.min(cap * 95 / 100);
    }
    input.saturating_sub(overhead)
}

/// Why a file is not sent to the model by default (lock files; files marked generated in
/// their first lines: `@generated`, `DO NOT EDIT`), if so. `first_lines`: the file's first
/// new lines when the diff shows them.
pub fn not_for_model<'a>(
    path: &str,
    first_lines: impl Iterator<Item = &'a str>,
) -> Option<&'static str> {
    if classify(path) == FileClass::Lock || is_lock_name(path) {
        return Some(
            "lock file: not sent to the AI reviewer (set `llm.include_generated: true` to send it)",
        );
    }
    if first_lines
        .take(5)
        .any(|l| l.contains("@generated") || l.contains("DO NOT EDIT") || l.contains("Do not edit"))
    {
        return Some(
            "generated file (marked in its first lines): not sent to the AI reviewer (set `llm.include_generated: true` to send it)",
        );
    }
    None
}

fn is_lock_name(path: &str) -> bool {
    let (_, name) = lower_name(path);
    matches!(
        name.as_str(),
        "package-lock.json" | "npm-shrinkwrap.json" | "pnpm-lock.yaml" | "go.sum" | "gemfile.lock"
    )
}

/// Estimated tokens of `text`, on the high side: ASCII text at 3 bytes a token (real
/// tokenizers average about 4 on code and English); long runs of letters mixed with digits
/// — hashes, checksums, base64, which tokenizers cut into pieces of 1.5–2 characters — at
/// 1.6 bytes a token (1.3 when upper and lower case mix, as in base64); other scripts at 2.5
/// UTF-8 bytes a token, characters beyond the BMP (emoji) at 2 tokens; plus 4 for the
/// message around it.
pub fn estimate_tokens(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut tokens = 0.0f64;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_alphanumeric() {
            let start = i;
            let (mut digits, mut upper, mut lower) = (0usize, 0usize, 0usize);
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'+' || bytes[i] == b'/')
            {
                match bytes[i] {
                    b'0'..=b'9' => digits += 1,
                    b'A'..=b'Z' => upper += 1,
                    b'a'..=b'z' => lower += 1,
                    _ => {}
                }
                i += 1;
            }
            let len = i - start;
            let hash_like = len >= 16 && digits > 0 && upper + lower > 0 && digits * 16 >= len;
            let bytes_per_token = match (hash_like, upper * 8 >= len && lower > 0) {
                (true, true) => 1.3,
                (true, false) => 1.6,
                (false, _) => 3.0,
            };
            tokens += len as f64 / bytes_per_token;
        } else if b.is_ascii() {
            tokens += 1.0 / 3.0;
            i += 1;
        } else {
            // Every byte of a multi-byte character; a 4-byte one (emoji) 0.4 more.
            tokens += if b >= 0xF0 { 0.8 } else { 0.4 };
            i += 1;
        }
    }
    // Less a hair, so sums of fractions like 0.4 that miss an integer do not round up.
    (tokens - 1e-6).ceil().max(0.0) as usize + 4
}

/// How much a file is worth reviewing, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileClass {
    Source,
    Test,
    Docs,
    Lock,
}

fn lower_name(path: &str) -> (String, String) {
    let lower = path.to_ascii_lowercase();
    let name = lower.rsplit('/').next().unwrap_or(&lower).to_owned();
    (lower, name)
}

pub fn classify(path: &str) -> FileClass {
    let (lower, name) = lower_name(path);
    if name.ends_with(".lock")
        || name.ends_with("-lock.json")
        || name.ends_with("-lock.yaml")
        || name == "go.sum"
    {
        return FileClass::Lock;
    }
    if ["md", "rst", "txt", "adoc"]
        .iter()
        .any(|ext| name.ends_with(&format!(".{ext}")))
        || lower.starts_with("docs/")
        || lower.contains("/docs/")
        || name.starts_with("license")
        || name.starts_with("changelog")
    {
        return FileClass::Docs;
    }
    if crate::review::rules::is_test_path(path) {
        return FileClass::Test;
    }
    FileClass::Source
}

/// Why a file must never be sent to a model (secrets, keys, credentials), if so.
pub fn sensitive_reason(path: &str) -> Option<&'static str> {
    let (_, name) = lower_name(path);
    let sensitive = name.starts_with(".env")
        || [".pem", ".key", ".p12", ".pfx", ".jks", ".keystore", ".kdbx"]
            .iter()
            .any(|ext| name.ends_with(ext))
        || ["id_rsa", "id_dsa", "id_ecdsa", "id_ed25519"]
            .iter()
            .any(|p| name.starts_with(p))
        || matches!(
            name.as_str(),
            "credentials"
                | "credentials.json"
                | "credentials.yml"
                | "credentials.yaml"
                | ".netrc"
                | ".npmrc"
                | ".pypirc"
                | ".git-credentials"
                | ".htpasswd"
                | "secrets.yml"
                | "secrets.yaml"
                | "secrets.json"
                | "service-account.json"
        )
        || name.starts_with("credentials.");
    sensitive.then_some(
        "sensitive file (keys, credentials or environment): never sent to the AI reviewer",
    )
}

/// Why a file is not worth the model's time, if so.
pub fn low_value_reason(path: &str) -> Option<&'static str> {
    (is_generated_path(path) && classify(path) != FileClass::Lock)
        .then_some("generated, vendored or minified file: not sent to the AI reviewer (set `llm.include_generated: true` to send it)")
}

/// A run of hunks of one file that fits a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    /// Index into the diff's files.
    pub file: usize,
    /// Hunk indexes of the file.
    pub hunks: std::ops::Range<usize>,
    /// Part i of n of the file.
    pub part: (usize, usize),
    pub tokens: usize,
}

/// The pieces sent in one call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Chunk {
    pub pieces: Vec<Piece>,
    pub tokens: usize,
}

/// A hunk that cannot fit any call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Oversized {
    pub file: usize,
    pub hunk: usize,
    pub tokens: usize,
}

/// Split one file (its header's and hunks' token estimates) into pieces of at most
/// `budget` tokens. Hunks larger than the budget on their own are returned separately.
pub fn split_file(
    file: usize,
    header_tokens: usize,
    hunk_tokens: &[usize],
    budget: usize,
) -> (Vec<Piece>, Vec<Oversized>) {
    let mut pieces = Vec::new();
    let mut oversized = Vec::new();
    let mut start = 0;
    let mut tokens = header_tokens;
    for (i, &t) in hunk_tokens.iter().enumerate() {
        if header_tokens + t > budget {
            if start < i {
                pieces.push((start..i, tokens));
            }
            oversized.push(Oversized {
                file,
                hunk: i,
                tokens: header_tokens + t,
            });
            start = i + 1;
            tokens = header_tokens;
            continue;
        }
        if tokens + t > budget && start < i {
            pieces.push((start..i, tokens));
            start = i;
            tokens = header_tokens;
        }
        tokens += t;
    }
    if start < hunk_tokens.len() {
        pieces.push((start..hunk_tokens.len(), tokens));
    }
    let n = pieces.len();
    let pieces = pieces
        .into_iter()
        .enumerate()
        .map(|(i, (hunks, tokens))| Piece {
            file,
            hunks,
            part: (i + 1, n),
            tokens,
        })
        .collect();
    (pieces, oversized)
}

/// Pack pieces, in order, into chunks of at most `budget` tokens (first fit, so files
/// stay in value order and a chunk mixes small files).
pub fn pack(pieces: Vec<Piece>, budget: usize) -> Vec<Chunk> {
    let mut chunks: Vec<Chunk> = Vec::new();
    for piece in pieces {
        match chunks
            .iter_mut()
            .find(|c| c.tokens + piece.tokens <= budget)
        {
            Some(c) => {
                c.tokens += piece.tokens;
                c.pieces.push(piece);
            }
            None => chunks.push(Chunk {
                tokens: piece.tokens,
                pieces: vec![piece],
            }),
        }
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_files() {
        for p in [
            ".env",
            "config/.env.production",
            "certs/server.pem",
            "tls/server.key",
            "home/.ssh/id_rsa",
            "id_ed25519.pub",
            "store.p12",
            "a.pfx",
            "aws/credentials",
            ".npmrc",
        ] {
            assert!(sensitive_reason(p).is_some(), "{p}");
        }
        for p in [
            "src/env.rs",
            "keys.rs",
            "src/key.rs.txt",
            "README.md",
            "monkey.py",
        ] {
            assert!(sensitive_reason(p).is_none(), "{p}");
        }
    }

    #[test]
    fn classes_order_source_tests_docs_locks() {
        assert_eq!(classify("src/main.rs"), FileClass::Source);
        assert_eq!(classify("tests/it.rs"), FileClass::Test);
        assert_eq!(classify("README.md"), FileClass::Docs);
        assert_eq!(classify("Cargo.lock"), FileClass::Lock);
        assert_eq!(classify("package-lock.json"), FileClass::Lock);
        assert!(FileClass::Source < FileClass::Test && FileClass::Docs < FileClass::Lock);
        assert!(low_value_reason("dist/app.min.js").is_some());
        assert!(low_value_reason("Cargo.lock").is_none());
    }

    #[test]
    fn per_request_limits_size_calls() {
        let free = RequestLimits {
            max_input_tokens: Some(8_000),
            max_output_tokens: Some(4_000),
            ..RequestLimits::default()
        };
        // Reply: the review's 4,096 capped by the service's 4,000 (and a quarter window).
        assert_eq!(reply_budget(4_096, 12_000, &free), 3_000);
        assert_eq!(reply_budget(4_096, 1_000_000, &free), 4_000);
        assert_eq!(
            reply_budget(4_096, 128_000, &RequestLimits::default()),
            4_096
        );
        // Prompt: 95% of 8,000 less the overhead, however large the window.
        assert_eq!(call_room(1_000_000, 4_000, 1_000, &free), 6_600);
        assert_eq!(call_room(12_000, 3_000, 1_000, &free), 6_600);
        assert_eq!(
            call_room(12_000, 3_000, 1_000, &RequestLimits::default()),
            8_000
        );
        assert_eq!(call_room(1_000, 500, 900, &free), 0);
    }

    #[test]
    fn lock_and_generated_files_are_not_for_the_model() {
        for p in [
            "Cargo.lock",
            "web/package-lock.json",
            "yarn.lock",
            "pnpm-lock.yaml",
            "poetry.lock",
            "go.sum",
        ] {
            assert!(not_for_model(p, std::iter::empty()).is_some(), "{p}");
        }
        assert!(
            not_for_model(
                "api/types.go",
                ["// Code generated by protoc. DO NOT EDIT."].into_iter()
            )
            .is_some()
        );
        assert!(not_for_model("src/x.rs", ["// @generated by build.rs"].into_iter()).is_some());
        assert!(not_for_model("src/x.rs", ["fn main() {}"].into_iter()).is_none());
        for p in ["dist/app.min.js", "vendor/lib/a.go", "third_party/x.c"] {
            assert!(low_value_reason(p).is_some(), "{p}");
        }
    }

    #[test]
    fn files_split_by_hunks_and_oversized_hunks_reported() {
        let (pieces, over) = split_file(3, 10, &[40, 40, 40, 500, 20], 100);
        assert_eq!(
            over,
            vec![Oversized {
                file: 3,
                hunk: 3,
                tokens: 510
            }]
        );
        let ranges: Vec<_> = pieces.iter().map(|p| p.hunks.clone()).collect();
        assert_eq!(ranges, vec![0..2, 2..3, 4..5]);
        assert!(pieces.iter().all(|p| p.tokens <= 100));
        assert_eq!(pieces[2].part, (3, 3));
        let chunks = pack(pieces, 100);
        assert!(chunks.iter().all(|c| c.tokens <= 100));
        assert_eq!(
            chunks.len(),
            2,
            "the last small piece joins the second chunk"
        );
    }

    #[test]
    fn estimate_has_a_margin_over_four_chars_per_token() {
        let text = "fn main() { println!(\"hello\"); }\n".repeat(100);
        assert!(estimate_tokens(&text) >= text.len() / 4 * 4 / 3);
        assert_eq!(estimate_tokens(""), 4);
        assert_eq!(estimate_tokens("abc"), 5, "plain ASCII: bytes / 3");
        // A SHA-256 in hex counts about twice as much as a word of the same length.
        let hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        assert_eq!(estimate_tokens(hex), 40 + 4);
        assert_eq!(estimate_tokens(&"a".repeat(64)), 22 + 4);
        // Other scripts and emoji count by their UTF-8 bytes.
        assert_eq!(estimate_tokens("данные"), 5 + 4);
        assert_eq!(estimate_tokens("🎉"), 2 + 4);
    }
}
