//! What an AI review cost, estimated for the summary's footer: the tokens the provider
//! reported times a price per million tokens.
//!
//! Where the price comes from, in order:
//! 1. the operator's [`PRICE_VAR`] (`NECTR_LLM_PRICE`): `INPUT,OUTPUT` in USD per million
//!    tokens for whatever model runs, or `MODEL=INPUT,OUTPUT` entries separated by `;` (a
//!    named entry wins over an unnamed one). Only the environment sets it — never
//!    `.nectr.yml`, which under `nectr serve` is a tenant's file;
//! 2. GitHub Models (provider `github`): no price, the usage is part of the GitHub plan
//!    ([`Cost::GitHubPlan`]);
//! 3. the built-in table of list prices ([`LIST_PRICES`], as of [`LIST_PRICES_AS_OF`]),
//!    only for the vendor's own endpoint (`api.openai.com`, `api.anthropic.com`: Azure,
//!    OpenRouter or a local server charge differently or nothing) and only for a model
//!    name the table knows exactly, or the same name with a dated snapshot suffix;
//! 4. otherwise no cost at all: a missing number is better than a wrong one.
//!
//! The estimate ignores discounts Nectr does not see (prompt caching, batch, negotiated
//! rates) and the long-context surcharge some models have above 200k prompt tokens.

use super::{ModelInfo, Usage};
use crate::error::InputError;

/// The operator's prices (see the module docs).
pub const PRICE_VAR: &str = "NECTR_LLM_PRICE";

/// When the built-in list prices were last checked against the vendors' pricing pages.
pub const LIST_PRICES_AS_OF: &str = "2025-11";

/// USD per million tokens.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Price {
    pub input: f64,
    pub output: f64,
}

impl Price {
    /// The cost of `usage`, in USD.
    pub fn of(&self, usage: Usage) -> f64 {
        (usage.input_tokens as f64 * self.input + usage.output_tokens as f64 * self.output)
            / 1_000_000.0
    }
}

/// Where a price came from.
#[derive(Clone, Debug, PartialEq)]
pub enum Basis {
    /// The built-in list price of this vendor (`OpenAI`, `Anthropic`).
    ListPrice { vendor: &'static str },
    /// The operator's [`PRICE_VAR`].
    Operator,
}

/// The estimated cost of a review's model calls.
#[derive(Clone, Debug, PartialEq)]
pub enum Cost {
    Usd {
        dollars: f64,
        basis: Basis,
    },
    /// GitHub Models: usage counts against the GitHub plan (its free tier), not a bill
    /// per token Nectr could estimate.
    GitHubPlan,
}

impl Cost {
    /// The amount in USD, when there is one.
    pub fn dollars(&self) -> Option<f64> {
        match self {
            Cost::Usd { dollars, .. } => Some(*dollars),
            Cost::GitHubPlan => None,
        }
    }

