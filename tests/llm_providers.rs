//! The LLM providers (OpenAI-compatible, Azure, Anthropic) against the mock LLM server:
//! request shapes, replies, retries, timeouts, errors, and settings resolution.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nectr::config::LlmConfig;
use nectr::llm::{
    Anthropic, CompletionRequest, LanguageModel, LlmError, LlmSettings, OpenAiCompatible,
    ProviderKind, Trust, Usage, from_settings,
};
use serde_json::json;
use support::mock_llm::{LlmApi, MockLlm, MockReply};

const KEY: &str = "sk-test-0123456789abcdef";

fn env_settings(config: &LlmConfig, pairs: &[(&str, &str)]) -> Result<LlmSettings, String> {
    let env: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    LlmSettings::resolve(config, Trust::Operator, |k| env.get(k).cloned())
        .map_err(|e| e.to_string())
}

/// Settings for `provider` at `base`, with fast retries for tests.
fn settings(provider: &str, base: &str, key: Option<&str>, extra: &[(&str, &str)]) -> LlmSettings {
    let mut pairs = vec![
        ("NECTR_LLM_PROVIDER", provider),
        ("NECTR_LLM_BASE_URL", base),
        ("NECTR_LLM_MODEL", "test-model"),
    ];
    if let Some(k) = key {
        pairs.push(("NECTR_LLM_API_KEY", k));
    }
    pairs.extend_from_slice(extra);
    let mut s = env_settings(&LlmConfig::default(), &pairs).expect("settings");
    s.http.base_delay = Duration::from_millis(20);
    s
}

fn model(s: &LlmSettings) -> Arc<dyn LanguageModel> {
    from_settings(s).expect("provider").expect("not none")
}

/// (provider name, base URL for it) for both APIs.
fn both(mock: &MockLlm) -> [(&'static str, String); 2] {
    [
        ("openai", mock.openai_base()),
        ("anthropic", mock.url.clone()),
    ]
}

fn request(schema: bool) -> CompletionRequest {
    CompletionRequest {
        system: "You review code. Answer with JSON.".into(),
        user: "<diff>+let x = 1;</diff>".into(),
        max_output_tokens: 1234,
        response_schema: schema.then(|| {
            json!({"title": "review", "type": "object", "additionalProperties": false,
                   "properties": {"findings": {"type": "array"}}, "required": ["findings"]})
        }),
    }
}

#[tokio::test]
async fn openai_good_reply_and_request_shape() {
    let mock = MockLlm::start().await;
    mock.push(MockReply::TextWithUsage {
        text: r#"{"findings":[]}"#.into(),
        input_tokens: 11,
        output_tokens: 7,
    });
    let m = model(&settings("openai", &mock.openai_base(), Some(KEY), &[]));
    assert_eq!(m.info().provider, "openai");
    assert_eq!(m.info().model, "test-model");
    let c = m.complete(&request(true)).await.unwrap();
    assert_eq!(c.text, r#"{"findings":[]}"#);
    assert_eq!(
        c.usage,
        Usage {
            input_tokens: 11,
            output_tokens: 7
        }
    );
    assert!(!c.truncated);

    let reqs = mock.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(r.api, LlmApi::OpenAi);
    assert_eq!(r.header("authorization"), Some(&*format!("Bearer {KEY}")));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.model(), Some("test-model"));
    // Not api.openai.com: the widely understood `max_tokens`.
    assert_eq!(r.body["max_tokens"], 1234);
    assert!(r.body.get("max_completion_tokens").is_none());
    assert_eq!(r.body["temperature"], 0);
    let messages = r.body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["role"], "system");
    assert_eq!(messages[0]["content"], "You review code. Answer with JSON.");
    assert_eq!(messages[1]["role"], "user");
    assert_eq!(messages[1]["content"], "<diff>+let x = 1;</diff>");
    assert_eq!(r.body["response_format"]["type"], "json_schema");
    assert_eq!(r.body["response_format"]["json_schema"]["name"], "review");
    assert_eq!(r.body["response_format"]["json_schema"]["strict"], true);
    assert_eq!(
        r.body["response_format"]["json_schema"]["schema"],
        request(true).response_schema.unwrap()
    );
}

