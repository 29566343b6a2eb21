//! Committed credentials: well-known token shapes plus high-entropy literals assigned to
//! secret-looking names.
//!
//! Findings never contain the secret: titles and bodies name the kind, at most the first
//! four characters of a well-known prefix (`ghp_`, `AKIA`) and the length.

use regex::Regex;

use super::lang::{Lang, Lexed, is_ident_byte};
use super::{FileCtx, Hit, LineCtx, Rule};

/// Prefilter bits owned by this module (see `super::PREFILTER`).
pub(super) const P_GITHUB: u32 = 1 << 0;
pub(super) const P_AWS: u32 = 1 << 1;
pub(super) const P_PKEY: u32 = 1 << 2;
pub(super) const P_SLACK: u32 = 1 << 3;
pub(super) const P_STRIPE: u32 = 1 << 4;
pub(super) const P_GOOGLE: u32 = 1 << 5;
pub(super) const P_GENERIC: u32 = 1 << 6;
/// GitLab, npm, PyPI, SendGrid, Hugging Face and Azure: prefixes specific enough to
/// share one bit.
pub(super) const P_TOKENS: u32 = 1 << 8;
pub(super) const P_TWILIO: u32 = 1 << 9;
pub(super) const P_JWT: u32 = 1 << 10;
pub(super) const P_URL_CREDS: u32 = 1 << 11;
pub(super) const P_BEARER: u32 = 1 << 12;
pub(super) const P_SPECIFIC: u32 = P_GITHUB
    | P_AWS
    | P_PKEY
    | P_SLACK
    | P_STRIPE
    | P_GOOGLE
    | P_TOKENS
    | P_TWILIO
    | P_JWT
    | P_URL_CREDS
    | P_BEARER;

pub(super) const PREFILTER: &[(&str, u32)] = &[
    ("ghp_", P_GITHUB),
    ("gho_", P_GITHUB),
    ("ghu_", P_GITHUB),
    ("ghs_", P_GITHUB),
    ("ghr_", P_GITHUB),
    ("github_pat_", P_GITHUB),
    ("akia", P_AWS),
    ("asia", P_AWS),
    ("abia", P_AWS),
    ("acca", P_AWS),
    ("private key", P_PKEY),
    ("xox", P_SLACK),
    ("hooks.slack.com", P_SLACK),
    ("_live_", P_STRIPE),
    ("aiza", P_GOOGLE),
    ("glpat-", P_TOKENS),
    ("npm_", P_TOKENS),
    ("pypi-", P_TOKENS),
    ("sg.", P_TOKENS),
    ("hf_", P_TOKENS),
    ("accountkey=", P_TOKENS),
    ("sharedaccesskey=", P_TOKENS),
    ("sk", P_TWILIO),
    ("eyj", P_JWT),
    ("://", P_URL_CREDS),
    ("bearer", P_BEARER),
    ("key", P_GENERIC),
    ("secret", P_GENERIC),
    ("token", P_GENERIC),
    ("pass", P_GENERIC),
    ("pwd", P_GENERIC),
];

/// The well-known prefixes in their exact case, for the case-sensitive prefilter used on
/// generated files and minified lines.
pub(super) const EXACT_PREFIXES: &[(&str, u32)] = &[
    ("ghp_", P_GITHUB),
    ("gho_", P_GITHUB),
    ("ghu_", P_GITHUB),
    ("ghs_", P_GITHUB),
    ("ghr_", P_GITHUB),
    ("github_pat_", P_GITHUB),
    ("AKIA", P_AWS),
    ("ASIA", P_AWS),
    ("ABIA", P_AWS),
    ("ACCA", P_AWS),
    ("PRIVATE KEY", P_PKEY),
    ("xox", P_SLACK),
    ("hooks.slack.com", P_SLACK),
    ("_live_", P_STRIPE),
    ("AIza", P_GOOGLE),
    ("glpat-", P_TOKENS),
    ("npm_", P_TOKENS),
    ("pypi-", P_TOKENS),
    ("SG.", P_TOKENS),
    ("hf_", P_TOKENS),
    ("AccountKey=", P_TOKENS),
    ("SharedAccessKey=", P_TOKENS),
];

pub(super) const HELP_GITHUB: &str = "A GitHub token (`ghp_`/`gho_`/`ghu_`/`ghs_`/`ghr_` + 36 characters, or a fine-grained `github_pat_…`) grants access to repositories and the API as its owner.\n\nAnything pushed is already in the repository's history, forks and CI caches; deleting the line in a later commit does not help. **Revoke the token now** (GitHub → Settings → Developer settings → Personal access tokens, or the OAuth/GitHub App that issued it), then read it from the environment or a secret store instead.";
pub(super) const HELP_AWS: &str = "An AWS access key id (`AKIA…`/`ASIA…`) is half of a credential pair; the secret half is usually close by.\n\nIt is already in git history. **Deactivate and delete the key in IAM now** (`aws iam delete-access-key`), check CloudTrail for its use, and load credentials from the environment, an instance role or a secret manager instead. AWS's documented example `AKIAIOSFODNN7EXAMPLE` is ignored.";
pub(super) const HELP_PKEY: &str = "A private key block (`-----BEGIN … PRIVATE KEY-----` followed by key material) lets anyone impersonate its owner: decrypt TLS traffic, sign releases, log in over SSH.\n\nIt is already in git history. **Replace the key pair now**: issue a new key, revoke certificates for this one and remove its public half from every server that trusts it. Keep keys out of the repository (a secret store, CI secrets, or files listed in `.gitignore`). Keys under test paths (`tests/`, `fixtures/`, `testdata/`, …) and sample keys (`examples/`, `demo/`, `self_signed`, `snakeoil`, `dummy` in the path) are not reported: throwaway TLS keys for tests and examples are common and harmless as long as nothing trusts them.";
pub(super) const HELP_SLACK: &str = "A Slack token (`xoxb-`, `xoxp-`, …) or incoming-webhook URL lets anyone read or post to the workspace as the app.\n\nIt is already in git history. **Revoke it now** (regenerate the token or webhook in the Slack app's settings), then load it from the environment or a secret store.";
pub(super) const HELP_STRIPE: &str = "A Stripe live secret or restricted key (`sk_live_…`, `rk_live_…`) can move real money and read customer data.\n\nIt is already in git history. **Roll the key now** in the Stripe Dashboard (Developers → API keys) and load it from the environment. Test-mode keys (`sk_test_`) are not reported: they cannot touch live data or money and appear in Stripe's own documentation and in many test suites. Publishable keys (`pk_…`) are public by design.";
pub(super) const HELP_GOOGLE: &str = "A Google API key (`AIza` + 35 characters) is billed to its project and may unlock paid or private APIs.\n\nIt is already in git history. **Regenerate or delete the key now** (Google Cloud Console → APIs & Services → Credentials), restrict the new key by API and referrer/app, and keep it out of the repository. Keys that must ship in client apps (Firebase, Maps) should at least be restricted.";
pub(super) const HELP_GENERIC: &str = "A long, random-looking literal is assigned to a name that says it is a secret (`*_KEY`, `*SECRET*`, `*TOKEN*`, `PASSWORD`).\n\nIf it is a real credential it is already in git history: **rotate it now** with whoever issued it, then read it from the environment or a secret store (`os.environ[…]`, `process.env.…`, `std::env::var`). Placeholders (`changeme`, `xxx`, `<…>`, `${…}`, `{{…}}`), environment lookups, values containing `example`/`dummy`/`fake`/`test`, test files and `.env.example`-style templates are ignored.";

