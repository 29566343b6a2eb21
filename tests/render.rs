//! The output formats, on a hand-built review: the JSON contract, SARIF's structure,
//! Markdown's safety with untrusted paths, and the text format's shape.

use nectr::diff::Side;
use nectr::review::finding::{Finding, Severity, Source};
use nectr::review::render::{Format, RenderOptions, markdown, render, sarif};
use nectr::review::rules::RuleDescriptor;
use nectr::review::{PrRef, Review, SkippedFile, Stats};
use serde_json::Value;

fn finding(path: &str, line: u32, severity: Severity, rule: &str, anchored: bool) -> Finding {
    Finding {
        path: path.into(),
        line,
        end_line: None,
        side: Side::Right,
        severity,
        source: Source::Rules,
        rule: rule.into(),
        title: format!("title of {rule}"),
        body: format!("Why {rule} matters.\n\nWhat to do."),
        anchored,
        suggestion: None,
    }
}

fn review() -> Review {
    let mut left = finding("src/old.rs", 7, Severity::Minor, "llm", false);
    left.side = Side::Left;
    left.source = Source::Llm;
    let mut ranged = finding(
        "dir with space/ünï.py",
        3,
        Severity::Major,
        "security.eval",
        true,
    );
    ranged.end_line = Some(5);
    Review {
        pr: None,
        findings: vec![
            finding(
                "src/lib.rs",
                10,
                Severity::Critical,
                "secret.github-token",
                true,
            ),
            ranged,
            finding("src/lib.rs", 99, Severity::Minor, "rust.unwrap", false),
            left,
            finding("src/lib.rs", 12, Severity::Nit, "todo.added", false),
        ],
        over_cap: vec![4],
        max_inline_comments: 2,
        additions: 40,
        deletions: 2,
        notes: vec!["a note".into()],
        rules: vec![
            RuleDescriptor {
                id: "secret.github-token".into(),
                title: "GitHub token committed".into(),
                help: "Revoke it.".into(),
                severity: Severity::Critical,
            },
            RuleDescriptor {
                id: "unused.rule".into(),
                title: "Unused".into(),
                help: "".into(),
                severity: Severity::Nit,
            },
        ],
        stats: Stats {
            files: 3,
            changed_lines: 42,
            llm_calls: 0,
            github_calls: 0,
            elapsed_ms: 1,
            skipped_files: vec![SkippedFile {
                path: "logo.png".into(),
                reason: "binary file".into(),
            }],
            ..Stats::default()
        },
        ..Review::default()
    }
}

#[test]
fn json_follows_the_contract() {
    let mut r = review();
    r.pr = Some(PrRef {
        repo: "o/n".into(),
        number: 42,
        head_sha: "abc".into(),
    });
    let v: Value =
        serde_json::from_str(&render(&r, Format::Json, RenderOptions::default())).unwrap();
    assert_eq!(v["schema"], "nectr.review/v1");
    assert_eq!(v["pr"]["repo"], "o/n");
    assert_eq!(v["pr"]["number"], 42);
    assert_eq!(v["pr"]["head_sha"], "abc");
    assert!(v["posted"].is_null());
    assert!(v["summary"].as_str().unwrap().contains("5 findings"));
    let f = &v["findings"][0];
    let keys: Vec<&str> = f.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    for key in [
        "path", "line", "end_line", "side", "severity", "source", "rule", "title", "body",
        "anchored",
    ] {
        assert!(keys.contains(&key), "finding lacks {key}: {keys:?}");
    }
    assert_eq!(f["side"], "RIGHT");
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["source"], "rules");
    assert!(f["end_line"].is_null());
    assert_eq!(v["findings"][1]["end_line"], 5);
    assert_eq!(v["findings"][3]["side"], "LEFT");
    assert_eq!(v["findings"][3]["source"], "llm");
    for key in [
        "files",
        "changed_lines",
        "llm_calls",
        "github_calls",
        "elapsed_ms",
    ] {
        assert!(v["stats"][key].is_u64(), "stats.{key}");
    }
    assert_eq!(v["stats"]["skipped_files"][0]["path"], "logo.png");
    let bare: Value =
        serde_json::from_str(&render(&review(), Format::Json, RenderOptions::default())).unwrap();
    assert!(bare["pr"].is_null());
}

#[test]
fn sarif_is_code_scanning_shaped() {
    let v: Value =
        serde_json::from_str(&render(&review(), Format::Sarif, RenderOptions::default())).unwrap();
    assert_eq!(v["version"], "2.1.0");
    assert!(v["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run = &v["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "nectr");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    for result in results {
        let id = result["ruleId"].as_str().unwrap();
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], id, "ruleIndex points at its rule");
        assert!(["error", "warning", "note"].contains(&result["level"].as_str().unwrap()));
        assert!(!result["message"]["text"].as_str().unwrap().is_empty());
    }
    assert_eq!(results[0]["level"], "error");
    assert_eq!(results[4]["level"], "note");
    let secret_rule = rules
        .iter()
        .find(|r| r["id"] == "secret.github-token")
        .unwrap();
    assert_eq!(secret_rule["properties"]["security-severity"], "9.5");
    assert_eq!(secret_rule["defaultConfiguration"]["level"], "error");
    let loc = &results[1]["locations"][0]["physicalLocation"];
    assert_eq!(
        loc["artifactLocation"]["uri"],
        "dir%20with%20space/%C3%BCn%C3%AF.py"
    );
    assert_eq!(loc["region"]["startLine"], 3);
    assert_eq!(loc["region"]["endLine"], 5);
    let left = &results[3]["locations"][0]["physicalLocation"];
    assert!(
        left["region"].is_null(),
        "a removed line has no place in the new file"
    );
}