    /// For the summary's footer: `about $0.04 at OpenAI's list prices of 2025-11`.
    pub fn describe(&self) -> String {
        match self {
            Cost::GitHubPlan => {
                "no per-token cost: GitHub Models usage is included in the GitHub plan (its free tier)".to_owned()
            }
            Cost::Usd { dollars, basis } => {
                let amount = format_usd(*dollars);
                match basis {
                    Basis::ListPrice { vendor } => format!(
                        "estimated cost {amount} at {vendor}'s list prices of {LIST_PRICES_AS_OF}"
                    ),
                    Basis::Operator => {
                        format!("estimated cost {amount} at the operator's prices")
                    }
                }
            }
        }
    }
}

/// `$1.23`, `$0.04`, `under $0.01`, `$0.00`.
pub fn format_usd(dollars: f64) -> String {
    if dollars <= 0.0 {
        "$0.00".to_owned()
    } else if dollars < 0.005 {
        "under $0.01".to_owned()
    } else {
        format!("${dollars:.2}")
    }
}

/// Built-in list prices (USD per million input / output tokens, standard tier), as of
/// [`LIST_PRICES_AS_OF`]. Names are matched exactly, or with a dated snapshot suffix
/// (`-2024-08-06`, `-20250514`) or `-latest` — never by prefix, so `gpt-4o-mini` is not
/// `gpt-4o` and `o3-pro` is not `o3`. Keep this the one place prices live.
pub const LIST_PRICES: &[(&str, &[&str], f64, f64)] = &[
    // OpenAI (its published API pricing, standard tier).
    ("OpenAI", &["gpt-4o"], 2.50, 10.00),
    ("OpenAI", &["gpt-4o-mini"], 0.15, 0.60),
    ("OpenAI", &["gpt-4.1"], 2.00, 8.00),
    ("OpenAI", &["gpt-4.1-mini"], 0.40, 1.60),
    ("OpenAI", &["gpt-4.1-nano"], 0.10, 0.40),
    // o3's price since its June 2025 reduction.
    ("OpenAI", &["o3"], 2.00, 8.00),
    ("OpenAI", &["o3-mini", "o4-mini"], 1.10, 4.40),
    // Anthropic (its published API pricing).
    (
        "Anthropic",
        &[
            "claude-opus-4-1",
            "claude-opus-4-0",
            "claude-opus-4",
            "claude-3-opus",
        ],
        15.00,
        75.00,
    ),
    ("Anthropic", &["claude-opus-4-5"], 5.00, 25.00),
    (
        "Anthropic",
        &[
            "claude-sonnet-4-5",
            "claude-sonnet-4-0",
            "claude-sonnet-4",
            "claude-3-7-sonnet",
            "claude-3-5-sonnet",
        ],
        3.00,
        15.00,
    ),
    ("Anthropic", &["claude-haiku-4-5"], 1.00, 5.00),
    ("Anthropic", &["claude-3-5-haiku"], 0.80, 4.00),
    ("Anthropic", &["claude-3-haiku"], 0.25, 1.25),
];

/// Snapshots whose price differs from their family's name in [`LIST_PRICES`]: not priced.
const UNPRICED_SNAPSHOTS: &[&str] = &["gpt-4o-2024-05-13"];

/// `rest` is a snapshot suffix: `-YYYY-MM-DD`, `-YYYYMMDD` or `-latest`.
fn is_snapshot_suffix(rest: &str) -> bool {
    let Some(rest) = rest.strip_prefix('-') else {
        return false;
    };
    if rest == "latest" {
        return true;
    }
    let b = rest.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    match b.len() {
        8 => digits(b),
        10 => {
            digits(&b[..4]) && b[4] == b'-' && digits(&b[5..7]) && b[7] == b'-' && digits(&b[8..])
        }
        _ => false,
    }
}

/// The built-in list price of `model` at `vendor`'s own endpoint.
pub fn list_price(vendor: &str, model: &str) -> Option<Price> {
    let model = model.trim().to_ascii_lowercase();
    if UNPRICED_SNAPSHOTS.contains(&model.as_str()) {
        return None;
    }
    LIST_PRICES
        .iter()
        .filter(|(v, ..)| *v == vendor)
        .find(|(_, names, ..)| {
            names.iter().any(|name| {
                model == *name || model.strip_prefix(name).is_some_and(is_snapshot_suffix)
            })
        })
        .map(|&(_, _, input, output)| Price { input, output })
}

fn parse_pair(text: &str) -> Option<Price> {
    let (input, output) = text.split_once(',')?;
    let number = |s: &str| {
        s.trim()
            .trim_start_matches('$')
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n >= 0.0)
    };
    Some(Price {
        input: number(input)?,
        output: number(output)?,
    })
}