pub(super) const HELP_GITLAB: &str = "A GitLab personal, project or group access token (`glpat-…`) acts as its owner on the GitLab API and over git.\n\nIt is already in git history. **Revoke it now** (GitLab → Preferences → Access Tokens, or the project's/group's token settings) and read it from CI variables or a secret store.";
pub(super) const HELP_NPM: &str = "An npm access token (`npm_` + 36 characters) can publish packages as its owner: a supply-chain compromise for everyone who installs them.\n\nIt is already in git history. **Revoke it now** (`npm token revoke`, or npmjs.com → Access Tokens) and use a CI secret or granular, publish-scoped tokens.";
pub(super) const HELP_PYPI: &str = "A PyPI API token (`pypi-AgEIcHlwaS5vcmc…`) can upload releases of the projects it is scoped to.\n\nIt is already in git history. **Revoke it now** (pypi.org → Account settings → API tokens); prefer Trusted Publishing from CI, which needs no stored token.";
pub(super) const HELP_SENDGRID: &str = "A SendGrid API key (`SG.` + two base64 parts) sends mail as your domain — a phishing tool with your reputation.\n\nIt is already in git history. **Delete the key now** (SendGrid → Settings → API Keys) and load the new one from the environment.";
pub(super) const HELP_TWILIO: &str = "A Twilio API key SID (`SK` + 32 hex characters) identifies a key whose secret is usually nearby; together they send messages and place calls billed to the account.\n\nIt is already in git history. **Delete the key now** (Twilio Console → API keys) and load credentials from the environment.";
pub(super) const HELP_AZURE: &str = "An Azure connection string with an `AccountKey=`/`SharedAccessKey=` grants full access to a storage account or Service Bus/Event Hubs namespace.\n\nIt is already in git history. **Rotate the key now** (Azure Portal → Access keys → Rotate) and use a managed identity or Key Vault reference. The storage emulator's well-known development key (Azurite) is not reported.";
pub(super) const HELP_HF: &str = "A Hugging Face access token (`hf_` + 34 letters) reads (or writes) the owner's private models, datasets and Spaces.\n\nIt is already in git history. **Revoke it now** (huggingface.co → Settings → Access Tokens) and read it from `HF_TOKEN` in the environment.";
pub(super) const HELP_JWT: &str = "A signed JSON Web Token is a bearer credential: whoever holds it is the subject until it expires (and some never do).\n\nIf it was issued by a real system, revoke the session or rotate the signing key, then load tokens at run time. Not reported: tests, documentation, and tokens whose payload says they are public by design (a Supabase `anon` key).";
pub(super) const HELP_URL_CREDS: &str = "A URL carries a user name and password (`scheme://user:password@host`). The password ends up in logs, error messages, process lists and git history.\n\nRotate the password if it is real, and build the URL from configuration at run time (`DATABASE_URL` from the environment). Not reported: local hosts (`localhost`, `127.0.0.1`), placeholder passwords (`${DB_PASSWORD}`, `changeme`, a password equal to the user name), tests, docs, compose files and CI service definitions.";
pub(super) const HELP_BEARER: &str = "An `Authorization: Bearer …` header carries a literal token. Anyone who reads the repository can call the API as that token's owner.\n\nRevoke the token and read it from the environment or a secret store at run time. Placeholders (`Bearer ${token}`, `Bearer <token>`, `Bearer YOUR_TOKEN`) and tests are not reported.";