#[tokio::test]
async fn openai_without_key_or_schema_sends_neither() {
    let mock = MockLlm::start().await;
    let m = model(&settings("openai", &mock.openai_base(), None, &[]));
    let c = m.complete(&request(false)).await.unwrap();
    assert_eq!(c.text, r#"{"findings":[]}"#);
    assert!(c.usage.input_tokens > 0 && c.usage.output_tokens > 0);
    let r = &mock.requests()[0];
    assert_eq!(r.header("authorization"), None);
    assert!(r.body.get("response_format").is_none());
}

#[tokio::test]
async fn anthropic_good_reply_and_request_shape() {
    let mock = MockLlm::start().await;
    mock.push(MockReply::TextWithUsage {
        text: "hello".into(),
        input_tokens: 20,
        output_tokens: 3,
    });
    let m = model(&settings("anthropic", &mock.url, Some(KEY), &[]));
    assert_eq!(m.info().provider, "anthropic");
    let c = m.complete(&request(true)).await.unwrap();
    assert_eq!(c.text, "hello");
    assert_eq!(
        c.usage,
        Usage {
            input_tokens: 20,
            output_tokens: 3
        }
    );
    assert!(!c.truncated);
    let r = &mock.requests()[0];
    assert_eq!(r.path, "/v1/messages");
    assert_eq!(r.api, LlmApi::Anthropic);
    assert_eq!(r.header("x-api-key"), Some(KEY));
    assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(r.header("authorization"), None);
    assert_eq!(r.model(), Some("test-model"));
    assert_eq!(r.body["max_tokens"], 1234);
    assert_eq!(r.body["system"], "You review code. Answer with JSON.");
    assert_eq!(
        r.body["messages"],
        json!([{"role": "user", "content": "<diff>+let x = 1;</diff>"}])
    );
    assert!(r.body.get("response_format").is_none());
    // Structured output is a forced call of the one reply tool, its schema the caller's.
    assert_eq!(r.body["tools"][0]["name"], "submit_review");
    assert_eq!(r.body["tools"][0]["input_schema"]["title"], "review");
    assert_eq!(
        r.body["tool_choice"],
        json!({"type": "tool", "name": "submit_review"})
    );
}

#[tokio::test]
async fn anthropic_tool_input_is_the_reply_and_tools_are_dropped_where_refused() {
    let mock = MockLlm::start().await;
    mock.push(MockReply::text(r#"{"findings": [{"path": "a.rs"}]}"#));
    let m = model(&settings("anthropic", &mock.url, Some(KEY), &[]));
    let c = m.complete(&request(true)).await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&c.text).unwrap();
    assert_eq!(v, json!({"findings": [{"path": "a.rs"}]}));
    // Without a schema, no tools.
    mock.push(MockReply::text("plain"));
    assert_eq!(m.complete(&request(false)).await.unwrap().text, "plain");
    assert!(mock.requests()[1].body.get("tools").is_none());

    // A proxy without tool use: the call is sent again without them, once, and later
    // calls do not offer them at all.
    let proxy = MockLlm::start().await;
    proxy.reject_tools();
    proxy.set_default(MockReply::text(r#"{"findings": []}"#));
    let m = model(&settings("anthropic", &proxy.url, Some(KEY), &[]));
    assert_eq!(
        m.complete(&request(true)).await.unwrap().text,
        r#"{"findings": []}"#
    );
    m.complete(&request(true)).await.unwrap();
    let sent: Vec<bool> = proxy
        .requests()
        .iter()
        .map(|r| r.body.get("tools").is_some())
        .collect();
    assert_eq!(sent, vec![true, false, false]);
}

#[tokio::test]
async fn anthropic_base_with_v1_is_not_doubled() {
    let mock = MockLlm::start().await;
    let m = model(&settings(
        "anthropic",
        &format!("{}/v1/", mock.url),
        Some(KEY),
        &[],
    ));
    m.complete(&request(false)).await.unwrap();
    assert_eq!(mock.requests()[0].path, "/v1/messages");
}

#[tokio::test]
async fn rate_limit_retry_after_is_honoured() {
    for provider in ["openai", "anthropic"] {
        let mock = MockLlm::start().await;
        let base = if provider == "openai" {
            mock.openai_base()
        } else {
            mock.url.clone()
        };
        mock.script([MockReply::rate_limited("1"), MockReply::text("ok")]);
        let m = model(&settings(provider, &base, Some(KEY), &[]));
        let start = Instant::now();
        let c = m.complete(&request(false)).await.unwrap();
        let elapsed = start.elapsed();
        assert_eq!(c.text, "ok", "{provider}");
        let reqs = mock.requests();
        assert_eq!(reqs.len(), 2, "{provider}");
        assert!(
            elapsed >= Duration::from_millis(950),
            "{provider}: retried after {elapsed:?}"
        );
        let gap = reqs[1].received_at - reqs[0].received_at;
        assert!(gap >= Duration::from_millis(950), "{provider}: gap {gap:?}");
    }
}

#[tokio::test]
async fn retry_after_ms_is_honoured() {
    let mock = MockLlm::start().await;
    mock.script([
        MockReply::Status {
            status: 429,
            message: "slow down".into(),
            retry_after: Some("30".into()),
            retry_after_ms: Some(300),
        },
        MockReply::text("ok"),
    ]);
    let m = model(&settings("openai", &mock.openai_base(), None, &[]));
    let start = Instant::now();
    m.complete(&request(false)).await.unwrap();
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(280), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
}

#[tokio::test]
async fn server_errors_twice_then_success() {
    for provider in ["openai", "anthropic"] {
        let mock = MockLlm::start().await;
        let base = if provider == "openai" {
            mock.openai_base()
        } else {
            mock.url.clone()
        };
        let (first, second) = if provider == "openai" {
            (500, 503)
        } else {
            (529, 500)
        };
        mock.script([
            MockReply::status(first),
            MockReply::status(second),
            MockReply::text("third time"),
        ]);
        let m = model(&settings(provider, &base, Some(KEY), &[]));
        let c = m.complete(&request(false)).await.unwrap();
        assert_eq!(c.text, "third time");
        assert_eq!(mock.request_count(), 3, "{provider}");
    }
}

#[tokio::test]
async fn server_errors_forever_give_up_after_the_cap() {
    for provider in ["openai", "anthropic"] {
        let mock = MockLlm::start().await;
        let base = if provider == "openai" {
            mock.openai_base()
        } else {
            mock.url.clone()
        };
        mock.set_default(MockReply::status_with_message(500, "the server is on fire"));
        let m = model(&settings(provider, &base, Some(KEY), &[]));
        let err = m.complete(&request(false)).await.unwrap_err();
        match &err {
            LlmError::Status {
                status, message, ..
            } => {
                assert_eq!(*status, 500);
                assert!(message.contains("the server is on fire"), "{message}");
                assert!(message.contains("4 attempts"), "{message}");
            }
            other => panic!("{provider}: {other:?}"),
        }
        assert_eq!(mock.request_count(), 4, "{provider}: 1 + 3 retries");
        let text = err.to_string();
        assert!(text.contains("test-model"), "{text}");
        assert!(text.contains(&mock.url), "{text}");
    }
}

#[tokio::test]
async fn max_retries_is_configurable() {
    let mock = MockLlm::start().await;
    mock.set_default(MockReply::status(502));
    let m = model(&settings(
        "openai",
        &mock.openai_base(),
        None,
        &[("NECTR_LLM_MAX_RETRIES", "1")],
    ));
    assert!(matches!(
        m.complete(&request(false)).await,
        Err(LlmError::Status { status: 502, .. })
    ));
    assert_eq!(mock.request_count(), 2);
}

#[tokio::test]
async fn retry_after_beyond_the_cap_fails_at_once() {
    let mock = MockLlm::start().await;
    mock.push(MockReply::rate_limited("3600"));
    let m = model(&settings("openai", &mock.openai_base(), None, &[]));
    let start = Instant::now();
    let err = m.complete(&request(false)).await.unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(
        matches!(&err, LlmError::Status { status: 429, message, .. } if message.contains("3600 s")),
        "{err:?}"
    );
    assert_eq!(mock.request_count(), 1);
}

#[tokio::test]
async fn unauthorized_is_not_retried() {
    for provider in ["openai", "anthropic"] {
        let mock = MockLlm::start().await;
        let base = if provider == "openai" {
            mock.openai_base()
        } else {
            mock.url.clone()
        };
        mock.expect_api_key("the-right-key-123");
        let m = model(&settings(provider, &base, Some(KEY), &[]));
        let err = m.complete(&request(false)).await.unwrap_err();
        assert!(
            matches!(err, LlmError::Unauthorized { status: 401, .. }),
            "{provider}: {err:?}"
        );
        assert_eq!(mock.request_count(), 1, "{provider}");
        let text = err.to_string();
        assert!(text.contains("NECTR_LLM_API_KEY"), "{text}");
        assert!(!text.contains(KEY), "{text}");
    }
    // 403 too.
    let mock = MockLlm::start().await;
    mock.push(MockReply::status(403));
    let m = model(&settings("openai", &mock.openai_base(), Some(KEY), &[]));
    assert!(matches!(
        m.complete(&request(false)).await,
        Err(LlmError::Unauthorized { status: 403, .. })
    ));
    assert_eq!(mock.request_count(), 1);
}

#[tokio::test]
async fn slow_reply_times_out() {
    for provider in ["openai", "anthropic"] {
        let mock = MockLlm::start().await;
        let base = if provider == "openai" {
            mock.openai_base()
        } else {
            mock.url.clone()
        };
        mock.push(MockReply::delayed(
            Duration::from_secs(5),
            MockReply::text("late"),
        ));
        let m = model(&settings(
            provider,
            &base,
            Some(KEY),
            &[("NECTR_LLM_TIMEOUT_SECS", "1")],
        ));
        let start = Instant::now();
        let err = m.complete(&request(false)).await.unwrap_err();
        let elapsed = start.elapsed();
        assert!(
            matches!(err, LlmError::Timeout { secs: 1, .. }),
            "{provider}: {err:?}"
        );
        assert!(elapsed < Duration::from_secs(3), "{provider}: {elapsed:?}");
        // A timed-out call may be running on the server: it is not sent again.
        assert_eq!(mock.request_count(), 1, "{provider}");
    }
}

#[tokio::test]
async fn invalid_json_is_malformed() {
    for provider in ["openai", "anthropic"] {
        let mock = MockLlm::start().await;
        let base = if provider == "openai" {
            mock.openai_base()
        } else {
            mock.url.clone()
        };
        mock.push(MockReply::InvalidJson("{\"choices\": [".into()));
        let m = model(&settings(provider, &base, Some(KEY), &[]));
        let err = m.complete(&request(false)).await.unwrap_err();
        assert!(
            matches!(err, LlmError::Malformed { .. }),
            "{provider}: {err:?}"
        );
        assert_eq!(mock.request_count(), 1);
        // Valid JSON of the wrong shape is malformed too.
        mock.push(MockReply::Raw {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: r#"{"hello":"world"}"#.into(),
        });
        assert!(matches!(
            m.complete(&request(false)).await,
            Err(LlmError::Malformed { .. })
        ));
    }
}

#[tokio::test]
async fn truncated_replies_are_flagged() {
    for provider in ["openai", "anthropic"] {
        let mock = MockLlm::start().await;
        let base = if provider == "openai" {
            mock.openai_base()
        } else {
            mock.url.clone()
        };
        mock.push(MockReply::Truncated("{\"findings\": [{\"pa".into()));
        let m = model(&settings(provider, &base, Some(KEY), &[]));
        let c = m.complete(&request(false)).await.unwrap();
        assert!(c.truncated, "{provider}");
        assert_eq!(c.text, "{\"findings\": [{\"pa");
        assert_eq!(c.usage.output_tokens, 1234);
    }
}

#[tokio::test]
async fn the_key_never_shows() {
    let mock = MockLlm::start().await;
    mock.push(MockReply::status_with_message(
        400,
        format!("Incorrect API key provided: {KEY}. Find yours at …"),
    ));
    let s = settings("openai", &mock.openai_base(), Some(KEY), &[]);
    let m = model(&s);
    let err = m.complete(&request(false)).await.unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(KEY), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");

    let openai = OpenAiCompatible::new(&s).unwrap();
    let debug = format!("{openai:?} {s:?} {:?}", m.info());
    assert!(!debug.contains(KEY), "{debug}");
    assert!(!debug.contains("0123456789abcdef"), "{debug}");

    let a = settings("anthropic", &mock.url, Some(KEY), &[]);
    let debug = format!("{:?} {a:?}", Anthropic::new(&a).unwrap());
    assert!(!debug.contains(KEY), "{debug}");

    let az = settings(
        "openai",
        &mock.url,
        Some(KEY),
        &[("NECTR_LLM_AZURE_DEPLOYMENT", "dep")],
    );
    let debug = format!("{:?}", OpenAiCompatible::new(&az).unwrap());
    assert!(!debug.contains(KEY), "{debug}");
}

#[tokio::test]
async fn json_schema_rejection_falls_back_to_json_object_then_plain() {
    let mock = MockLlm::start().await;
    mock.reject_response_formats(&["json_schema"]);
    let m = model(&settings("openai", &mock.openai_base(), None, &[]));
    let c = m.complete(&request(true)).await.unwrap();
    assert_eq!(c.text, r#"{"findings":[]}"#);
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].response_format_type(), Some("json_schema"));
    assert_eq!(reqs[1].response_format_type(), Some("json_object"));
    // Learnt: the next call goes straight to json_object.
    m.complete(&request(true)).await.unwrap();
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[2].response_format_type(), Some("json_object"));

    let mock = MockLlm::start().await;
    mock.reject_response_formats(&["json_schema", "json_object"]);
    let m = model(&settings("openai", &mock.openai_base(), None, &[]));
    m.complete(&request(true)).await.unwrap();
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[1].response_format_type(), Some("json_object"));
    assert!(reqs[2].body.get("response_format").is_none());

    // The script's explicit rejection works the same way.
    let mock = MockLlm::start().await;
    mock.push(MockReply::RejectJsonSchema);
    let m = model(&settings("openai", &mock.openai_base(), None, &[]));
    m.complete(&request(true)).await.unwrap();
    assert_eq!(mock.request_count(), 2);
}

#[tokio::test]
async fn a_rejected_token_parameter_is_renamed_once() {
    let mock = MockLlm::start().await;
    mock.script([
        MockReply::status_with_message(
            400,
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
        ),
        MockReply::text("ok"),
    ]);
    let m = model(&settings("openai", &mock.openai_base(), None, &[]));
    m.complete(&request(false)).await.unwrap();
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 2);
    assert!(reqs[0].body.get("max_tokens").is_some());
    assert_eq!(reqs[1].body["max_completion_tokens"], 1234);
    assert!(reqs[1].body.get("max_tokens").is_none());

    // An unrelated 400 is final, with the provider's message.
    mock.push(MockReply::status_with_message(
        400,
        "model `nope` not found",
    ));
    let err = m.complete(&request(false)).await.unwrap_err();
    assert!(
        matches!(&err, LlmError::Status { status: 400, message, .. } if message == "model `nope` not found"),
        "{err:?}"
    );
    assert_eq!(mock.request_count(), 3);
}