/// The operator's price for `model` from the value of [`PRICE_VAR`]: `Ok(None)` when the
/// value names other models only.
pub fn operator_price(value: &str, model: &str) -> Result<Option<Price>, InputError> {
    let bad = |entry: &str| {
        InputError(format!(
            "{PRICE_VAR}: `{}` is not a price; write USD per million input and output tokens, e.g. `{PRICE_VAR}=2.5,10` or `{PRICE_VAR}=\"gpt-4o=2.5,10;my-model=0.5,1.5\"`, or unset it",
            entry.trim()
        ))
    };
    let mut any = None;
    let mut named = None;
    for entry in value.split(';').filter(|e| !e.trim().is_empty()) {
        match entry.split_once('=') {
            Some((name, pair)) => {
                let price = parse_pair(pair).ok_or_else(|| bad(entry))?;
                if name.trim().eq_ignore_ascii_case(model.trim()) {
                    named = Some(price);
                }
            }
            None => any = Some(parse_pair(entry).ok_or_else(|| bad(entry))?),
        }
    }
    Ok(named.or(any))
}

/// Check [`PRICE_VAR`] at start, so a typo is an error before any model is called.
pub fn check_env(env: impl Fn(&str) -> Option<String>) -> Result<(), InputError> {
    match env(PRICE_VAR).filter(|v| !v.trim().is_empty()) {
        Some(value) => operator_price(&value, "").map(|_| ()),
        None => Ok(()),
    }
}