pub(super) struct Secrets {
    github: Regex,
    aws: Regex,
    pkey: Regex,
    slack: Regex,
    slack_hook: Regex,
    stripe: Regex,
    google: Regex,
    /// The prefix-specific shapes: rule, regex (group 1 is the token), what it is, the
    /// prefix length to skip when checking for placeholders.
    tokens: Vec<(Rule, Regex, &'static str, usize)>,
    twilio: Regex,
    jwt: Regex,
    url_creds: Regex,
    bearer: Regex,
}

impl Secrets {
    pub(super) fn new() -> Secrets {
        let re = super::builtin_regex;
        Secrets {
            github: re(
                r"(?:^|[^A-Za-z0-9_])((?:gh[pousr]_[A-Za-z0-9]{36})|(?:github_pat_[A-Za-z0-9_]{82}))(?:[^A-Za-z0-9_]|$)",
            ),
            aws: re(r"(?:^|[^A-Za-z0-9])((?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})(?:[^A-Za-z0-9]|$)"),
            pkey: re(r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----"),
            slack: re(r"(?:^|[^A-Za-z0-9])(xox[abpsr]-[0-9A-Za-z]+(?:-[0-9A-Za-z]+){1,5})"),
            slack_hook: re(
                r"https://hooks\.slack\.com/(?:services|workflows|triggers)/([A-Za-z0-9_/+-]{20,})",
            ),
            stripe: re(r"(?:^|[^A-Za-z0-9_])((?:sk|rk)_live_[0-9A-Za-z]{20,})"),
            google: re(r"(?:^|[^A-Za-z0-9_-])(AIza[0-9A-Za-z_-]{35})(?:[^A-Za-z0-9_-]|$)"),
            tokens: vec![
                (
                    Rule::SecretGitlabToken,
                    re(r"(?:^|[^A-Za-z0-9_-])(glpat-[0-9A-Za-z_-]{20,})"),
                    "GitLab access token",
                    6,
                ),
                (
                    Rule::SecretNpmToken,
                    re(r"(?:^|[^A-Za-z0-9_])(npm_[A-Za-z0-9]{36})(?:[^A-Za-z0-9]|$)"),
                    "npm access token",
                    4,
                ),
                (
                    Rule::SecretPypiToken,
                    re(r"(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,})"),
                    "PyPI API token",
                    19,
                ),
                (
                    Rule::SecretSendgridKey,
                    re(
                        r"(?:^|[^A-Za-z0-9_])(SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})(?:[^A-Za-z0-9_-]|$)",
                    ),
                    "SendGrid API key",
                    3,
                ),
                (
                    Rule::SecretHuggingfaceToken,
                    re(r"(?:^|[^A-Za-z0-9_])(hf_[A-Za-z]{34})(?:[^A-Za-z0-9_]|$)"),
                    "Hugging Face token",
                    3,
                ),
                (
                    Rule::SecretAzureKey,
                    re(r"(?i:AccountKey|SharedAccessKey)=([A-Za-z0-9+/]{40,}={0,2})"),
                    "Azure account/shared access key",
                    0,
                ),
            ],
            twilio: re(r"(?:^|[^A-Za-z0-9_])(SK[0-9a-f]{32})(?:[^A-Za-z0-9_]|$)"),
            jwt: re(
                r"(?:^|[^A-Za-z0-9_-])(eyJ[A-Za-z0-9_-]{10,}\.(eyJ[A-Za-z0-9_-]{10,})\.[A-Za-z0-9_-]{16,})",
            ),
            url_creds: re(
                r"\b[A-Za-z][A-Za-z0-9+.-]{1,20}://([^\s/:@'\x22<>{}$`]{1,64}):([^\s/@'\x22<>`]{1,128})@([A-Za-z0-9._-]+)",
            ),
            bearer: re(r"(?i)\bbearer\s+([A-Za-z0-9_\-.=~+/]{20,})"),
        }
    }

    /// The well-known token shapes.
    pub(super) fn check_specific(
        &self,
        mask: u32,
        file: &FileCtx<'_>,
        line: &LineCtx<'_>,
        out: &mut Vec<Hit>,
    ) {
        let text = line.text;
        if mask & P_GITHUB != 0 {
            for c in self.github.captures_iter(text) {
                let tok = c.get(1).map_or("", |m| m.as_str());
                if !is_placeholder_token(tok, 4) {
                    let kind = if tok.starts_with("github_pat_") {
                        "GitHub fine-grained personal access token"
                    } else {
                        match &tok[..3] {
                            "ghp" => "GitHub personal access token",
                            "gho" => "GitHub OAuth access token",
                            "ghu" => "GitHub user-to-server token",
                            "ghs" => "GitHub App installation token",
                            _ => "GitHub refresh token",
                        }
                    };
                    out.push(token_hit(Rule::SecretGithubToken, kind, tok, HELP_GITHUB));
                    break;
                }
            }
        }
        if mask & P_AWS != 0 {
            for c in self.aws.captures_iter(text) {
                let tok = c.get(1).map_or("", |m| m.as_str());
                if !is_placeholder_token(tok, 4) {
                    out.push(token_hit(
                        Rule::SecretAwsAccessKeyId,
                        "AWS access key id",
                        tok,
                        HELP_AWS,
                    ));
                    break;
                }
            }
        }
        // Throwaway TLS keys for tests are common and trust nothing: not in test paths.
        if mask & P_PKEY != 0
            && !file.test
            && !is_sample_key_path(file.path)
            && let Some(c) = self.pkey.captures(text)
        {
            let whole = c.get(0).expect("match");
            let label = c.get(1).map_or("PRIVATE KEY", |m| m.as_str());
            if has_key_material(&text[whole.end()..], line.next) {
                let kind = label
                    .strip_suffix(" BLOCK")
                    .unwrap_or(label)
                    .replace("PRIVATE KEY", "private key");
                let kind = kind.trim();
                let title = format!("Committed {kind} block");
                let body = secret_body(
                    &format!("{kind} block (`-----BEGIN {label}-----`)"),
                    HELP_PKEY,
                    Rule::SecretPrivateKey,
                );
                out.push(Hit {
                    rule: Rule::SecretPrivateKey,
                    title,
                    suggestion: None,
                    body: Some(body),
                });
            }
        }
        if mask & P_SLACK != 0 {
            let mut found = false;
            for c in self.slack.captures_iter(text) {
                let tok = c.get(1).map_or("", |m| m.as_str());
                // Real tokens are long: `xoxb-` + numeric ids + a 24-character secret.
                if tok.len() >= 30 && !is_placeholder_token(&tok[5..], 0) {
                    out.push(token_hit(
                        Rule::SecretSlackToken,
                        "Slack token",
                        tok,
                        HELP_SLACK,
                    ));
                    found = true;
                    break;
                }
            }
            if !found {
                for c in self.slack_hook.captures_iter(text) {
                    let secret = c.get(1).map_or("", |m| m.as_str());
                    if !is_placeholder_token(secret, 0) {
                        let len = c.get(0).map_or(0, |m| m.as_str().len());
                        out.push(Hit {
                            rule: Rule::SecretSlackToken,
                            title: format!(
                                "Committed Slack incoming-webhook URL ({len} characters)"
                            ),
                            suggestion: None,
                            body: Some(secret_body(
                                &format!("Slack incoming-webhook URL ({len} characters)"),
                                HELP_SLACK,
                                Rule::SecretSlackToken,
                            )),
                        });
                        break;
                    }
                }
            }
        }
        if mask & P_STRIPE != 0 {
            for c in self.stripe.captures_iter(text) {
                let tok = c.get(1).map_or("", |m| m.as_str());
                if !is_placeholder_token(&tok[8..], 0) {
                    let kind = if tok.starts_with("rk") {
                        "Stripe live restricted key"
                    } else {
                        "Stripe live secret key"
                    };
                    out.push(token_hit(Rule::SecretStripeKey, kind, tok, HELP_STRIPE));
                    break;
                }
            }
        }
        if mask & (P_TOKENS | P_TWILIO | P_JWT | P_URL_CREDS | P_BEARER) != 0 {
            self.check_more(mask, file, line, out);
        }
        if mask & P_GOOGLE != 0 {
            for c in self.google.captures_iter(text) {
                let tok = c.get(1).map_or("", |m| m.as_str());
                if !is_placeholder_token(tok, 4) {
                    out.push(token_hit(
                        Rule::SecretGoogleApiKey,
                        "Google API key",
                        tok,
                        HELP_GOOGLE,
                    ));
                    break;
                }
            }
        }
    }

    /// The newer well-known shapes (GitLab, npm, PyPI, SendGrid, Twilio, Azure, Hugging
    /// Face), JWTs, passwords in URLs and literal bearer tokens.
    fn check_more(&self, mask: u32, file: &FileCtx<'_>, line: &LineCtx<'_>, out: &mut Vec<Hit>) {
        let text = line.text;
        if mask & P_TOKENS != 0 {
            for (rule, re, kind, skip) in &self.tokens {
                let found = re.captures_iter(text).find_map(|c| {
                    let tok = c.get(1)?.as_str();
                    (!is_placeholder_token(tok, *skip) && !is_public_by_design(*rule, tok))
                        .then_some(tok)
                });
                if let Some(tok) = found {
                    let shown = if *rule == Rule::SecretAzureKey {
                        "AccountKey="
                    } else {
                        tok
                    };
                    out.push(token_hit(*rule, kind, shown, help_of(*rule)));
                    if *rule == Rule::SecretAzureKey {
                        // The prefix shown is the parameter name, not the key.
                        if let Some(h) = out.last_mut() {
                            h.title =
                                format!("Committed Azure account key ({} characters)", tok.len());
                        }
                    }
                }
            }
        }
        if mask & P_TWILIO != 0
            && let Some(tok) = self
                .twilio
                .captures_iter(text)
                .filter_map(|c| c.get(1).map(|m| m.as_str()))
                .find(|t| {
                    !is_placeholder_token(t, 2)
                        && t.bytes()
                            .any(|b| b.is_ascii_alphabetic() && b != b'K' && b != b'S')
                })
        {
            out.push(token_hit(
                Rule::SecretTwilioKey,
                "Twilio API key SID",
                tok,
                HELP_TWILIO,
            ));
        }
        // Tests and documentation are full of sample tokens and URLs.
        let sample_place =
            file.test || file.template || matches!(file.lang, Lang::Prose | Lang::Markup);
        if mask & P_JWT != 0 && !sample_place {
            for c in self.jwt.captures_iter(text) {
                let (Some(tok), Some(payload)) = (c.get(1), c.get(2)) else {
                    continue;
                };
                if jwt_is_secret(payload.as_str()) {
                    out.push(token_hit(
                        Rule::SecretJwt,
                        "JSON Web Token",
                        tok.as_str(),
                        HELP_JWT,
                    ));
                    break;
                }
            }
        }
        if mask & P_URL_CREDS != 0 && !sample_place && !file.throwaway_secrets {
            for c in self.url_creds.captures_iter(text) {
                let (user, pass, host) = (&c[1], &c[2], c[3].to_ascii_lowercase());
                let local = [
                    "localhost",
                    "127.0.0.1",
                    "0.0.0.0",
                    "::1",
                    "host",
                    "hostname",
                ]
                .contains(&host.as_str())
                    || host.ends_with(".local")
                    || host.ends_with(".localhost")
                    || host.contains("example")
                    || !host.contains('.');
                if local
                    || pass == user
                    || pass.len() < 6
                    || is_placeholder_value(pass)
                    || is_placeholder_token(pass, 0)
                    || [
                        "postgres", "mysql", "root", "admin", "guest", "pass", "user",
                    ]
                    .iter()
                    .any(|w| pass.eq_ignore_ascii_case(w))
                {
                    continue;
                }
                let scheme = c
                    .get(0)
                    .map_or("", |m| m.as_str())
                    .split("://")
                    .next()
                    .unwrap_or("");
                out.push(Hit {
                    rule: Rule::SecretUrlCredentials,
                    title: format!(
                        "Password in a `{scheme}://` URL ({} characters)",
                        pass.len()
                    ),
                    suggestion: None,
                    body: Some(secret_body(
                        &format!(
                            "password ({} characters) in a `{scheme}://` URL",
                            pass.len()
                        ),
                        HELP_URL_CREDS,
                        Rule::SecretUrlCredentials,
                    )),
                });
                break;
            }
        }
        if mask & P_BEARER != 0 && !sample_place {
            for c in self.bearer.captures_iter(text) {
                let Some(m) = c.get(1) else { continue };
                let tok = m.as_str();
                // Inside a string literal, as a real header value, not a doc sentence.
                let class = line.lexed.class.get(m.start());
                let in_place = if file.lang.is_programming() {
                    class == Some(&super::lang::Class::Str)
                } else {
                    class != Some(&super::lang::Class::Comment)
                };
                if !in_place
                    || is_placeholder_value(tok)
                    || is_placeholder_token(tok, 0)
                    || looks_like_words(tok)
                    || entropy(tok) < 3.5
                    || !tok.bytes().any(|b| b.is_ascii_digit())
                {
                    continue;
                }
                out.push(token_hit(
                    Rule::SecretBearerToken,
                    "bearer token",
                    tok,
                    HELP_BEARER,
                ));
                break;
            }
        }
    }

    /// A high-entropy literal assigned to a secret-looking name.
    pub(super) fn check_generic(&self, file: &FileCtx<'_>, line: &LineCtx<'_>, out: &mut Vec<Hit>) {
        // CI service containers, compose files, mocks and fixtures hold throwaway
        // credentials by design; an Algolia DocSearch key is a public search-only key.
        if file.throwaway_secrets {
            return;
        }
        let public_search = |l: &str| {
            let l = l.to_ascii_lowercase();
            ["docsearch", "algolia", "indexname", "appid", "app_id"]
                .iter()
                .any(|w| l.contains(w))
        };
        if public_search(line.text)
            || line.prev.is_some_and(public_search)
            || line.next.is_some_and(public_search)
        {
            return;
        }
        if let Some((name, len)) = generic_assignment(file.lang, line.text, line.lexed) {
            let shown: String = name.chars().take(60).collect();
            out.push(Hit {
                rule: Rule::SecretGeneric,
                title: format!("Hard-coded secret assigned to `{shown}` ({len} characters)"),
                suggestion: None,
                body: Some(secret_body(
                    &format!("secret-looking value ({len} characters) assigned to `{shown}`"),
                    HELP_GENERIC,
                    Rule::SecretGeneric,
                )),
            });
        }
    }
}

impl Secrets {
    /// Replace every secret the detectors see in `line` with `[REDACTED:<rule-id>]`,
    /// pushing the rule ids. Placeholders are redacted too: better an example key hidden
    /// than a real one sent. `in_key` carries a private-key block across lines.
    pub(super) fn redact_line(
        &self,
        lang: Lang,
        line: &str,
        lexer: &mut super::Lexer,
        lexed: &mut Lexed,
        in_key: &mut bool,
        ids: &mut Vec<&'static str>,
    ) -> String {
        let pkey_id = Rule::SecretPrivateKey.id();
        if *in_key {
            if line.contains("-----END ") {
                *in_key = false;
            }
            ids.push(pkey_id);
            return format!("[REDACTED:{pkey_id}]");
        }
        let mut spans: Vec<(usize, usize, &'static str)> = Vec::new();
        let groups: [(&Regex, Rule); 6] = [
            (&self.github, Rule::SecretGithubToken),
            (&self.aws, Rule::SecretAwsAccessKeyId),
            (&self.slack, Rule::SecretSlackToken),
            (&self.slack_hook, Rule::SecretSlackToken),
            (&self.stripe, Rule::SecretStripeKey),
            (&self.google, Rule::SecretGoogleApiKey),
        ];
        let more = self
            .tokens
            .iter()
            .map(|(rule, re, _, _)| (re, *rule))
            .chain([
                (&self.twilio, Rule::SecretTwilioKey),
                (&self.jwt, Rule::SecretJwt),
                (&self.bearer, Rule::SecretBearerToken),
            ]);
        for (re, rule) in groups.into_iter().chain(more) {
            for c in re.captures_iter(line) {
                if let Some(m) = c.get(1) {
                    spans.push((m.start(), m.end(), rule.id()));
                }
            }
        }
        for c in self.url_creds.captures_iter(line) {
            if let Some(m) = c.get(2) {
                spans.push((m.start(), m.end(), Rule::SecretUrlCredentials.id()));
            }
        }
        if let Some(m) = self.pkey.find(line) {
            // Everything after the marker, and the following lines up to the END marker.
            let rest = &line[m.end()..];
            if !rest.contains("-----END ") {
                *in_key = true;
            }
            spans.push((m.end(), line.len(), pkey_id));
        }
        if line.len() <= 2000 {
            lexer.reset();
            lexer.lex(line, lexed);
            if let Some((_, value)) = generic_assignment_value(lang, line, lexed) {
                let start = value.as_ptr() as usize - line.as_ptr() as usize;
                spans.push((start, start + value.len(), Rule::SecretGeneric.id()));
            }
        }
        if spans.is_empty() {
            return line.to_owned();
        }
        spans.sort();
        let mut out = String::with_capacity(line.len());
        let mut at = 0;
        for (start, end, id) in spans {
            if start < at {
                continue; // overlaps a span already redacted
            }
            out.push_str(&line[at..start]);
            out.push_str("[REDACTED:");
            out.push_str(id);
            out.push(']');
            ids.push(id);
            at = end;
        }
        out.push_str(&line[at..]);
        out
    }
}

fn help_of(rule: Rule) -> &'static str {
    match rule {
        Rule::SecretGitlabToken => HELP_GITLAB,
        Rule::SecretNpmToken => HELP_NPM,
        Rule::SecretPypiToken => HELP_PYPI,
        Rule::SecretSendgridKey => HELP_SENDGRID,
        Rule::SecretHuggingfaceToken => HELP_HF,
        _ => HELP_AZURE,
    }
}

/// Keys published on purpose: the Azure storage emulator's documented development key.
fn is_public_by_design(rule: Rule, tok: &str) -> bool {
    rule == Rule::SecretAzureKey
        && tok.starts_with("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq")
}

/// Is a JWT with this payload (base64url JSON) a credential worth reporting? Not when it
/// does not decode to a JSON object, and not a Supabase `anon` key (public by design).
fn jwt_is_secret(payload: &str) -> bool {
    use base64::Engine as _;
    let Ok(bytes) =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('='))
    else {
        return false;
    };
    let Ok(json) = String::from_utf8(bytes) else {
        return false;
    };
    let compact: String = json.chars().filter(|c| !c.is_whitespace()).collect();
    compact.starts_with('{')
        && !compact.contains("\"role\":\"anon\"")
        && !compact.to_ascii_lowercase().contains("example")
        && !compact.contains("\"sub\":\"1234567890\"")
}

fn token_hit(rule: Rule, kind: &str, tok: &str, help: &str) -> Hit {
    let prefix: String = tok.chars().take(4).collect();
    let len = tok.chars().count();
    Hit {
        rule,
        title: format!("Committed {kind} ({prefix}…, {len} characters)"),
        suggestion: None,
        body: Some(secret_body(
            &format!("{kind} (`{prefix}…`, {len} characters)"),
            help,
            rule,
        )),
    }
}

fn secret_body(what: &str, help: &str, rule: Rule) -> String {
    format!(
        "**Committed secret:** {what}. The value is not repeated here. **Revoke or rotate it now**: it is already in git history.\n\n{help}\n\nIf this is not a real credential, replace it with an obvious placeholder such as `<YOUR_TOKEN>`; to silence the rule for the whole repository, add `{}` to `rules.disable`.",
        rule.id()
    )
}

/// Documentation-style fake tokens: `EXAMPLE`, runs of `x`/`0`, too few distinct
/// characters for a random token. `skip` bytes of fixed prefix are ignored.
fn is_placeholder_token(tok: &str, skip: usize) -> bool {
    let body = tok.get(skip..).unwrap_or(tok);
    let lower = body.to_ascii_lowercase();
    if [
        "example", "xxxxxx", "000000", "123456", "abcdef", "sample", "dummy", "fake",
    ]
    .iter()
    .any(|w| lower.contains(w))
    {
        return true;
    }
    let mut seen = [false; 256];
    let mut distinct = 0;
    let mut alnum = 0;
    for b in body.bytes() {
        if b.is_ascii_alphanumeric() {
            alnum += 1;
            if !seen[b as usize] {
                seen[b as usize] = true;
                distinct += 1;
            }
        }
    }
    // A random 16+ character token uses far more than 8 distinct characters.
    alnum >= 12 && distinct < 8
}

/// After a `-----BEGIN … PRIVATE KEY-----` marker: is there key material (a PEM body) on
/// the same line (`\n`-escaped, as in JSON) or on the next added line? A bare marker is a
/// parser constant or documentation, not a key.
fn has_key_material(after: &str, next: Option<&str>) -> bool {
    let looks_b64 = |s: &str| {
        let s = s
            .trim()
            .trim_matches(|c| c == '"' || c == '\'' || c == ',' || c == '+');
        let s = s.trim_end_matches("\\n").trim_end_matches('\\');
        s.len() >= 16
            && !s.contains("...")
            && !s.contains('…')
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
            && s.bytes().filter(|b| b.is_ascii_digit()).count() > 0
    };
    let is_header = |s: &str| {
        let s = s.trim().trim_start_matches(['"', '\'']);
        ["Proc-Type:", "DEK-Info:", "Version:", "Comment:"]
            .iter()
            .any(|h| s.starts_with(h))
    };
    // `\n` escapes inside a string: "-----BEGIN …-----\nMIIE…\n-----END…"
    if let Some(rest) = after
        .strip_prefix("\\n")
        .or_else(|| after.strip_prefix("\\r\\n"))
    {
        let first = rest.split("\\n").next().unwrap_or("");
        return looks_b64(first) || is_header(first);
    }
    // The marker must end its line (apart from quotes and punctuation) …
    let tail = after
        .trim()
        .trim_matches(|c: char| "\"'`,;+\\)".contains(c));
    if !tail.is_empty() && !looks_b64(tail) {
        return false;
    }
    if looks_b64(tail) {
        return true;
    }
    // … and the next added line must be key material.
    next.is_some_and(|n| looks_b64(n) || is_header(n))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum NameKind {
    Password,
    Secret,
    Token,
    Key,
}

/// Words before `key`/`token`/`secret` that mean the value is not secret.
const NOT_SECRET_QUALIFIERS: &[&str] = &[
    "public",
    "pub",
    "publishable",
    "primary",
    "foreign",
    "sort",
    "partition",
    "cache",
    "idempotency",
    "lookup",
    "row",
    "column",
    "field",
    "object",
    "hot",
    "i18n",
    "translation",
    "label",
    "cursor",
    "dedup",
    "group",
    "routing",
    "shard",
    "hash",
    "pk",
    "sk",
    "gsi",
    "lsi",
    "storage",
    "map",
    "dict",
    "index",
    "unique",
    "composite",
    "site",
    "gpg",
    "pgp",
    "ssh",
    "fingerprint",
    "csrf",
    "xsrf",
    "next",
    "page",
    "continuation",
    "pagination",
    "cancel",
    "cancellation",
    "eos",
    "bos",
    "pad",
    "unk",
    "sep",
    "cls",
    "mask",
    "start",
    "end",
    "special",
    "max",
    "min",
    "num",
    "sync",
    "event",
    "message",
    "metric",
    "config",
    "setting",
    "settings",
    "env",
    "header",
    "param",
    "query",
    "file",
    "path",
    "name",
    "type",
    "sentry",
    "search",
    "publishable",
    "anon",
    "recaptcha",
];

/// Split an identifier into lower-case words: `apiKey` → [api, key], `DB_PASSWORD` →
/// [db, password], `self.client_secret` → [self, client, secret].
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for ch in name.chars() {
        if !ch.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if ch.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = ch.is_ascii_lowercase() || ch.is_ascii_digit();
        cur.push(ch.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn name_kind(name: &str) -> Option<NameKind> {
    let ws = words(name);
    let last = ws.last()?;
    let kind = match last.as_str() {
        "password" | "passwd" | "pwd" | "pass" | "passphrase" | "passcode" => NameKind::Password,
        "secret" | "clientsecret" | "apisecret" | "secretkey" | "apikey" | "accesskey"
        | "privatekey" | "signingkey" | "masterkey" => NameKind::Secret,
        "token" | "authtoken" | "accesstoken" | "apitoken" | "refreshtoken" | "bearertoken"
        | "secrettoken" => NameKind::Token,
        "key" if ws.len() >= 2 => NameKind::Key,
        _ => return None,
    };
    if kind != NameKind::Password
        && ws[..ws.len() - 1]
            .iter()
            .any(|w| NOT_SECRET_QUALIFIERS.contains(&w.as_str()))
    {
        return None;
    }
    Some(kind)
}

/// Shannon entropy in bits per byte.
pub(super) fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Is `v` a placeholder, a reference or obviously not a real secret?
fn is_placeholder_value(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    const WORDS: &[&str] = &[
        "example",
        "sample",
        "dummy",
        "fake",
        "test",
        "mock",
        "placeholder",
        "changeme",
        "change_me",
        "change-me",
        "your",
        "redacted",
        "secret",
        "password",
        "passwd",
        "token",
        "xxxx",
        "****",
        "....",
        "…",
        "todo",
        "replace",
        "insert",
        "default",
        "local",
        "dev",
        "foo",
        "bar",
        "none",
        "null",
        "undefined",
        "12345",
        "abcde",
        "qwert",
    ];
    if WORDS.iter().any(|w| lower.contains(w)) {
        return true;
    }
    if v.contains("${")
        || v.contains("{{")
        || v.contains("%(")
        || v.contains("$(")
        || v.contains('<')
        || v.contains('>')
        || v.contains("://")
    {
        return true;
    }
    let first = v.as_bytes()[0];
    if b"$%@!&*/~.#:{[(".contains(&first) {
        return true;
    }
    // File names: `creds.json`, `server.key`.
    if let Some((_, ext)) = v.rsplit_once('.')
        && matches!(
            ext,
            "json"
                | "pem"
                | "key"
                | "txt"
                | "p12"
                | "pfx"
                | "crt"
                | "yaml"
                | "yml"
                | "env"
                | "toml"
        )
    {
        return true;
    }
    false
}

/// Words glued together (`accessToken`, `user_session_id`, `Bearer`): an identifier, not
/// random text.
fn looks_like_words(v: &str) -> bool {
    let ws = words(v);
    !ws.is_empty()
        && ws
            .iter()
            .all(|w| w.len() >= 3 && w.bytes().all(|b| b.is_ascii_lowercase()))
}

/// Does a value assigned to a name of `kind` look like a real secret?
fn looks_secret(v: &str, kind: NameKind) -> bool {
    let len = v.chars().count();
    let min_len = if kind == NameKind::Password { 8 } else { 16 };
    if len < min_len || len > 500 || v.contains(char::is_whitespace) || !v.is_ascii() {
        return false;
    }
    if is_placeholder_value(v) || looks_like_words(v) {
        return false;
    }
    let lower = v.bytes().any(|b| b.is_ascii_lowercase());
    let upper = v.bytes().any(|b| b.is_ascii_uppercase());
    let digit = v.bytes().any(|b| b.is_ascii_digit());
    let classes = [lower, upper, digit].iter().filter(|&&x| x).count();
    // Mixed character classes: random material, not a word or a number.
    if classes < 2 || !(digit || (lower && upper)) {
        return false;
    }
    let h = entropy(v);
    let threshold = if kind == NameKind::Password {
        2.5
    } else {
        // Random text of length n has entropy close to log2(min(n, alphabet)).
        (0.75 * (len as f64).log2()).min(3.5)
    };
    h >= threshold
}

/// Find `NAME <op> "value"` on the line with a secret-looking name and value. Returns the
/// name and the value's length.
fn generic_assignment<'a>(lang: Lang, line: &'a str, lx: &Lexed) -> Option<(&'a str, usize)> {
    generic_assignment_value(lang, line, lx).map(|(name, value)| (name, value.chars().count()))
}

/// [`generic_assignment`] with the secret value itself (a slice of `line`).
fn generic_assignment_value<'a>(
    lang: Lang,
    line: &'a str,
    lx: &Lexed,
) -> Option<(&'a str, &'a str)> {
    if line.len() > 2000 {
        return None;
    }
    let b = line.as_bytes();
    let n = b.len();
    let mut i = 0;
    while i < n {
        let c = b[i];
        if !lx.is_code(i) || (c != b'=' && c != b':') {
            i += 1;
            continue;
        }
        // The operator and what it is not.
        let op_start = i;
        let mut op_end = i + 1;
        if c == b'=' {
            match b.get(i + 1) {
                Some(b'=') | Some(b'~') => {
                    i += 2;
                    continue;
                }
                Some(b'>') => op_end = i + 2,
                _ => {}
            }
            if i > 0 && b"=!<>+-*/%&|^?.".contains(&b[i - 1]) {
                // `==`, `!=`, `+=`, …; `:=` (Go) is fine.
                i += 1;
                continue;
            }
        } else if b.get(i + 1) == Some(&b':') || (i > 0 && b[i - 1] == b':') {
            i += 2;
            continue;
        } else if b.get(i + 1) == Some(&b'=') {
            op_end = i + 2; // Go `:=`
        }
        i = op_end;
        let Some(name) = name_before(line, lx, op_start) else {
            continue;
        };
        let Some(kind) = name_kind(name) else {
            continue;
        };
        let Some(value) = value_after(lang, line, lx, op_end) else {
            continue;
        };
        if looks_secret(value, kind) {
            return Some((name, value));
        }
    }
    None
}

/// The name assigned to by the operator at `op`: `NAME =`, `"name":`, `ENV['NAME'] =`,
/// `name: Type =`.
fn name_before<'a>(line: &'a str, lx: &Lexed, op: usize) -> Option<&'a str> {
    let b = line.as_bytes();
    let mut j = op;
    let skip_ws = |j: &mut usize| {
        while *j > 0 && b[*j - 1].is_ascii_whitespace() {
            *j -= 1;
        }
    };
    skip_ws(&mut j);
    if j > 0 && b[j - 1] == b']' {
        j -= 1;
    }
    // A quoted key: take the string's content.
    if j > 0 && matches!(b[j - 1], b'"' | b'\'' | b'`') && !lx.is_code(j - 1) {
        let lit = lx.strings.iter().find(|s| s.end == j)?;
        let key = &line[lit.content_start..lit.content_end];
        return (!key.is_empty()
            && key.len() <= 80
            && key
                .bytes()
                .all(|c| is_ident_byte(c) || c == b'.' || c == b'-'))
        .then_some(key);
    }
    let end = j;
    while j > 0 && (is_ident_byte(b[j - 1]) || b[j - 1] == b'.' || b[j - 1] == b'-') {
        j -= 1;
    }
    if j == end {
        return None;
    }
    let ident = &line[j..end];
    // `name: Type = value`: the identifier before `=` is the type.
    if b[op] == b'=' {
        let mut k = j;
        while k > 0 && (b[k - 1].is_ascii_whitespace() || b"&'<>".contains(&b[k - 1])) {
            k -= 1;
        }
        if k > 0 && b[k - 1] == b':' && (k < 2 || b[k - 2] != b':') {
            let name_end = {
                let mut e = k - 1;
                while e > 0 && b[e - 1].is_ascii_whitespace() {
                    e -= 1;
                }
                e
            };
            let mut s = name_end;
            while s > 0 && is_ident_byte(b[s - 1]) {
                s -= 1;
            }
            if s < name_end {
                return Some(&line[s..name_end]);
            }
        }
    }
    Some(ident.trim_matches(|c| c == '.' || c == '-'))
}

