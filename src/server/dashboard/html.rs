//! Building pages: the escaping [`Html`] builder, the style sheet (light and dark, a
//! stacked layout for narrow screens), the document shell, times (relative, with the
//! absolute one on hover) and failure texts in plain language.
//!
//! Invariant: markup enters a page only as `&'static str` literals; every other string goes
//! through [`escape_into`]. Outside links are written only for `http(s)://` URLs.

use std::fmt::Write as _;

/// Appends `s` to `out` with `& < > " '` escaped: safe as element text and inside a
/// double- or single-quoted attribute value.
pub fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
}

/// `s` escaped as [`escape_into`] does.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s);
    out
}

/// A page under construction. Markup enters only as `&'static str` literals; text and
/// attribute values are always escaped.
#[derive(Default)]
pub(super) struct Html {
    pub(super) out: String,
}

impl Html {
    /// Trusted markup. The `'static` bound keeps formatted (possibly untrusted) strings out.
    pub(super) fn raw(&mut self, markup: &'static str) -> &mut Self {
        self.out.push_str(markup);
        self
    }

    /// Text, escaped.
    pub(super) fn text(&mut self, text: &str) -> &mut Self {
        escape_into(&mut self.out, text);
        self
    }

    pub(super) fn num(&mut self, n: i64) -> &mut Self {
        let _ = write!(self.out, "{n}");
        self
    }

    /// ` name="value"` with the value escaped.
    pub(super) fn attr(&mut self, name: &'static str, value: &str) -> &mut Self {
        self.out.push(' ');
        self.out.push_str(name);
        self.out.push_str("=\"");
        escape_into(&mut self.out, value);
        self.out.push('"');
        self
    }

    /// A link to an outside page when `url` is http(s), else just the text.
    pub(super) fn link(&mut self, url: &str, class: &'static str, text: &str) -> &mut Self {
        if safe_url(url) {
            self.raw("<a")
                .attr("href", url)
                .raw(" class=\"")
                .raw(class)
                .raw("\" rel=\"noreferrer\">")
                .text(text)
                .raw("</a>")
        } else {
            self.text(text)
        }
    }

    /// A link to a page of this site; `path` is built by the caller from checked parts.
    pub(super) fn local(&mut self, path: &str, class: &'static str, text: &str) -> &mut Self {
        self.raw("<a")
            .attr("href", path)
            .raw(" class=\"")
            .raw(class)
            .raw("\">")
            .text(text)
            .raw("</a>")
    }

    /// A hidden `csrf_token` field.
    pub(super) fn csrf_field(&mut self, token: &str) -> &mut Self {
        self.raw("<input type=\"hidden\" name=\"csrf_token\"")
            .attr("value", token)
            .raw(">")
    }

    /// `<time>` showing how long ago (or how soon) `secs` is, the absolute time on hover.
    pub(super) fn time(&mut self, secs: i64, now: i64) -> &mut Self {
        self.raw("<time")
            .attr("datetime", &rfc3339(secs))
            .attr("title", &format_time(secs))
            .raw(">")
            .text(&relative_time(secs, now))
            .raw("</time>")
    }

    /// Plain text that may quote code in backticks: the quoted parts become `<code>`.
    /// A backtick without its pair is dropped; the text after it stays text.
    pub(super) fn prose(&mut self, text: &str) -> &mut Self {
        let parts: Vec<&str> = text.split('`').collect();
        let unpaired = parts.len().is_multiple_of(2);
        for (i, part) in parts.iter().enumerate() {
            let code = i % 2 == 1 && !(unpaired && i == parts.len() - 1);
            if !code {
                self.text(part);
            } else if !part.is_empty() {
                self.raw("<code>").text(part).raw("</code>");
            }
        }
        self
    }
}