#[tokio::test]
async fn azure_url_and_headers() {
    let mock = MockLlm::start().await;
    let s = settings(
        "openai",
        &mock.url,
        Some(KEY),
        &[
            ("NECTR_LLM_AZURE_DEPLOYMENT", "review-dep"),
            ("NECTR_LLM_API_VERSION", "2024-10-21"),
        ],
    );
    assert_eq!(
        s.azure.as_ref().map(|a| a.deployment.as_str()),
        Some("review-dep")
    );
    let m = model(&s);
    m.complete(&request(true)).await.unwrap();
    let r = &mock.requests()[0];
    assert_eq!(r.path, "/openai/deployments/review-dep/chat/completions");
    assert_eq!(r.query.as_deref(), Some("api-version=2024-10-21"));
    assert_eq!(
        r.api,
        LlmApi::Azure {
            deployment: "review-dep".into(),
            api_version: Some("2024-10-21".into())
        }
    );
    assert_eq!(r.header("api-key"), Some(KEY));
    assert_eq!(r.header("authorization"), None);
    assert_eq!(r.body["max_completion_tokens"], 1234);
    assert_eq!(r.body["response_format"]["type"], "json_schema");

    // Errors name the model and endpoint, never the query string.
    mock.push(MockReply::status_with_message(404, "DeploymentNotFound"));
    let err = m.complete(&request(false)).await.unwrap_err().to_string();
    assert!(err.contains("test-model"), "{err}");
    assert!(
        err.contains("/openai/deployments/review-dep/chat/completions"),
        "{err}"
    );
    assert!(!err.contains("api-version"), "{err}");
    // The provider's message is kept for the log, but a reply body never reaches the text
    // (which is posted on pull requests): the status only.
    assert!(err.contains("answered HTTP 404"), "{err}");
    assert!(!err.contains("DeploymentNotFound"), "{err}");
    mock.push(MockReply::status_with_message(404, "DeploymentNotFound"));
    assert!(matches!(
        m.complete(&request(false)).await.unwrap_err(),
        LlmError::Status { status: 404, message, .. } if message == "DeploymentNotFound"
    ));
}

