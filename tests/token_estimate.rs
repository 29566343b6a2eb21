//! The AI reviewer's token estimate (`review::ai::budget::estimate_tokens`) against real
//! tokenizers: OpenAI's `o200k_base` (GPT-4o, 4.1, 5, o-series) and `cl100k_base` (GPT-4,
//! 3.5, and close to what many open models use), from tiktoken-rs, whose BPE tables are
//! compiled in. The budget relies on the estimate not undercounting: a call estimated to fit
//! the context window must fit it.
//!
//! Inputs: real code and diffs (this repository's sources, the published packages' diffs in
//! tests/fixtures/rules), the exact diff text a prompt carries (new-line numbers and all),
//! prose, GitHub's JSON, lock files, hashes, base64, minified JavaScript, and eight
//! non-Latin scripts plus emoji. Run with `--nocapture` to see the table BENCHMARKS.md
//! quotes.

use std::fmt::Write as _;

use base64::Engine;
use nectr::review::ai::budget::estimate_tokens;
use nectr::review::ai::prompt::{file_header, render_hunk};
use nectr::review::rules::Redactor;
use sha2::{Digest, Sha256, Sha512};

/// The estimate may count at most this much below the larger of the two tokenizers' counts.
const MAX_UNDERCOUNT: f64 = 0.05;
/// And at most this many times the larger count (an estimate that high wastes the budget).
const MAX_OVERCOUNT: f64 = 2.0;

fn prompt_text(diff_text: &str) -> String {
    let diff = nectr::diff::parse(diff_text).expect("fixture parses");
    let mut redactor = Redactor::new("");
    let mut out = String::new();
    for file in &diff.files {
        out.push_str(&file_header(file, None));
        redactor.set_path(file.path());
        for hunk in &file.hunks {
            out.push_str(&render_hunk(hunk, &mut redactor));
        }
    }
    out
}

fn package_lock() -> String {
    let mut out = String::from("{\n  \"packages\": {\n");
    for i in 0..300 {
        let digest = Sha512::digest(i.to_string().as_bytes());
        let integrity = base64::engine::general_purpose::STANDARD.encode(digest);
        let _ = writeln!(
            out,
            "    \"node_modules/pkg-{i}\": {{\n      \"version\": \"1.{}.{}\",\n      \"resolved\": \"https://registry.npmjs.org/pkg-{i}/-/pkg-{i}-1.{}.{}.tgz\",\n      \"integrity\": \"sha512-{integrity}\",\n      \"dev\": true\n    }},",
            i % 10,
            i % 7,
            i % 10,
            i % 7
        );
    }
    out.push_str("  }\n}\n");
    out
}

fn hex_hashes() -> String {
    (0..500)
        .map(|i| format!("{:x}\n", Sha256::digest(i.to_string().as_bytes())))
        .collect()
}

