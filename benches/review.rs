//! `cargo bench --bench review`: diff-parsing throughput and the in-process cost of a whole
//! offline review on a 30,000-line diff. Also writes that diff to
//! `target/bench/30k.diff` so the CLI can be timed end to end (see BENCHMARKS.md).
//!
//! A plain bench binary (no criterion): it reports the best and median of repeated runs,
//! which is stable enough on a quiet machine and keeps the build small.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use nectr::config::LoadedConfig;
use nectr::review::render::{Format, RenderOptions, render};

/// A synthetic but realistic PR: `files` files, each with hunks of context, additions and
/// removals in several languages, a few lines that trip rules. About `lines_per_file`
/// diff lines per file.
fn synthetic_diff(files: usize, lines_per_file: usize) -> String {
    let langs = ["rs", "py", "js", "go", "ts"];
    let mut out = String::new();
    for f in 0..files {
        let ext = langs[f % langs.len()];
        let path = format!("src/module_{f}/file_{f}.{ext}");
        let _ = writeln!(out, "diff --git a/{path} b/{path}");
        let _ = writeln!(out, "index 1234567..89abcde 100644");
        let _ = writeln!(out, "--- a/{path}\n+++ b/{path}");
        let hunks = lines_per_file / 30;
        let mut old_line = 1u32;
        let mut new_line = 1u32;
        for h in 0..hunks {
            // 30 lines per hunk: 20 context, 6 added, 4 removed.
            let _ = writeln!(
                out,
                "@@ -{old_line},24 +{new_line},26 @@ fn section_{h}() {{"
            );
            for i in 0..30 {
                match i % 5 {
                    0 if i < 20 => {
                        let _ = writeln!(
                            out,
                            "+    let value_{i} = compute(input, {i}).map(|v| v * 2);"
                        );
                    }
                    1 if i < 20 => {
                        let _ = writeln!(out, "-    let value_{i} = compute(input, {i});");
                    }
                    _ if i >= 28 => {
                        let text = if h % 7 == 0 {
                            "console.log(value);"
                        } else {
                            "let total = a + b;"
                        };
                        let _ = writeln!(out, "+    {text}");
                    }
                    _ => {
                        let _ = writeln!(out, "     // context line {i} of hunk {h} in {path}");
                    }
                }
            }
            old_line += 100;
            new_line += 102;
        }
    }
    out
}

fn time<F: FnMut()>(runs: usize, mut f: F) -> (Duration, Duration) {
    let mut samples: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    samples.sort();
    (samples[0], samples[runs / 2])
}

fn main() {
    // A 30,000-line diff: 100 files of 300 lines.
    let diff_30k = synthetic_diff(100, 300);
    let lines = diff_30k.lines().count();
    std::fs::create_dir_all("target/bench").expect("create target/bench");
    std::fs::write("target/bench/30k.diff", &diff_30k).expect("write target/bench/30k.diff");

    // Parsing throughput on a larger input (about 20 MB) so timer noise does not matter.
    let big = synthetic_diff(4000, 300);
    let mb = big.len() as f64 / 1e6;
    let (best, median) = time(10, || {
        let diff = nectr::diff::parse(&big).expect("synthetic diff parses");
        std::hint::black_box(diff.files.len());
    });
    println!(
        "parse: {mb:.1} MB in best {:.1} ms / median {:.1} ms = {:.0} MB/s (best), {:.0} MB/s (median)",
        best.as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e3,
        mb / best.as_secs_f64(),
        mb / median.as_secs_f64()
    );

    // The whole offline review in-process: parse, rules, anchoring, JSON rendering.
    let config = LoadedConfig::default();
    let (rules, _) = nectr::pipeline::rule_set(&config).expect("default rules compile");
    let mut findings = 0;
    let (best, median) = time(20, || {
        let diff = nectr::diff::parse(&diff_30k).expect("synthetic diff parses");
        let review = nectr::pipeline::review_diff(&diff, &rules, &config, None);
        findings = review.findings.len();
        std::hint::black_box(render(&review, Format::Json, RenderOptions::default()));
    });
    println!(
        "review: {lines} diff lines ({:.2} MB), {findings} findings: best {:.1} ms / median {:.1} ms",
        diff_30k.len() as f64 / 1e6,
        best.as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e3
    );
    let (best, median) = time(5, || {
        std::hint::black_box(nectr::pipeline::rule_set(&config).expect("rules compile"));
    });
    println!(
        "rule compilation (once per run): best {:.1} ms / median {:.1} ms",
        best.as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e3
    );

    // Many findings: 150,000 new files with a TODO and a console.log each (300,000
    // findings). Sorting, de-duplicating and capping must stay linear in the findings.
    let mut many = String::with_capacity(150_000 * 160);
    for f in 0..150_000 {
        let path = format!("src/m{f}.ts");
        let _ = write!(
            many,
            "diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,2 @@\n+// TODO: item {f}\n+console.log(item{f});\n"
        );
    }
    let diff = nectr::diff::parse(&many).expect("synthetic diff parses");
    let (best, median) = time(3, || {
        let review = nectr::pipeline::review_diff(&diff, &rules, &config, None);
        findings = review.findings.len();
    });
    println!(
        "many findings: {findings} findings on 150,000 files: best {:.0} ms / median {:.0} ms",
        best.as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e3
    );
    println!("wrote target/bench/30k.diff for the CLI timings in BENCHMARKS.md");
}