#[tokio::test]
async fn connection_refused_is_a_transport_error_after_retries() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let m = model(&settings(
        "openai",
        &format!("http://127.0.0.1:{port}/v1"),
        Some(KEY),
        &[],
    ));
    let err = m.complete(&request(false)).await.unwrap_err();
    assert!(matches!(err, LlmError::Transport { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("test-model"), "{text}");
    assert!(!text.contains(KEY), "{text}");
}

#[tokio::test]
async fn responder_answers_from_the_prompt() {
    let mock = MockLlm::start().await;
    mock.respond_with(|r| {
        let user = r.user().unwrap_or_default();
        MockReply::text(format!(
            "saw {} chars, system={}",
            user.len(),
            r.system().is_some()
        ))
    });
    for (provider, base) in both(&mock) {
        let m = model(&settings(provider, &base, Some(KEY), &[]));
        let c = m.complete(&request(false)).await.unwrap();
        assert_eq!(c.text, "saw 24 chars, system=true", "{provider}");
    }
}

// ---------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------

fn yaml(s: &str) -> LlmConfig {
    serde_yaml::from_str(s).expect("yaml")
}

#[test]
fn none_or_unset_builds_nothing() {
    for pairs in [
        vec![],
        vec![("NECTR_LLM_PROVIDER", "none")],
        vec![("NECTR_LLM_PROVIDER", "")],
    ] {
        let s = env_settings(&LlmConfig::default(), &pairs).unwrap();
        assert_eq!(s.provider, ProviderKind::None);
        assert!(from_settings(&s).unwrap().is_none());
    }
    // The environment can turn off what the file turns on.
    let s = env_settings(&yaml("provider: openai"), &[("NECTR_LLM_PROVIDER", "none")]).unwrap();
    assert!(from_settings(&s).unwrap().is_none());
}

#[test]
fn env_beats_file() {
    let file = yaml(
        "provider: anthropic\nmodel: claude-from-file\nbase_url: http://file.example/\ncontext_window: 1000\ntimeout_secs: 9\n",
    );
    let s = env_settings(&file, &[]).unwrap();
    assert_eq!(s.provider, ProviderKind::Anthropic);
    assert_eq!(s.model, "claude-from-file");
    assert_eq!(s.base_url, "http://file.example");
    assert_eq!(s.context_window, 1000);
    assert_eq!(s.http.timeout, Duration::from_secs(9));

    let s = env_settings(
        &file,
        &[
            ("NECTR_LLM_PROVIDER", "openai"),
            ("NECTR_LLM_MODEL", "gpt-4.1-mini"),
            ("NECTR_LLM_BASE_URL", "http://localhost:11434/v1"),
            ("NECTR_LLM_TIMEOUT_SECS", "30"),
            ("NECTR_LLM_CONTEXT_WINDOW", "4096"),
        ],
    )
    .unwrap();
    assert_eq!(s.provider, ProviderKind::OpenAi);
    assert_eq!(s.model, "gpt-4.1-mini");
    assert_eq!(s.base_url, "http://localhost:11434/v1");
    assert_eq!(s.context_window, 4096);
    assert_eq!(s.http.timeout, Duration::from_secs(30));
    assert!(s.api_key.is_none());
    // A local server needs no key.
    assert!(from_settings(&s).unwrap().is_some());
}

#[test]
fn the_key_comes_only_from_the_environment() {
    let file =
        yaml("provider: openai\nbase_url: http://localhost:8000/v1\napi_key: sk-in-the-file-999\n");
    let s = env_settings(&file, &[]).unwrap();
    assert!(s.api_key.is_none());
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
    assert!(s.warnings[0].contains("NECTR_LLM_API_KEY"));
    assert!(!s.warnings[0].contains("sk-in-the-file-999"));
    assert!(!format!("{file:?} {s:?}").contains("sk-in-the-file-999"));

    let s = env_settings(&file, &[("NECTR_LLM_API_KEY", KEY)]).unwrap();
    assert_eq!(s.api_key.as_ref().map(|k| k.expose()), Some(KEY));
}

#[test]
fn unknown_provider_names_the_valid_ones() {
    let err = env_settings(&LlmConfig::default(), &[("NECTR_LLM_PROVIDER", "gemini")]).unwrap_err();
    assert!(err.contains("gemini"), "{err}");
    assert!(err.contains("NECTR_LLM_PROVIDER"), "{err}");
    for valid in ["none", "openai", "anthropic"] {
        assert!(err.contains(valid), "{err}");
    }
    let err = env_settings(&yaml("provider: bard"), &[]).unwrap_err();
    assert!(err.contains("llm.provider"), "{err}");
}

#[test]
fn official_apis_need_a_key() {
    let err = env_settings(&yaml("provider: openai"), &[]).unwrap_err();
    assert!(err.contains("NECTR_LLM_API_KEY"), "{err}");
    let err = env_settings(&yaml("provider: anthropic"), &[]).unwrap_err();
    assert!(err.contains("NECTR_LLM_API_KEY"), "{err}");
    let err = env_settings(
        &yaml("provider: openai\nbase_url: https://myres.openai.azure.com"),
        &[],
    )
    .unwrap_err();
    assert!(err.contains("Azure"), "{err}");
}

#[test]
fn defaults_per_provider() {
    let s = env_settings(&yaml("provider: openai"), &[("NECTR_LLM_API_KEY", KEY)]).unwrap();
    assert_eq!(s.model, "gpt-4o-mini");
    assert_eq!(s.base_url, "https://api.openai.com/v1");
    assert_eq!(s.context_window, 128_000);
    assert_eq!(s.http.timeout, Duration::from_secs(120));
    assert_eq!(s.http.max_retries, 3);
    assert_eq!(s.http.max_wait, Duration::from_secs(60));
    assert!(s.azure.is_none());
    let m = from_settings(&s).unwrap().unwrap();
    assert_eq!(m.info().endpoint, "https://api.openai.com/v1");

    let s = env_settings(&yaml("provider: anthropic"), &[("NECTR_LLM_API_KEY", KEY)]).unwrap();
    assert!(s.model.starts_with("claude"), "{}", s.model);
    assert_eq!(s.base_url, "https://api.anthropic.com");
    assert_eq!(s.context_window, 200_000);

    let s = env_settings(
        &yaml("provider: openai\nmodel: gpt-4o"),
        &[
            ("NECTR_LLM_API_KEY", KEY),
            ("NECTR_LLM_BASE_URL", "https://myres.openai.azure.com/"),
        ],
    )
    .unwrap();
    let azure = s.azure.expect("azure by host");
    assert_eq!(azure.deployment, "gpt-4o");
    assert_eq!(azure.api_version, "2024-10-21");

    let s = env_settings(&yaml("provider: ollama\nmodel: llama3.1"), &[]).unwrap();
    assert_eq!(s.provider, ProviderKind::OpenAi);
    assert_eq!(s.base_url, "http://localhost:11434/v1");
    assert_eq!(s.context_window, 128_000);
}

#[test]
fn context_windows() {
    use nectr::llm::settings::context_window_for;
    assert_eq!(context_window_for("gpt-4o-mini"), 128_000);
    assert_eq!(context_window_for("gpt-4o"), 128_000);
    assert_eq!(context_window_for("gpt-4.1"), 1_047_576);
    assert_eq!(context_window_for("openai/gpt-4.1-nano"), 1_047_576);
    assert_eq!(context_window_for("claude-3-5-haiku-latest"), 200_000);
    assert_eq!(context_window_for("anthropic/claude-sonnet-4"), 200_000);
    assert_eq!(context_window_for("some-local-model"), 32_768);
}

#[test]
fn bad_values_are_input_errors() {
    let err = env_settings(
        &LlmConfig::default(),
        &[
            ("NECTR_LLM_PROVIDER", "openai"),
            ("NECTR_LLM_BASE_URL", "http://localhost:1/v1"),
            ("NECTR_LLM_TIMEOUT_SECS", "soon"),
        ],
    )
    .unwrap_err();
    assert!(err.contains("NECTR_LLM_TIMEOUT_SECS"), "{err}");
    let err = env_settings(
        &LlmConfig::default(),
        &[
            ("NECTR_LLM_PROVIDER", "openai"),
            ("NECTR_LLM_BASE_URL", "localhost:11434?token=abc"),
        ],
    )
    .unwrap_err();
    assert!(err.contains("base URL"), "{err}");
    assert!(!err.contains("token=abc"), "{err}");
}

#[test]
fn a_repo_file_cannot_send_the_key_elsewhere() {
    // The file (which a pull request can edit) names its own server; the key is in the env.
    let config = LlmConfig {
        provider: Some("openai".into()),
        base_url: Some("https://attacker.example/v1".into()),
        ..LlmConfig::default()
    };
    let s = env_settings(&config, &[("NECTR_LLM_API_KEY", KEY)]).unwrap();
    assert_eq!(s.base_url, "https://api.openai.com/v1");
    assert!(
        s.warnings.iter().any(|w| w.contains("llm.base_url")),
        "{:?}",
        s.warnings
    );
    // Without a key (a local server) the file's base URL is used.
    let s = env_settings(&config, &[]).unwrap();
    assert_eq!(s.base_url, "https://attacker.example/v1");
    // The operator's own NECTR_LLM_BASE_URL is always used.
    let s = env_settings(
        &config,
        &[
            ("NECTR_LLM_API_KEY", KEY),
            ("NECTR_LLM_BASE_URL", "https://proxy.internal/v1"),
        ],
    )
    .unwrap();
    assert_eq!(s.base_url, "https://proxy.internal/v1");
}