fn inputs() -> Vec<(&'static str, String)> {
    let scripts = [
        (
            "Chinese prose",
            "这是一个代码审查工具，它会读取拉取请求的差异，并在有问题的代码行上发表评论。我们需要确保令牌估计不会低估实际的令牌数量。",
        ),
        (
            "Japanese prose",
            "このツールはプルリクエストの差分を読み取り、問題のある行にコメントします。トークン数の見積もりが実際より少なくならないようにする必要があります。",
        ),
        (
            "Korean prose",
            "이 도구는 풀 리퀘스트의 변경 사항을 읽고 문제가 있는 코드 줄에 댓글을 남깁니다. 토큰 수 추정치가 실제보다 작아서는 안 됩니다.",
        ),
        (
            "Russian prose",
            "Этот инструмент читает изменения в запросе на слияние и оставляет комментарии к проблемным строкам кода. Оценка числа токенов не должна быть меньше настоящей.",
        ),
        (
            "Arabic prose",
            "هذه الأداة تقرأ التغييرات في طلب الدمج وتعلق على الأسطر التي بها مشاكل. يجب ألا يكون تقدير عدد الرموز أقل من العدد الحقيقي.",
        ),
        (
            "Hindi prose",
            "यह उपकरण पुल अनुरोध के परिवर्तनों को पढ़ता है और समस्या वाली पंक्तियों पर टिप्पणी करता है। टोकन की संख्या का अनुमान वास्तविक से कम नहीं होना चाहिए।",
        ),
        (
            "German prose",
            "Dieses Werkzeug liest die Änderungen eines Pull-Requests und kommentiert problematische Zeilen. Die Schätzung der Token darf nicht zu niedrig ausfallen, außerdem müssen Umlaute wie ä, ö, ü und ß berücksichtigt werden.",
        ),
        (
            "emoji in English",
            "Great work 🎉🚀 but this 🐛 needs fixing ✅❌🔥 ",
        ),
    ];
    let mut out: Vec<(&'static str, String)> = vec![
        (
            "Rust source (review/ai/mod.rs)",
            include_str!("../src/review/ai/mod.rs").to_owned(),
        ),
        (
            "Rust source (github/client.rs)",
            include_str!("../src/github/client.rs").to_owned(),
        ),
        (
            "diff: axios (JS)",
            include_str!("fixtures/rules/axios-1.7.2-1.7.9.diff").to_owned(),
        ),
        (
            "diff: log (Rust)",
            include_str!("fixtures/rules/log-0.4.17-0.4.22.diff").to_owned(),
        ),
        (
            "diff: nodemon (JS)",
            include_str!("fixtures/rules/nodemon-3.1.0-3.1.9.diff").to_owned(),
        ),
        (
            "diff: peft (Python)",
            include_str!("fixtures/rules/peft-0.11.1-0.13.2.diff").to_owned(),
        ),
        (
            "diff: serde_json (Rust)",
            include_str!("fixtures/rules/serde_json-1.0.108-1.0.128.diff").to_owned(),
        ),
        (
            "prompt diff text: axios",
            prompt_text(include_str!("fixtures/rules/axios-1.7.2-1.7.9.diff")),
        ),
        (
            "prompt diff text: peft",
            prompt_text(include_str!("fixtures/rules/peft-0.11.1-0.13.2.diff")),
        ),
        ("prose: README.md", include_str!("../README.md").to_owned()),
        (
            "prose: ARCHITECTURE.md",
            include_str!("../ARCHITECTURE.md").to_owned(),
        ),
        (
            "JSON: pull_request event",
            include_str!("fixtures/events/pull_request.opened.json").to_owned(),
        ),
        (
            "JSON: push event",
            include_str!("fixtures/events/push.json").to_owned(),
        ),
        (
            "lock: Cargo.lock (hex checksums)",
            include_str!("../Cargo.lock").to_owned(),
        ),
        ("lock: package-lock (base64 sha512)", package_lock()),
        ("SHA-256 hex, one per line", hex_hashes()),
        (
            "minified JavaScript",
            (0..800)
                .map(|i| format!("var a{i}=function(b,c){{return b+c*{i}}};"))
                .collect(),
        ),
        (
            "Python, deep indentation",
            (0..1000)
                .map(|i| format!("{}x{i} = {i}\n", " ".repeat((i % 8) * 4)))
                .collect(),
        ),
        (
            "Rust with Chinese comments",
            (0..200)
                .map(|i| {
                    format!(
                        "    // 计算第{i}个值并返回结果\n    let value_{i} = compute(input, {i});\n"
                    )
                })
                .collect(),
        ),
    ];
    for (name, text) in scripts {
        out.push((name, text.repeat(20)));
    }
    out
}

#[test]
fn the_estimate_never_undercounts_real_tokenizers_by_more_than_the_margin() {
    let started = std::time::Instant::now();
    let o200k = tiktoken_rs::o200k_base_singleton();
    let cl100k = tiktoken_rs::cl100k_base_singleton();
    println!(
        "tokenizer tables loaded in {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    let mut failures = Vec::new();
    println!(
        "| input | bytes | o200k | cl100k | estimate | estimate / larger |\n| --- | ---: | ---: | ---: | ---: | ---: |"
    );
    let (mut worst, mut highest) = (f64::MAX, 0.0f64);
    for (name, text) in inputs() {
        let o = o200k.encode_with_special_tokens(&text).len();
        let c = cl100k.encode_with_special_tokens(&text).len();
        let larger = o.max(c);
        let estimate = estimate_tokens(&text);
        let ratio = estimate as f64 / larger as f64;
        worst = worst.min(ratio);
        highest = highest.max(ratio);
        println!(
            "| {name} | {} | {o} | {c} | {estimate} | {ratio:.2} |",
            text.len()
        );
        if ratio < 1.0 - MAX_UNDERCOUNT {
            failures.push(format!(
                "{name}: estimate {estimate} < {larger} real tokens by more than {:.0}%",
                MAX_UNDERCOUNT * 100.0
            ));
        }
        if ratio > MAX_OVERCOUNT {
            failures.push(format!(
                "{name}: estimate {estimate} is over {MAX_OVERCOUNT}× the {larger} real tokens"
            ));
        }
    }
    println!("lowest ratio {worst:.2}, highest {highest:.2}");
    assert!(failures.is_empty(), "{failures:#?}");
}