/// Only absolute http(s) URLs become links (never `javascript:`, `data:` or relative ones).
pub(super) fn safe_url(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://"))
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The start of `s`, at most `max` bytes, cut at a character boundary.
pub(super) fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

const STYLE: &str = r#"
:root{color-scheme:light dark;--bg:#f6f8fa;--fg:#1f2328;--card:#fff;--line:#d0d7de;--soft:#d8dee4;--muted:#57606a;--link:#0969da;--head:#24292f;--err-bg:#ffebe9;--err-line:#ff8182;--err-fg:#82071e;--warn-bg:#fff8c5;--warn-line:#d4a72c;--ok-bg:#dafbe1;--ok-line:#4ac26b;--ok-fg:#1a7f37;--info-bg:#ddf4ff;--info-line:#54aeff;--info-fg:#0969da;--run-bg:#fbefff;--run-line:#c297ff;--run-fg:#8250df;--fail-row:#fff5f5;--red:#cf222e;--btn:#1f883d;--btn-line:#1a7f37}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--card:#161b22;--line:#30363d;--soft:#21262d;--muted:#8d96a0;--link:#4493f8;--head:#010409;--err-bg:#2d1114;--err-line:#8e1519;--err-fg:#ffa198;--warn-bg:#2e2500;--warn-line:#9e6a03;--ok-bg:#0f2a1b;--ok-line:#2ea043;--ok-fg:#3fb950;--info-bg:#0c2d4b;--info-line:#1f6feb;--info-fg:#79c0ff;--run-bg:#271a40;--run-line:#8957e5;--run-fg:#d2a8ff;--fail-row:#25121a;--red:#f85149;--btn:#238636;--btn-line:#2ea043}}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:var(--fg);background:var(--bg)}
a{color:var(--link)}
header{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:center;gap:8px 16px;padding:10px 24px;background:var(--head);color:#fff}
header h1{font-size:20px;margin:0}
header a{color:#fff}
header h1 a{text-decoration:none}
nav{display:flex;gap:14px;flex-wrap:wrap}
nav a{text-decoration:none;opacity:.85}
nav a[aria-current]{opacity:1;font-weight:600;text-decoration:underline}
.who{display:flex;gap:12px;align-items:center;flex-wrap:wrap}
main{max-width:1180px;margin:20px auto;padding:0 24px}
section{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:16px 20px;margin-bottom:20px;min-width:0}
h2{font-size:17px;margin:0 0 12px}
h2 .sub{font-weight:400;color:var(--muted);font-size:14px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:7px 8px;border-top:1px solid var(--soft);vertical-align:top;overflow-wrap:break-word}
th{font-size:13px;color:var(--muted);border-top:none}
td.num,th.num{text-align:right;white-space:nowrap}
td.when{white-space:nowrap}
form.inline{display:inline;margin:0}
button,a.button{font:inherit;padding:4px 14px;border-radius:6px;border:1px solid var(--btn-line);background:var(--btn);color:#fff;cursor:pointer;text-decoration:none;display:inline-block}
a.button.login{padding:8px 18px;font-weight:600}
button.secondary,button.disconnect{background:transparent;color:var(--fg);border-color:var(--line)}
button.disconnect{color:var(--red);border-color:var(--red)}
button.logout{background:transparent;border-color:#8c959f;color:#fff}
.banner,.flash{padding:12px 16px;border-radius:6px;margin:0 0 16px;border:1px solid}
.banner.error,.flash.err{background:var(--err-bg);border-color:var(--err-line);color:var(--err-fg)}
.banner.warn{background:var(--warn-bg);border-color:var(--warn-line)}
.banner.info{background:var(--info-bg);border-color:var(--info-line)}
.flash.ok{background:var(--ok-bg);border-color:var(--ok-line)}
.badge{display:inline-block;padding:1px 9px;border-radius:10px;font-size:12px;font-weight:600;border:1px solid;white-space:nowrap}
.status-pending .badge{background:var(--info-bg);border-color:var(--info-line);color:var(--info-fg)}
.status-running .badge{background:var(--run-bg);border-color:var(--run-line);color:var(--run-fg)}
.status-done .badge{background:var(--ok-bg);border-color:var(--ok-line);color:var(--ok-fg)}
.status-failed .badge{background:var(--red);border-color:var(--red);color:#fff}
.status-ignored .badge,.status-duplicate .badge{background:transparent;border-color:var(--line);color:var(--muted)}
tr.status-failed td{background:var(--fail-row)}
.reason{color:var(--red)}
.status-ignored .reason,.status-duplicate .reason,.status-pending .reason{color:var(--muted)}
.health-ok{color:var(--ok-fg)}
.health-bad{color:var(--red);font-weight:600}
.tag{font-size:12px;border:1px solid var(--line);border-radius:10px;padding:0 7px;color:var(--muted);white-space:nowrap}
.muted,.note{color:var(--muted)}
code{font-size:13px;overflow-wrap:anywhere}
details summary{cursor:pointer;color:var(--muted)}
details pre{white-space:pre-wrap;overflow-wrap:anywhere;font-size:12px;margin:4px 0}
form.filters{display:flex;flex-wrap:wrap;gap:8px 14px;align-items:end;margin:0 0 12px}
form.filters label{display:flex;flex-direction:column;font-size:13px;color:var(--muted)}
form.filters label.check{flex-direction:row;gap:6px;align-items:center}
select{font:inherit;padding:3px 6px;background:var(--card);color:var(--fg);border:1px solid var(--line);border-radius:6px;max-width:100%}
.pager{display:flex;gap:16px;align-items:center;flex-wrap:wrap;margin-top:10px}
.stats{display:flex;flex-wrap:wrap;gap:12px;margin:0 0 12px}
.stat{border:1px solid var(--line);border-radius:6px;padding:8px 14px;min-width:130px}
.stat strong{display:block;font-size:22px}
tr.noise-summary td{color:var(--muted);font-style:italic}
.sev{display:inline-block;font-size:12px;font-weight:600;border-radius:10px;padding:0 8px;border:1px solid;white-space:nowrap;margin:0 4px 2px 0}
.sev-critical{color:#fff;background:var(--red);border-color:var(--red)}
.sev-major{color:var(--err-fg);background:var(--err-bg);border-color:var(--err-line)}
.sev-minor{background:var(--warn-bg);border-color:var(--warn-line)}
.sev-nit{color:var(--muted);border-color:var(--line)}
article.review-detail{border-top:1px solid var(--line);padding:12px 0 4px;min-width:0}
article.review-detail:first-of-type{border-top:none}
h3{font-size:15px;margin:0 0 6px}
h4{font-size:14px;margin:10px 0 4px}
ul.findings,ul.notes{list-style:none;padding:0;margin:4px 0 10px}
ul.findings li,ul.notes li{padding:4px 0;border-top:1px solid var(--soft);overflow-wrap:anywhere;min-width:0}
ul.findings li:first-child,ul.notes li:first-child{border-top:none}
fieldset{border:1px solid var(--line);border-radius:6px;margin:0 0 12px;padding:8px 12px;min-width:0}
legend{font-weight:600;padding:0 4px}
form.settings label{display:flex;gap:4px 8px;align-items:baseline;margin:6px 0}
form.settings label>span{min-width:0}
form.settings label.choice{flex-wrap:wrap}
form.settings select{min-width:0;max-width:100%}
form.settings .hint{display:block;font-size:13px;color:var(--muted)}
@media (max-width:720px){
main{padding:0 10px;margin:12px auto}
section{padding:12px}
header{padding:10px 12px}
table.stack thead{display:none}
table.stack,table.stack tbody,table.stack tr,table.stack td{display:block;width:auto}
table.stack tr{border-top:1px solid var(--soft);padding:6px 0}
table.stack td{border:none;padding:2px 0}
table.stack td.num{text-align:left;white-space:normal}
table.stack td[data-label]::before{content:attr(data-label) ": ";color:var(--muted);font-size:12px}
}
"#;

/// The whole document: `header` holds the signed-in part of the top bar, `refresh_secs`
/// adds a meta refresh (live state with no script, so the CSP stays script-free).
pub(super) fn document(
    title: &str,
    header: &Html,
    body: &Html,
    refresh_secs: Option<u32>,
) -> String {
    let mut page = Html::default();
    page.raw("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
        .raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
        .raw("<meta name=\"color-scheme\" content=\"light dark\">");
    if let Some(secs) = refresh_secs {
        page.raw("<meta http-equiv=\"refresh\" id=\"live-refresh\"")
            .attr("content", &secs.to_string())
            .raw(">");
    }
    page.raw("<title>")
        .text(title)
        .raw("</title><style>")
        .raw(STYLE)
        .raw("</style></head><body><header><h1><a href=\"/\">Nectr</a></h1>");
    page.out.push_str(&header.out);
    page.raw("</header><main>");
    page.out.push_str(&body.out);
    page.raw("</main></body></html>\n");
    page.out
}

/// Unix seconds as `2024-01-31 09:05 UTC`.
pub fn format_time(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Unix seconds as RFC 3339 (`2024-01-31T09:05:07Z`), for `<time datetime>`.
pub(super) fn rfc3339(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `secs` relative to `now`: `just now`, `5 min ago`, `3 h ago`, `2 days ago`, `in 4 min`;
/// the date beyond two weeks.
pub fn relative_time(secs: i64, now: i64) -> String {
    let delta = now - secs;
    let ahead = delta < 0;
    let d = delta.abs();
    let amount = if d < 45 {
        return if ahead { "in a moment" } else { "just now" }.to_owned();
    } else if d < 90 * 60 {
        format!("{} min", (d + 30) / 60)
    } else if d < 36 * 3600 {
        format!("{} h", (d + 1800) / 3600)
    } else if d < 14 * 86_400 {
        format!("{} days", (d + 43_200) / 86_400)
    } else {
        return format_time(secs)[..10].to_owned();
    };
    if ahead {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
pub(super) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A duration in seconds as `45 s`, `12 min`, `3.5 h`.
pub fn duration_text(secs: i64) -> String {
    let s = secs.max(0);
    if s < 120 {
        format!("{s} s")
    } else if s < 2 * 3600 {
        format!("{} min", (s + 30) / 60)
    } else {
        format!("{:.1} h", s as f64 / 3600.0)
    }
}

/// The `@login` a worker's error names first, if any.
fn named_login(error: &str) -> Option<&str> {
    let at = error.find('@')? + 1;
    let rest = &error[at..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// What a recorded failure means for the reader and what to do about it. The raw text
/// stays available behind a disclosure; this is the sentence shown.
pub fn plain_failure(error: &str) -> String {
    let lower = error.to_ascii_lowercase();
    let who = named_login(error)
        .map(|l| format!("@{l}"))
        .unwrap_or_else(|| "the person who connected this repository".to_owned());
    if lower.contains("sign in to nectr again")
        || lower.contains("(401)")
        || lower.contains("must sign in again")
    {
        format!(
            "GitHub no longer accepts the token of {who} (revoked or expired). {who} must sign in to Nectr again; then press Retry."
        )
    } else if lower.contains("no longer connected") {
        "This repository is no longer connected to Nectr. Connect it again on the overview page, then press Retry.".to_owned()
    } else if lower.contains("cannot decrypt") {
        format!(
            "Nectr cannot read the stored GitHub token of {who}: the server's encryption key changed. The operator should keep the old key after the new one in NECTR_ENCRYPTION_KEY, or {who} can sign in again; then press Retry."
        )
    } else if lower.contains("not a pull_request event") {
        "The stored delivery is not a pull request event Nectr can read; retrying will not help. Push a new commit to have the pull request reviewed.".to_owned()
    } else if lower.contains("(404)") || lower.contains("not found") {
        "GitHub could not find this pull request or repository: it was deleted or renamed, or the token lost access to it. Check it on GitHub; press Retry once it is there again.".to_owned()
    } else if lower.contains("rate limit") {
        "GitHub's rate limit for this token ran out. Nectr waited as long as it could; press Retry after the limit resets (within the hour).".to_owned()
    } else if lower.contains("(403)") || lower.contains("forbidden") || lower.contains("refused") {
        format!(
            "GitHub refused the request (403): the token of {who} may lack access to this repository. Check the repository's access, then press Retry."
        )
    } else if lower.contains("gave up after") || lower.contains("timed out") || lower.contains("(5")
    {
        "GitHub kept failing while Nectr worked on this, so it stopped retrying. Press Retry when GitHub is healthy again (githubstatus.com).".to_owned()
    } else if lower.contains("knowledge graph") {
        "Recording this in the knowledge graph failed. Check that the graph database is reachable, then press Retry.".to_owned()
    } else {
        "The review failed. Press Retry to try again; the technical detail is below.".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_html_specials() {
        assert_eq!(
            escape(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
        assert_eq!(escape("héllo — ok"), "héllo — ok");
    }

    #[test]
    fn html_escapes_text_attributes_and_prose() {
        let mut h = Html::default();
        h.raw("<p")
            .attr("title", "\"><x>")
            .raw(">")
            .text("<b>")
            .raw("</p>");
        assert_eq!(h.out, "<p title=\"&quot;&gt;&lt;x&gt;\">&lt;b&gt;</p>");
        let mut h = Html::default();
        h.prose("set `next` to <a>`");
        assert_eq!(h.out, "set <code>next</code> to &lt;a&gt;");
    }

    #[test]
    fn only_http_urls_become_links() {
        assert!(safe_url("https://github.com/o/r/pull/1"));
        assert!(safe_url("HTTP://example.com/"));
        assert!(!safe_url("javascript:alert(1)"));
        assert!(!safe_url(" https://x"));
        assert!(!safe_url("data:text/html,hi"));
        assert!(!safe_url("/relative"));
        let mut h = Html::default();
        h.link("javascript:alert(1)", "x", "click");
        assert_eq!(h.out, "click");
    }

    #[test]
    fn times_are_utc_calendar_dates() {
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(1_704_067_200), "2024-01-01 00:00 UTC");
        assert_eq!(format_time(951_827_400), "2000-02-29 12:30 UTC");
        assert_eq!(rfc3339(1_704_067_201), "2024-01-01T00:00:01Z");
        assert_eq!(format_time(-1), "1969-12-31 23:59 UTC");
    }

    #[test]
    fn relative_times_read_naturally() {
        let now = 1_704_067_200;
        assert_eq!(relative_time(now - 10, now), "just now");
        assert_eq!(relative_time(now - 300, now), "5 min ago");
        assert_eq!(relative_time(now - 3 * 3600, now), "3 h ago");
        assert_eq!(relative_time(now - 2 * 86_400, now), "2 days ago");
        assert_eq!(relative_time(now + 240, now), "in 4 min");
        assert_eq!(relative_time(now - 30 * 86_400, now), "2023-12-02");
        assert_eq!(duration_text(42), "42 s");
        assert_eq!(duration_text(600), "10 min");
        assert_eq!(duration_text(9000), "2.5 h");
    }

    #[test]
    fn failures_are_explained_with_what_to_do() {
        let revoked = plain_failure(
            "GitHub rejected the token of @octocat (401): it was revoked or expired; @octocat must sign in to Nectr again",
        );
        assert!(revoked.contains("@octocat must sign in"), "{revoked}");
        assert!(revoked.contains("Retry"));
        let missing = plain_failure(
            "GET /repos/o/r/pulls/99999 was not found on GitHub (404): check the name",
        );
        assert!(missing.starts_with("GitHub could not find"), "{missing}");
        assert!(plain_failure("gave up after 5 attempts: GitHub answered 502").contains("healthy"));
        assert!(plain_failure("something new").contains("Retry"));
    }
}