/// The literal value right after the operator: a whole quoted string (optionally followed
/// by a no-op conversion like `.to_string()`), or an unquoted word in config formats.
fn value_after<'a>(lang: Lang, line: &'a str, lx: &Lexed, from: usize) -> Option<&'a str> {
    let b = line.as_bytes();
    let mut j = from;
    while j < b.len() && b[j].is_ascii_whitespace() {
        j += 1;
    }
    if j >= b.len() {
        return None;
    }
    if let Some(lit) = lx.string_at(j) {
        if lit.interp || lit.char_lit || lit.end > b.len() {
            return None;
        }
        // The literal must be the whole value, not part of an expression.
        let rest = line[lit.end..].trim_start();
        let ok_rest = rest.is_empty()
            || rest.starts_with([',', ';', ')', '}', ']', '#'])
            || rest.starts_with("//")
            || [
                ".to_string()",
                ".to_owned()",
                ".into()",
                ".as_bytes()",
                ".encode()",
            ]
            .iter()
            .any(|s| rest.starts_with(s));
        return ok_rest.then(|| &line[lit.content_start..lit.content_end]);
    }
    if !lang.allows_bare_values() || !lx.is_code(j) {
        return None;
    }
    let rest = &line[j..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '#' || c == ';' || c == ',')
        .unwrap_or(rest.len());
    let v = &rest[..end];
    // YAML block scalars and tags.
    (!v.is_empty() && !v.starts_with(['|', '>', '!', '&', '*'])).then_some(v)
}