#[test]
fn markdown_summary_counts_places_and_collapses_overflow() {
    let md = markdown::summary(&review());
    // The counts, once: no table, no zero rows, no list repeating the inline comments.
    assert!(
        md.contains(
            "Reviewed 3 files (+40 −2): **5 findings** — 🔴 1 critical, 🟠 1 major, 🟡 2 minor, ⚪ 1 nit. 2 inline on the diff, the rest below."
        ),
        "{md}"
    );
    assert!(!md.contains("| severity |"), "{md}");
    assert!(!md.contains("#### Inline comments"), "{md}");
    assert!(
        !md.contains("title of secret.github-token"),
        "inline only: {md}"
    );
    let off = md.find("#### Not on a changed line").unwrap();
    let over = md
        .find("<summary>1 more finding (over the limit of 2 inline comments)</summary>")
        .unwrap();
    assert!(off < over, "{md}");
    assert!(
        md[off..over].contains("Why rust.unwrap matters."),
        "full body for off-diff findings"
    );
    assert!(md[over..].contains("Why todo.added matters."));
    assert!(md.contains("`logo.png` — binary file"));
    assert!(md.contains("> a note"));
    // Rules only: one line on how to add the AI review.
    assert_eq!(md.matches("To add the AI review").count(), 1, "{md}");
    let doc = markdown::document(&review());
    assert!(doc.contains("**Inline comment on `src/lib.rs:10`:**"));
    assert!(doc.contains("🔴 **critical** · title of secret.github-token · `secret.github-token`"));
}

#[test]
fn markdown_neutralises_hostile_paths_and_titles() {
    let mut r = review();
    r.findings[0].path = "a`b``c/<img src=x onerror=alert(1)>.rs".into();
    r.findings[0].title = "<script>x</script> | @everyone [link](http://x)".into();
    // The summary no longer lists inline comments: the document shows them as posted.
    let md = markdown::document(&r);
    assert!(
        md.contains("```a`b``c/<img src=x onerror=alert(1)>.rs:10```"),
        "{md}"
    );
    assert!(!md.contains("<script>"), "{md}");
    assert!(md.contains("&lt;script&gt;"));
    assert!(md.contains("\\| @everyone \\[link\\](http://x)"));
    assert_eq!(markdown::code_span("`x`"), "`` `x` ``");
    assert_eq!(markdown::code_span("multi\nline"), "`multi line`");
}

#[test]
fn text_is_one_line_per_finding_sorted_by_place() {
    let out = render(
        &review(),
        Format::Text,
        RenderOptions {
            color: false,
            verbose: false,
        },
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "one line per finding and a tally: {out}");
    let heads = &lines[..5];
    assert_eq!(
        heads[0],
        "dir with space/ünï.py:3-5: major security.eval: title of security.eval"
    );
    assert_eq!(
        heads[1],
        "src/lib.rs:10: critical secret.github-token: title of secret.github-token"
    );
    assert!(
        heads[2].ends_with("(over the inline-comment limit)"),
        "{}",
        heads[2]
    );
    assert!(heads[3].ends_with("(not on a changed line)"));
    assert!(!out.contains("Why rust.unwrap matters."), "--verbose only");
    assert!(lines[5].starts_with(
        "5 findings (1 critical, 1 major, 2 minor, 1 nit) in 3 files (+40 -2). 1 file not reviewed, 1 note (--verbose shows them)."
    ));
    assert!(lines[5].contains("Rules only: set OPENAI_API_KEY or ANTHROPIC_API_KEY"));
    let verbose = render(
        &review(),
        Format::Text,
        RenderOptions {
            color: false,
            verbose: true,
        },
    );
    assert!(verbose.contains("    Why rust.unwrap matters."));
    assert!(verbose.contains("skipped logo.png: binary file"));
    assert!(verbose.contains("note: a note"));
    assert!(!out.contains('\x1b'), "no colour unless asked");
    let coloured = render(
        &review(),
        Format::Text,
        RenderOptions {
            color: true,
            verbose: false,
        },
    );
    assert!(coloured.contains("\x1b[1;31mcritical\x1b[0m"));
    let mut hostile = review();
    hostile.findings[0].title = "evil\x1b]0;pwned\x07".into();
    let out = render(
        &hostile,
        Format::Text,
        RenderOptions {
            color: false,
            verbose: false,
        },
    );
    assert!(
        !out.contains('\x1b') && !out.contains('\x07'),
        "terminal escapes are stripped"
    );
}

#[test]
fn text_shows_the_ai_overview_first_and_strips_escapes() {
    let mut r = review();
    r.llm_model = Some("gpt-4o-mini".into());
    r.ai_summary = Some("Adds a parser.\n\nThe \x1b[31mempty\x1b[0m input underflows.".into());
    let out = render(
        &r,
        Format::Text,
        RenderOptions {
            color: false,
            verbose: false,
        },
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "AI overview (gpt-4o-mini):", "{out}");
    // The parts of the overview read as one paragraph.
    assert!(
        lines[1].starts_with("    Adds a parser. The ") && lines[1].contains("empty"),
        "{out}"
    );
    assert!(
        !out.contains('\x1b'),
        "the model's escapes are stripped: {out:?}"
    );
    // The findings still follow, one line each.
    assert!(
        out.contains("src/lib.rs:10: critical secret.github-token: title of secret.github-token")
    );
    // No summary (no model, or the model said nothing): no overview block.
    r.ai_summary = Some("  ".into());
    let out = render(
        &r,
        Format::Text,
        RenderOptions {
            color: false,
            verbose: false,
        },
    );
    assert!(!out.contains("AI overview"), "{out}");
}

#[test]
fn sarif_uri_encoding() {
    assert_eq!(sarif::path_to_uri("a b/c#d%e.rs"), "a%20b/c%23d%25e.rs");
}