/// The host of a base URL, lowercased.
fn host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit('@').next().unwrap_or_default();
    authority
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// The estimated cost of `usage` on the model `info` describes (see the module docs for
/// the order); `env` is the operator's environment.
pub fn estimate(
    info: &ModelInfo,
    usage: Usage,
    env: impl Fn(&str) -> Option<String>,
) -> Option<Cost> {
    if let Some(value) = env(PRICE_VAR).filter(|v| !v.trim().is_empty())
        && let Ok(Some(price)) = operator_price(&value, &info.model)
    {
        return Some(Cost::Usd {
            dollars: price.of(usage),
            basis: Basis::Operator,
        });
    }
    let vendor = match (info.provider, host(&info.endpoint).as_str()) {
        ("github", _) => return Some(Cost::GitHubPlan),
        ("openai", "api.openai.com") => "OpenAI",
        ("anthropic", "api.anthropic.com") => "Anthropic",
        _ => return None,
    };
    let price = list_price(vendor, &info.model)?;
    Some(Cost::Usd {
        dollars: price.of(usage),
        basis: Basis::ListPrice { vendor },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(provider: &'static str, model: &str, endpoint: &str) -> ModelInfo {
        ModelInfo {
            provider,
            model: model.into(),
            endpoint: endpoint.into(),
            context_window: 128_000,
            limits: Default::default(),
        }
    }

    const MILLION: Usage = Usage {
        input_tokens: 1_000_000,
        output_tokens: 1_000_000,
    };

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn near(got: Option<f64>, want: f64) -> bool {
        got.is_some_and(|g| (g - want).abs() < 1e-9)
    }

    #[test]
    fn known_models_at_the_vendors_endpoints() {
        let openai = "https://api.openai.com/v1";
        let usd = |i: ModelInfo| {
            let got = estimate(&i, MILLION, no_env).and_then(|c| c.dollars());
            // Cents are enough for the comparison.
            got.map(|d| (d * 100.0).round() / 100.0)
        };
        assert_eq!(usd(info("openai", "gpt-4o-mini", openai)), Some(0.75));
        assert_eq!(usd(info("openai", "gpt-4o", openai)), Some(12.5));
        assert_eq!(usd(info("openai", "gpt-4o-2024-08-06", openai)), Some(12.5));
        assert_eq!(usd(info("openai", "GPT-4.1-mini", openai)), Some(2.0));
        assert_eq!(usd(info("openai", "o4-mini-2025-04-16", openai)), Some(5.5));
        let anthropic = "https://api.anthropic.com";
        assert_eq!(
            usd(info("anthropic", "claude-3-5-haiku-latest", anthropic)),
            Some(4.8)
        );
        assert_eq!(
            usd(info("anthropic", "claude-sonnet-4-20250514", anthropic)),
            Some(18.0)
        );
        assert_eq!(
            usd(info("anthropic", "claude-opus-4-1-20250805", anthropic)),
            Some(90.0)
        );
        assert_eq!(
            usd(info("anthropic", "claude-opus-4-5", anthropic)),
            Some(30.0)
        );
    }

    #[test]
    fn no_number_rather_than_a_wrong_one() {
        let openai = "https://api.openai.com/v1";
        for model in [
            "gpt-4o-2024-05-13",
            "o3-pro",
            "gpt-4o-mini-search-preview",
            "gpt-4.1-mini-ft",
            "gpt-5",
            "mock-model",
            "o3-mini-high",
        ] {
            assert_eq!(
                estimate(&info("openai", model, openai), MILLION, no_env),
                None,
                "{model}"
            );
        }
        // The right name at someone else's endpoint: their prices, not OpenAI's.
        for endpoint in [
            "https://openrouter.ai/api/v1",
            "https://acme.openai.azure.com",
            "http://localhost:11434/v1",
            "https://api.openai.com.evil.example/v1",
        ] {
            assert_eq!(
                estimate(&info("openai", "gpt-4o-mini", endpoint), MILLION, no_env),
                None,
                "{endpoint}"
            );
        }
        assert_eq!(
            estimate(
                &info(
                    "anthropic",
                    "claude-3-5-haiku-latest",
                    "https://proxy.example"
                ),
                MILLION,
                no_env
            ),
            None
        );
    }

    #[test]
    fn github_models_is_part_of_the_plan() {
        let cost = estimate(
            &info("github", "openai/gpt-4.1-mini", "https://models.github.ai"),
            MILLION,
            no_env,
        );
        assert_eq!(cost, Some(Cost::GitHubPlan));
        assert!(cost.unwrap().describe().contains("GitHub plan"));
    }

    #[test]
    fn the_operator_price_wins_and_may_name_models() {
        let local = info("openai", "llama3", "http://localhost:11434/v1");
        let env = |v: &'static str| move |k: &str| (k == PRICE_VAR).then(|| v.to_owned());
        let cost = estimate(&local, MILLION, env("0.5, 1.5")).unwrap();
        assert_eq!(
            cost,
            Cost::Usd {
                dollars: 2.0,
                basis: Basis::Operator
            }
        );
        assert!(
            cost.describe().contains("operator's prices"),
            "{}",
            cost.describe()
        );
        // A named entry for another model does not price this one …
        assert_eq!(estimate(&local, MILLION, env("gpt-4o=1,2")), None);
        // … and a named entry wins over the unnamed one.
        let named = estimate(&local, MILLION, env("1,1;llama3=0.1,0.2"));
        assert!(near(named.and_then(|c| c.dollars()), 0.3));
        // Over a list price too, and over GitHub Models.
        let gh = info("github", "openai/gpt-4.1", "https://models.github.ai");
        assert!(near(
            estimate(&gh, MILLION, env("2,8")).and_then(|c| c.dollars()),
            10.0
        ));
    }

    #[test]
    fn malformed_operator_prices_are_refused_with_the_fix() {
        for bad in ["2.5", "a,b", "-1,2", "2,NaN", "gpt-4o=", "1,2,3"] {
            let err = operator_price(bad, "gpt-4o").unwrap_err().to_string();
            assert!(
                err.contains("NECTR_LLM_PRICE") && err.contains("e.g."),
                "{bad}: {err}"
            );
        }
        assert!(check_env(|_| Some("2.5,10".into())).is_ok());
        assert!(check_env(|_| Some("ten,20".into())).is_err());
        assert!(check_env(|_| None).is_ok());
    }

    #[test]
    fn amounts_read_plainly() {
        assert_eq!(format_usd(0.0), "$0.00");
        assert_eq!(format_usd(0.0004), "under $0.01");
        assert_eq!(format_usd(0.041), "$0.04");
        assert_eq!(format_usd(12.5), "$12.50");
        let cost = Cost::Usd {
            dollars: 0.041,
            basis: Basis::ListPrice { vendor: "OpenAI" },
        };
        assert_eq!(
            cost.describe(),
            format!("estimated cost $0.04 at OpenAI's list prices of {LIST_PRICES_AS_OF}")
        );
    }
}