/// Throwaway keys shipped with examples: `examples/…/self_signed_certs/key.pem`.
fn is_sample_key_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower
        .split('/')
        .any(|d| matches!(d, "examples" | "example" | "demo" | "demos" | "samples"))
        || [
            "self_signed",
            "self-signed",
            "selfsigned",
            "snakeoil",
            "dummy",
            "insecure",
        ]
        .iter()
        .any(|w| lower.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::rules::lang::Lexer;

    fn generic(lang: Lang, line: &str) -> Option<(String, usize)> {
        let mut lx = Lexer::new(lang);
        let mut out = Lexed::default();
        lx.lex(line, &mut out);
        generic_assignment(lang, line, &out).map(|(n, l)| (n.to_owned(), l))
    }

    #[test]
    fn rules_words_and_names() {
        assert_eq!(words("apiKey"), ["api", "key"]);
        assert_eq!(words("DB_PASSWORD"), ["db", "password"]);
        assert_eq!(words("self.client_secret"), ["self", "client", "secret"]);
        assert!(name_kind("API_KEY").is_some());
        assert!(name_kind("key").is_none());
        assert!(name_kind("PUBLIC_KEY").is_none());
        assert!(name_kind("pad_token").is_none());
        assert!(name_kind("token_type").is_none());
        assert!(name_kind("authToken").is_some());
        assert!(name_kind("secretkey").is_some());
    }

    #[test]
    fn rules_generic_detects_assignments() {
        // Built at run time so that no secret scanner flags this file.
        let v = &format!("{}{}", "q8Zr2Lx9", "Vt4Wm7Np3Ks6");
        for (lang, line, name) in [
            (Lang::Python, format!("API_KEY = '{v}'"), "API_KEY"),
            (
                Lang::JavaScript,
                format!("const apiSecret = \"{v}\";"),
                "apiSecret",
            ),
            (
                Lang::Json,
                format!("  \"client_secret\": \"{v}\","),
                "client_secret",
            ),
            (Lang::Yaml, format!("  password: {v}"), "password"),
            (
                Lang::Env,
                format!("export GITHUB_TOKEN={v}"),
                "GITHUB_TOKEN",
            ),
            (
                Lang::Rust,
                format!("let api_key: &str = \"{v}\";"),
                "api_key",
            ),
            (Lang::Go, format!("\tToken := \"{v}\""), "Token"),
            (
                Lang::Ruby,
                format!("  'secret_key' => '{v}',"),
                "secret_key",
            ),
            (
                Lang::Python,
                format!("ENV['AUTH_TOKEN'] = \"{v}\""),
                "AUTH_TOKEN",
            ),
        ] {
            assert_eq!(
                generic(lang, &line),
                Some((name.to_owned(), v.len())),
                "{line}"
            );
        }
        // A real (if weak) password is still a committed password.
        assert_eq!(
            generic(Lang::Python, "DB_PASSWORD = 'hunter22'"),
            Some(("DB_PASSWORD".to_owned(), 8))
        );
    }

    #[test]
    fn rules_generic_ignores_non_secrets() {
        let v = format!("{}{}", "q8Zr2Lx9", "Vt4Wm7Np3Ks6");
        for (lang, line) in [
            (Lang::Python, "API_KEY = os.environ['API_KEY']".to_owned()),
            (
                Lang::JavaScript,
                "const token = process.env.TOKEN;".to_owned(),
            ),
            (
                Lang::Rust,
                "let key = std::env::var(\"API_KEY\")?;".to_owned(),
            ),
            (Lang::Python, "password = 'changeme'".to_owned()),
            (Lang::Yaml, "password: ${DB_PASSWORD}".to_owned()),
            (
                Lang::Yaml,
                "token: \"{{ secrets.GITHUB_TOKEN }}\"".to_owned(),
            ),
            (Lang::Python, "SECRET_KEY = '%(secret)s'".to_owned()),
            (Lang::Env, "API_KEY=<your-api-key>".to_owned()),
            (
                Lang::Python,
                "AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'".to_owned(),
            ),
            (Lang::Python, "ACCESS_TOKEN = 'access_token'".to_owned()),
            (Lang::Python, "pad_token = '<pad>'".to_owned()),
            (Lang::Python, format!("if password == '{v}':")),
            (Lang::Python, format!("token = f'Bearer {{{v}}}'")),
            (
                Lang::Json,
                "\"password\": \"Mot de passe oublié\"".to_owned(),
            ),
            (Lang::Python, "api_key = 'xxxxxxxxxxxxxxxxxxxx'".to_owned()),
            (Lang::Python, format!("PRIMARY_KEY = 'Id9K{v}'")),
            (Lang::Python, format!("api_key = '{}' + suffix", &v[..8])),
            (Lang::Python, format!("# api_key = '{v}'")),
            (Lang::Python, format!("token_file = '{v}'")),
            (Lang::Python, "cert_key = 'certs/server.key'".to_owned()),
            (Lang::Python, "max_tokens = 1234567890123456".to_owned()),
        ] {
            assert_eq!(generic(lang, &line), None, "{line}");
        }
    }

    #[test]
    fn rules_entropy() {
        assert!(entropy("aaaa") < 0.01);
        assert!((entropy("abcd") - 2.0).abs() < 1e-9);
    }

    #[test]
    fn rules_placeholder_tokens() {
        assert!(is_placeholder_token("AKIAIOSFODNN7EXAMPLE", 4));
        assert!(is_placeholder_token(
            "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            4
        ));
        assert!(!is_placeholder_token(
            &format!(
                "{}_{}{}",
                "ghp", "q8Zr2Lx9Vt4Wm7Np3Ks6", "Jd1Hf5Gc0Bb8Yy2Uu4"
            ),
            4
        ));
    }

    #[test]
    fn rules_private_key_material() {
        assert!(has_key_material(
            "\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n",
            None
        ));
        assert!(has_key_material(
            "",
            Some("MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM")
        ));
        assert!(has_key_material("\"", Some("  Proc-Type: 4,ENCRYPTED")));
        assert!(!has_key_material("\"", None));
        assert!(!has_key_material(
            "\") {",
            Some("MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM")
        ));
        assert!(!has_key_material("", Some("MIIE...")));
        assert!(!has_key_material("", Some("    return Err(e);")));
    }
}
