//! How good the built-in rules are, measured:
//!
//! - **precision on real code**: the rules run over excerpts of real commits from public
//!   repositories (`tests/fixtures/rules_eval/*.diff`), and every finding must carry a
//!   hand-written label in `tests/fixtures/rules_eval/labels.tsv` (TP: worth a review
//!   comment; FP: not). Precision per rule and overall is printed and must stay above the
//!   floors; a finding without a label fails the test (label it), and so does a true
//!   positive that is no longer reported. How the set was made and how to grow it when a
//!   false positive is reported: `tests/fixtures/rules_eval/README.md`.
//! - **recall on a planted probe**: one positive per documented shape of every rule and
//!   look-alikes that must stay quiet, on crafted new files.
//!
//! `cargo test --test rules_eval -- --nocapture` prints the tables (BENCHMARKS.md keeps
//! the numbers).

use std::collections::{BTreeMap, HashMap, HashSet};

use nectr::config::RulesConfig;
use nectr::diff::parse;
use nectr::review::rules::RuleSet;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rules_eval");

/// Overall precision on the labelled real findings must stay at or above this.
const OVERALL_FLOOR: f64 = 0.80;
/// Every rule with more than `RULE_MIN_FINDINGS` findings must stay at or above this.
const RULE_FLOOR: f64 = 0.60;
const RULE_MIN_FINDINGS: usize = 10;
/// Planted positives caught, at least.
const RECALL_FLOOR: f64 = 0.97;

fn default_set() -> RuleSet {
    RuleSet::new(&RulesConfig::default()).unwrap().0
}

/// One finding on real code: `(repo, commit prefix, path, line, rule)`.
type Key = (String, String, String, u32, String);

struct Label {
    tp: bool,
    reason: String,
}

/// `labels.tsv`: `repo  commit  path  line  rule  TP|FP  reason`, `#` comments.
fn labels() -> HashMap<Key, Label> {
    let text = std::fs::read_to_string(format!("{DIR}/labels.tsv")).expect("labels.tsv");
    let mut out = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        assert!(f.len() >= 6, "labels.tsv:{}: 7 tab-separated fields", i + 1);
        let key = (
            f[0].to_owned(),
            f[1].to_owned(),
            f[2].to_owned(),
            f[3].parse()
                .unwrap_or_else(|_| panic!("labels.tsv:{}: line number", i + 1)),
            f[4].to_owned(),
        );
        let tp = match f[5] {
            "TP" => true,
            "FP" => false,
            v => panic!("labels.tsv:{}: verdict {v:?} is neither TP nor FP", i + 1),
        };
        let reason = f.get(6).unwrap_or(&"").to_string();
        assert!(
            out.insert(key, Label { tp, reason }).is_none(),
            "labels.tsv:{}: duplicate label",
            i + 1
        );
    }
    out
}

/// Every finding of the default rules on the real-code fixtures, with its title.
fn real_findings() -> Vec<(Key, String)> {
    let set = default_set();
    let mut names: Vec<_> = std::fs::read_dir(DIR)
        .expect("fixture dir")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.ends_with(".diff").then_some(name)
        })
        .collect();
    names.sort();
    assert!(!names.is_empty());
    let mut out = Vec::new();
    for name in names {
        let repo = name.trim_end_matches(".diff").replace('+', "/");
        let text = std::fs::read_to_string(format!("{DIR}/{name}")).expect("fixture");
        // Blocks of `commit <sha>` followed by that commit's diff excerpt.
        let mut blocks: Vec<(String, String)> = Vec::new();
        for line in text.split_inclusive('\n') {
            if let Some(sha) = line.strip_prefix("commit ") {
                blocks.push((sha.trim().chars().take(12).collect(), String::new()));
            } else if let Some((_, body)) = blocks.last_mut() {
                body.push_str(line);
            }
        }
        for (commit, body) in blocks {
            let diff = parse(&body).unwrap_or_else(|e| panic!("{name} {commit}: {e}"));
            for file in &diff.files {
                for f in set.check_file(file) {
                    out.push((
                        (repo.clone(), commit.clone(), f.path, f.line, f.rule),
                        f.title,
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn real_code_precision() {
    let labels = labels();
    let found = real_findings();
    let mut per_rule: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut unlabelled = Vec::new();
    // A finding covers its own line and, when aggregated, the lines its title names
    // ("… (5 times in this file: lines 36, 126, …)").
    let mut seen = HashSet::new();
    for (key, title) in &found {
        seen.insert(key.clone());
        if let Some(list) = title
            .rsplit("lines ")
            .next()
            .filter(|_| title.contains("lines "))
        {
            for n in list
                .split(", ")
                .map_while(|w| w.trim_end_matches(')').parse::<u32>().ok())
            {
                let mut k = key.clone();
                k.3 = n;
                seen.insert(k);
            }
        }
    }
    for (key, title) in &found {
        match labels.get(key) {
            Some(l) => {
                let e = per_rule.entry(key.4.clone()).or_default();
                if l.tp {
                    e.0 += 1;
                } else {
                    e.1 += 1;
                }
            }
            None => unlabelled.push(format!(
                "{}\t{}\t{}\t{}\t{}\t??\t{title}",
                key.0, key.1, key.2, key.3, key.4
            )),
        }
    }
    let mut lost_tp = Vec::new();
    let mut silenced_fp: BTreeMap<String, usize> = BTreeMap::new();
    for (key, l) in &labels {
        if seen.contains(key) {
            continue;
        }
        if l.tp {
            lost_tp.push(format!(
                "{}\t{}\t{}\t{}\t{}\t{}",
                key.0, key.1, key.2, key.3, key.4, l.reason
            ));
        } else {
            *silenced_fp.entry(key.4.clone()).or_default() += 1;
        }
    }
    let (tp, fp) = per_rule
        .values()
        .fold((0, 0), |(a, b), (t, f)| (a + t, b + f));
    let pct = |t: usize, f: usize| {
        if t + f == 0 {
            1.0
        } else {
            t as f64 / (t + f) as f64
        }
    };
    println!("rule\tfindings\tTP\tFP\tprecision");
    for (rule, (t, f)) in &per_rule {
        println!("{rule}\t{}\t{t}\t{f}\t{:.0}%", t + f, 100.0 * pct(*t, *f));
    }
    println!(
        "overall\t{}\t{tp}\t{fp}\t{:.1}%",
        tp + fp,
        100.0 * pct(tp, fp)
    );
    println!("labelled false positives no longer reported, by rule: {silenced_fp:?}");
    assert!(
        unlabelled.is_empty(),
        "{} findings on the real-code fixtures have no label; add them to tests/fixtures/rules_eval/labels.tsv with TP or FP and a reason:\n{}",
        unlabelled.len(),
        unlabelled.join("\n")
    );
    assert!(
        lost_tp.is_empty(),
        "true positives no longer reported:\n{}",
        lost_tp.join("\n")
    );
    assert!(
        pct(tp, fp) >= OVERALL_FLOOR,
        "overall precision {:.1}% is below the {:.0}% floor",
        100.0 * pct(tp, fp),
        100.0 * OVERALL_FLOOR
    );
    for (rule, (t, f)) in &per_rule {
        assert!(
            t + f <= RULE_MIN_FINDINGS || pct(*t, *f) >= RULE_FLOOR,
            "`{rule}`: precision {:.0}% over {} findings is below the {:.0}% floor",
            100.0 * pct(*t, *f),
            t + f,
            100.0 * RULE_FLOOR
        );
    }
}

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const BASE32: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const HEX: &str = "0123456789abcdef";
const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// A deterministic pseudo-random string over `alphabet` (secret-shaped values are built
/// at run time so this repository holds nothing a secret scanner would flag).
fn fake(alphabet: &str, len: usize, seed: u64) -> String {
    let chars: Vec<char> = alphabet.chars().collect();
    let mut x = seed ^ 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            chars[((x >> 33) % chars.len() as u64) as usize]
        })
        .collect()
}

fn b64url(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

/// A planted file: its path, its lines, and the rule that must fire (`None`: a look-alike
/// on which nothing may fire).
struct Plant {
    path: String,
    lines: Vec<String>,
    rule: Option<&'static str>,
}

fn p(path: &str, lines: &[&str], rule: Option<&'static str>) -> Plant {
    Plant {
        path: path.to_owned(),
        lines: lines.iter().map(|l| (*l).to_owned()).collect(),
        rule,
    }
}

fn planted() -> Vec<Plant> {
    let s = |seed| fake(ALNUM, 36, seed);
    let jwt = |payload: &str| {
        format!(
            "{}.{}.{}",
            b64url(r#"{"alg":"HS256","typ":"JWT"}"#),
            b64url(payload),
            fake(ALNUM, 43, 77)
        )
    };
    let service_jwt = jwt(r#"{"iss":"acme","role":"service_role","iat":1700000000}"#);
    let anon_jwt = jwt(r#"{"iss":"supabase","role":"anon","iat":1700000000}"#);
    let pem = format!("{}{}", "MIIEowIBAAKCAQEA", fake(B64, 48, 5));
    let owned: Vec<Plant> = vec![
        // Secrets.
        p(
            "app/settings.py",
            &[&format!("GH = \"ghp_{}\"", s(1))],
            Some("secret.github-token"),
        ),
        p(
            "deploy/env.sh",
            &[&format!(
                "export GH=github_pat_{}",
                fake(&format!("{ALNUM}_"), 82, 2)
            )],
            Some("secret.github-token"),
        ),
        p(
            "infra/main.tf",
            &[&format!(
                "  access_key_id = \"AKIA{}\"",
                fake(BASE32, 16, 3)
            )],
            Some("secret.aws-access-key-id"),
        ),
        p(
            "src/notify.js",
            &[&format!(
                "const slack = 'xoxb-{}-{}-{}';",
                fake("0123456789", 12, 4),
                fake("0123456789", 13, 5),
                fake(ALNUM, 24, 6)
            )],
            Some("secret.slack-token"),
        ),
        p(
            "config/alerts.yml",
            &[&format!(
                "webhook: https://hooks.slack.com/services/T{}/B{}/{}",
                fake(BASE32, 8, 7),
                fake(BASE32, 10, 8),
                fake(ALNUM, 24, 9)
            )],
            Some("secret.slack-token"),
        ),
        p(
            "src/billing.rb",
            &[&format!(
                "Stripe.api_key = 'sk_live_{}'",
                fake(ALNUM, 24, 10)
            )],
            Some("secret.stripe-key"),
        ),
        p(
            "web/maps.ts",
            &[&format!(
                "const MAPS = \"AIza{}\";",
                fake(&format!("{ALNUM}-_"), 35, 11)
            )],
            Some("secret.google-api-key"),
        ),
        p(
            "src/client.go",
            &[&format!("\tclientSecret := \"{}\"", fake(ALNUM, 32, 12))],
            Some("secret.generic"),
        ),
        p(
            "deploy/values.yaml",
            &[&format!("  db_password: {}", fake(ALNUM, 24, 13))],
            Some("secret.generic"),
        ),
        p(
            "config/prod.json",
            &[&format!(
                "  \"client_secret\": \"{}\",",
                fake(ALNUM, 32, 14)
            )],
            Some("secret.generic"),
        ),
        p(
            ".env",
            &[&format!("API_SECRET={}", fake(ALNUM, 32, 15))],
            Some("secret.generic"),
        ),
        p(
            "deploy/server.pem",
            &["-----BEGIN RSA PRIVATE KEY-----", &pem],
            Some("secret.private-key"),
        ),
        p(
            ".gitlab/deploy.yml",
            &[&format!("  token: glpat-{}", fake(ALNUM, 20, 16))],
            Some("secret.gitlab-token"),
        ),
        p(
            "scripts/publish.py",
            &[&format!("GITLAB = 'glpat-{}'", fake(ALNUM, 20, 17))],
            Some("secret.gitlab-token"),
        ),
        p(
            ".npmrc",
            &[&format!("//registry.npmjs.org/:_authToken=npm_{}", s(18))],
            Some("secret.npm-token"),
        ),
        p(
            "src/release.js",
            &[&format!("const NPM = \"npm_{}\";", s(19))],
            Some("secret.npm-token"),
        ),
        p(
            ".pypirc",
            &[&format!(
                "password = pypi-AgEIcHlwaS5vcmc{}",
                fake(&format!("{ALNUM}_-"), 60, 20)
            )],
            Some("secret.pypi-token"),
        ),
        p(
            "app/mail.py",
            &[&format!(
                "SENDGRID = \"SG.{}.{}\"",
                fake(ALNUM, 22, 21),
                fake(ALNUM, 43, 22)
            )],
            Some("secret.sendgrid-key"),
        ),
        p(
            "lib/sms.js",
            &[&format!("const key = 'SK{}';", fake(HEX, 32, 23))],
            Some("secret.twilio-key"),
        ),
        p(
            "src/Storage.cs",
            &[&format!(
                "var cs = \"DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={}==;EndpointSuffix=core.windows.net\";",
                fake(B64, 86, 24)
            )],
            Some("secret.azure-key"),
        ),
        p(
            "train.py",
            &[&format!(
                "login(token=\"hf_{}\")",
                fake(
                    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                    34,
                    25
                )
            )],
            Some("secret.huggingface-token"),
        ),
        p(
            "src/api.js",
            &[&format!("const SERVICE_KEY = '{service_jwt}';")],
            Some("secret.jwt"),
        ),
        p(
            "app/settings.py",
            &[&format!(
                "DATABASE_URL = \"postgres://app:{}@db.prod.acme.net:5432/app\"",
                fake(ALNUM, 16, 26)
            )],
            Some("secret.url-credentials"),
        ),
        p(
            "config/queue.yaml",
            &[&format!(
                "broker: amqp://worker:{}@rabbit.internal.acme.io/",
                fake(ALNUM, 14, 27)
            )],
            Some("secret.url-credentials"),
        ),
        p(
            "pkg/client.go",
            &[&format!(
                "\treq.Header.Set(\"Authorization\", \"Bearer {}\")",
                fake(ALNUM, 40, 28)
            )],
            Some("secret.bearer-token"),
        ),
        p(
            "src/fetch.ts",
            &[&format!(
                "headers: {{ Authorization: 'Bearer {}' }},",
                fake(ALNUM, 32, 29)
            )],
            Some("secret.bearer-token"),
        ),
        // Conflict markers.
        p(
            "src/app.py",
            &[
                "<<<<<<< HEAD",
                "x = 1",
                "=======",
                "x = 2",
                ">>>>>>> feature",
            ],
            Some("conflict.marker"),
        ),
        // Debugging leftovers.
        p(
            "src/app.ts",
            &["console.log(user);"],
            Some("debug.console-log"),
        ),
        p(
            "src/view.jsx",
            &["  console.debug('state', state);"],
            Some("debug.console-log"),
        ),
        p("src/x.js", &["  debugger;"], Some("debug.js-debugger")),
        p("src/lib.rs", &["    dbg!(&value);"], Some("debug.rust-dbg")),
        p(
            "app/views.py",
            &["    breakpoint()"],
            Some("debug.python-breakpoint"),
        ),
        p(
            "app/models.py",
            &["import pdb; pdb.set_trace()"],
            Some("debug.python-breakpoint"),
        ),
        p(
            "app/jobs.py",
            &["    import ipdb"],
            Some("debug.python-breakpoint"),
        ),
        p(
            "app/models/user.rb",
            &["    binding.pry"],
            Some("debug.ruby-debugger"),
        ),
        p(
            "app/services/pay.rb",
            &["    byebug"],
            Some("debug.ruby-debugger"),
        ),
        p(
            "src/Controller.php",
            &["    var_dump($order);"],
            Some("debug.php-dump"),
        ),
        p(
            "src/Model.php",
            &["    print_r($row);"],
            Some("debug.php-dump"),
        ),
        // Tests.
        p(
            "src/a.test.js",
            &["it.skip('handles retries', () => {"],
            Some("test.disabled"),
        ),
        p(
            "spec/b.spec.ts",
            &["xit('renders', () => {"],
            Some("test.disabled"),
        ),
        p(
            "tests/test_api.py",
            &["@pytest.mark.skip"],
            Some("test.disabled"),
        ),
        p("tests/parse.rs", &["#[ignore]"], Some("test.disabled")),
        p(
            "pkg/x_test.go",
            &["\tt.Skip(\"broken\")"],
            Some("test.disabled"),
        ),
        p(
            "src/test/java/FooTest.java",
            &["    @Disabled"],
            Some("test.disabled"),
        ),
        p(
            "tests/test_models.py",
            &["@unittest.skip(\"slow\")"],
            Some("test.disabled"),
        ),
        p(
            "src/c.test.js",
            &["it.only('works', () => {"],
            Some("test.focused"),
        ),
        p(
            "src/d.spec.js",
            &["describe.only('api', () => {"],
            Some("test.focused"),
        ),
        p(
            "src/e.test.ts",
            &["fit('focuses', () => {"],
            Some("test.focused"),
        ),
        // Security.
        p(
            "Dockerfile",
            &["RUN curl -fsSL https://get.example.sh | sh"],
            Some("security.curl-pipe-shell"),
        ),
        p(
            "scripts/setup.sh",
            &["bash <(curl -s https://install.example.dev)"],
            Some("security.curl-pipe-shell"),
        ),
        p(
            ".github/workflows/setup.yml",
            &["      - run: wget -qO- https://x.example.dev/i.sh | sudo bash"],
            Some("security.curl-pipe-shell"),
        ),
        p(
            "src/calc.js",
            &["const result = eval(userInput);"],
            Some("security.eval"),
        ),
        p(
            "app/calc.py",
            &["    value = eval(expr)"],
            Some("security.eval"),
        ),
        p(
            "app/plugins.py",
            &["    exec(code, namespace)"],
            Some("security.eval"),
        ),
        p(
            "src/template.js",
            &["const render = new Function('data', body);"],
            Some("security.eval"),
        ),
        p(
            "src/db.js",
            &["const q = \"SELECT * FROM users WHERE id = \" + id;"],
            Some("security.sql-concat"),
        ),
        p(
            "app/db.py",
            &["    cur.execute(f\"SELECT * FROM users WHERE name = '{name}'\")"],
            Some("security.sql-concat"),
        ),
        p(
            "app/repo.py",
            &["    q = f\"SELECT * FROM {table} WHERE id = {uid}\""],
            Some("security.sql-concat"),
        ),
        p(
            "app/old.py",
            &["    cur.execute(\"DELETE FROM jobs WHERE id = '%s'\" % job_id)"],
            Some("security.sql-concat"),
        ),
        p(
            "store/q.go",
            &["\tq := fmt.Sprintf(\"SELECT * FROM users WHERE email = '%s'\", email)"],
            Some("security.sql-concat"),
        ),
        p(
            "src/Users.php",
            &["    $q = \"SELECT * FROM users WHERE id = $id\";"],
            Some("security.sql-concat"),
        ),
        p(
            "app/git.py",
            &["    subprocess.run(f\"git log {ref}\", shell=True)"],
            Some("security.command-injection"),
        ),
        p(
            "app/clean.py",
            &["    os.system(\"rm -rf \" + path)"],
            Some("security.command-injection"),
        ),
        p(
            "app/info.py",
            &["    out = subprocess.check_output(cmd, shell=True)"],
            Some("security.command-injection"),
        ),
        p(
            "src/run.js",
            &["child_process.exec(`git checkout ${branch}`);"],
            Some("security.command-injection"),
        ),
        p(
            "src/list.js",
            &["const out = execSync('ls ' + dir);"],
            Some("security.command-injection"),
        ),
        p(
            "src/Files.php",
            &["    $out = shell_exec(\"ls \" . $dir);"],
            Some("security.command-injection"),
        ),
        p(
            "cmd/run.go",
            &["\tc := exec.Command(\"sh\", \"-c\", script)"],
            Some("security.command-injection"),
        ),
        p(
            "app/fetch.py",
            &["    r = requests.get(url, verify=False)"],
            Some("security.tls-verify-off"),
        ),
        p(
            "pkg/http.go",
            &["\t\tInsecureSkipVerify: true,"],
            Some("security.tls-verify-off"),
        ),
        p(
            "src/https.js",
            &["  rejectUnauthorized: false,"],
            Some("security.tls-verify-off"),
        ),
        p(
            "src/boot.js",
            &["process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';"],
            Some("security.tls-verify-off"),
        ),
        p(
            "src/net.rs",
            &["        .danger_accept_invalid_certs(true)"],
            Some("security.tls-verify-off"),
        ),
        p(
            "app/tls.py",
            &["ctx = ssl._create_unverified_context()"],
            Some("security.tls-verify-off"),
        ),
        p(
            ".github/workflows/triage.yml",
            &["      - run: echo \"${{ github.event.issue.title }}\""],
            Some("security.actions-injection"),
        ),
        p(
            ".github/workflows/pr.yml",
            &[
                "      - name: Greet",
                "        run: |",
                "          echo \"${{ github.event.pull_request.body }}\"",
            ],
            Some("security.actions-injection"),
        ),
        p(
            ".github/workflows/branch.yml",
            &[
                "    steps:",
                "      - run: git push origin ${{ github.head_ref }}",
            ],
            Some("security.actions-injection"),
        ),
        p(
            ".github/workflows/bot.yml",
            &[
                "      - uses: actions/github-script@v7",
                "        with:",
                "          script: |",
                "            const body = `${{ github.event.comment.body }}`",
            ],
            Some("security.actions-injection"),
        ),
        p(
            ".github/workflows/target.yml",
            &[
                "on:",
                "  pull_request_target:",
                "jobs:",
                "  build:",
                "    steps:",
                "      - uses: actions/checkout@v4",
                "        with:",
                "          ref: ${{ github.event.pull_request.head.sha }}",
            ],
            Some("security.pr-target-checkout"),
        ),
        p(
            "app/cache.py",
            &["    obj = pickle.loads(blob)"],
            Some("security.unsafe-deserialization"),
        ),
        p(
            "app/conf.py",
            &["    cfg = yaml.load(f)"],
            Some("security.unsafe-deserialization"),
        ),
        p(
            "app/conf2.py",
            &["    cfg = yaml.load(f, Loader=yaml.Loader)"],
            Some("security.unsafe-deserialization"),
        ),
        p(
            "src/Session.php",
            &["    $data = unserialize($_COOKIE['s']);"],
            Some("security.unsafe-deserialization"),
        ),
        p(
            "lib/cache.rb",
            &["    Marshal.load(payload)"],
            Some("security.unsafe-deserialization"),
        ),
        p(
            "src/render.js",
            &["  el.innerHTML = html;"],
            Some("security.xss-sink"),
        ),
        p(
            "src/Post.jsx",
            &["  <div dangerouslySetInnerHTML={{ __html: post.body }} />"],
            Some("security.xss-sink"),
        ),
        p(
            "src/Bio.vue",
            &["  <div v-html=\"user.bio\"></div>"],
            Some("security.xss-sink"),
        ),
        p(
            "app/views.py",
            &["    return mark_safe(user.bio)"],
            Some("security.xss-sink"),
        ),
        p(
            "src/legacy.js",
            &["document.write(message);"],
            Some("security.xss-sink"),
        ),
        p(
            "src/list.js",
            &["list.insertAdjacentHTML('beforeend', row);"],
            Some("security.xss-sink"),
        ),
        p(
            "src/notes.ts",
            &["  notes.innerHTML += `<li>${note}</li>`;"],
            Some("security.xss-sink"),
        ),
        // New TODOs.
        p(
            "src/retry.ts",
            &["  // TODO: handle retries"],
            Some("todo.added"),
        ),
        p(
            "app/lock.py",
            &["    # FIXME: race with the cleanup job"],
            Some("todo.added"),
        ),
        p(
            "src/main.rs",
            &["    // TODO handle the error"],
            Some("todo.added"),
        ),
        // Look-alikes: nothing may fire.
        p(
            "docs/setup.md",
            &["export GH=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"],
            None,
        ),
        p("src/aws.py", &["KEY = 'AKIAIOSFODNN7EXAMPLE'"], None),
        p(
            "src/pay.js",
            &[&format!("const key = 'sk_test_{}';", fake(ALNUM, 24, 40))],
            None,
        ),
        p(
            "app/settings.py",
            &["DB_PASSWORD = os.environ[\"DB_PASSWORD\"]"],
            None,
        ),
        p("config/app.yml", &["api_key: ${API_KEY}"], None),
        p("src/tok.py", &["pad_token = \"<pad>\""], None),
        p(
            "tests/test_auth.py",
            &[&format!("SECRET_KEY = \"{}\"", fake(ALNUM, 32, 41))],
            None,
        ),
        p(
            ".env.example",
            &[&format!("API_SECRET={}", fake(ALNUM, 32, 42))],
            None,
        ),
        p(
            "docs/.vitepress/config.ts",
            &[
                "    appId: 'BH4D9OD16A',",
                &format!("    apiKey: '{}',", fake(HEX, 32, 43)),
                "    indexName: 'docs',",
            ],
            None,
        ),
        p(
            ".github/workflows/ci.yml",
            &[
                "        env:",
                &format!("          SA_PASSWORD: Forge{}", fake(ALNUM, 8, 44)),
            ],
            None,
        ),
        p(
            "docker-compose.yml",
            &[&format!("      POSTGRES_PASSWORD: {}", fake(ALNUM, 16, 45))],
            None,
        ),
        p(
            "src/lib/sentry-msw.ts",
            &[&format!("  const authToken = '{}';", fake(ALNUM, 40, 46))],
            None,
        ),
        p(
            "app/settings.py",
            &["DATABASE_URL = \"postgres://postgres:postgres@localhost:5432/db\""],
            None,
        ),
        p(
            "app/settings2.py",
            &["DATABASE_URL = f\"postgres://app:{password}@db.prod.acme.net/app\""],
            None,
        ),
        p(
            "config/db.yml",
            &["url: mysql://app:${DB_PASSWORD}@db.prod.acme.net/app"],
            None,
        ),
        p(
            "README.md",
            &[&format!(
                "curl -H 'Authorization: Bearer {service_jwt}' https://api.acme.dev"
            )],
            None,
        ),
        p(
            "src/supabase.ts",
            &[&format!("const anon = '{anon_jwt}';")],
            None,
        ),
        p(
            "src/auth.ts",
            &["headers: { Authorization: `Bearer ${token}` },"],
            None,
        ),
        p(
            "src/auth2.js",
            &["const h = 'Bearer ' + accessToken;"],
            None,
        ),
        p(
            "src/sid.js",
            &[&format!("const account = 'AC{}';", fake(HEX, 32, 47))],
            None,
        ),
        p("bin/cli.js", &["console.log(help);"], None),
        p(
            "src/main.js",
            &["#!/usr/bin/env node", "console.log(result);"],
            None,
        ),
        p(
            "packages/agent-cli-test/src/index.ts",
            &["console.log(`ok ${name}`);"],
            None,
        ),
        p("src/app.test.js", &["console.log(result);"], None),
        p("src/app2.ts", &["console.error(err);"], None),
        p("train.py", &["model.eval()"], None),
        p("app/parse.py", &["value = ast.literal_eval(text)"], None),
        p("app/model.py", &["    def eval(self):"], None),
        p("setup.py", &["exec(open('pkg/version.py').read())"], None),
        p("src/re.js", &["const m = pattern.exec(line);"], None),
        p(
            "app/db2.py",
            &["cur.execute(\"SELECT * FROM users WHERE id = %s\", (uid,))"],
            None,
        ),
        p(
            "app/db3.py",
            &["q = f\"SELECT count(*) FROM {table}\""],
            None,
        ),
        p(
            "src/db2.js",
            &["const rows = await sql`SELECT * FROM users WHERE id = ${id}`;"],
            None,
        ),
        p(
            "src/ui.js",
            &["const msg = \"select a file from the list: \" + name;"],
            None,
        ),
        p(
            "app/git2.py",
            &["subprocess.run([\"git\", \"log\", ref])"],
            None,
        ),
        p(
            "app/build.py",
            &["subprocess.run(\"make all\", shell=True)"],
            None,
        ),
        p("app/term.py", &["os.system(\"clear\")"], None),
        p(
            "cmd/git.go",
            &["\tc := exec.Command(\"git\", \"log\", ref)"],
            None,
        ),
        p("src/safe.js", &["execFile('git', ['log', ref]);"], None),
        p(
            "app/fetch2.py",
            &["r = requests.get(url, verify=True)"],
            None,
        ),
        p(
            "app/fetch3.py",
            &["r = requests.get(url, verify=ca_bundle)"],
            None,
        ),
        p("src/https2.js", &["  rejectUnauthorized: true,"], None),
        p("app/fetch4.py", &["# never pass verify=False here"], None),
        p("pkg/http2.go", &["\t\tInsecureSkipVerify: false,"], None),
        p(
            ".github/workflows/sha.yml",
            &["      - run: echo \"${{ github.sha }}\""],
            None,
        ),
        p(
            ".github/workflows/env.yml",
            &[
                "      - name: Safe",
                "        env:",
                "          TITLE: ${{ github.event.issue.title }}",
                "        run: echo \"$TITLE\"",
            ],
            None,
        ),
        p(
            ".github/workflows/ci2.yml",
            &[
                "on:",
                "  pull_request:",
                "jobs:",
                "  t:",
                "    steps:",
                "      - uses: actions/checkout@v4",
                "        with:",
                "          ref: ${{ github.event.pull_request.head.sha }}",
            ],
            None,
        ),
        p("app/conf3.py", &["cfg = yaml.safe_load(f)"], None),
        p(
            "app/conf4.py",
            &["cfg = yaml.load(f, Loader=yaml.SafeLoader)"],
            None,
        ),
        p(
            "src/S.php",
            &["$d = unserialize($s, ['allowed_classes' => false]);"],
            None,
        ),
        p("app/dump.py", &["blob = pickle.dumps(obj)"], None),
        p("src/clear.js", &["el.innerHTML = '';"], None),
        p("src/static.js", &["el.innerHTML = '<b>static</b>';"], None),
        p("src/text.js", &["el.textContent = html;"], None),
        p(
            "src/clean.js",
            &["el.innerHTML = DOMPurify.sanitize(html);"],
            None,
        ),
        p("app/safe.py", &["br = mark_safe(\"<br>\")"], None),
        p("src/rs.rs", &["    // dbg!(x) was here"], None),
        p("app/dbg.py", &["self.breakpoint()"], None),
        p("Gemfile", &["gem 'byebug'"], None),
        p("src/P.php", &["$s = print_r($x, true);"], None),
        p("README.md", &["Title", "======="], None),
        p(
            "docs/install.md",
            &["curl -fsSL https://get.example.sh | sh"],
            None,
        ),
        p("src/t1.ts", &["// TODO(#123): handle retries"], None),
        p(
            "src/t2.ts",
            &["// TODO: retry, see https://github.com/acme/app/issues/4"],
            None,
        ),
        p(
            "src/t3.ts",
            &["// @ts-expect-error ts-migrate(2339) FIXME: Property 'x' does not exist"],
            None,
        ),
        p("src/t4.ts", &["const label = \"TODO list\";"], None),
        p("src/t5.rs", &["    todo!()"], None),
        p(
            "src/skip.test.js",
            &["// flaky on CI, tracked in #42", "it.skip('works', () => {"],
            None,
        ),
        p(
            "tests/test_os.py",
            &["@pytest.mark.skipif(sys.platform == 'win32', reason='posix only')"],
            None,
        ),
        p(
            "src/gen.ts",
            &[
                "// Code generated by protoc-gen-ts. DO NOT EDIT.",
                "console.log(x); // TODO: remove",
            ],
            None,
        ),
    ];
    owned
}

#[test]
fn planted_probe_recall() {
    let set = default_set();
    let plants = planted();
    let mut caught = 0;
    let mut positives = 0;
    let mut missed = Vec::new();
    let mut flagged = Vec::new();
    let mut per_rule: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (i, plant) in plants.iter().enumerate() {
        // One new file per plant, in its own directory so that plants do not share files.
        let path = format!("p{i}/{}", plant.path);
        let mut d = format!(
            "diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{} @@\n",
            plant.lines.len()
        );
        for l in &plant.lines {
            d.push('+');
            d.push_str(l);
            d.push('\n');
        }
        let diff = parse(&d).expect("planted diff parses");
        let found: Vec<String> = diff
            .files
            .iter()
            .flat_map(|f| set.check_file(f))
            .map(|f| f.rule)
            .collect();
        match plant.rule {
            Some(rule) => {
                positives += 1;
                let e = per_rule.entry(rule).or_default();
                e.1 += 1;
                if found.iter().any(|r| r == rule) {
                    caught += 1;
                    e.0 += 1;
                } else {
                    missed.push(format!(
                        "{rule}: {} {:?} (found {found:?})",
                        plant.path, plant.lines
                    ));
                }
            }
            None if !found.is_empty() => {
                flagged.push(format!("{found:?}: {} {:?}", plant.path, plant.lines))
            }
            None => {}
        }
    }
    let lookalikes = plants.len() - positives;
    let recall = caught as f64 / positives as f64;
    println!("rule\tplanted\tcaught");
    for (rule, (c, n)) in &per_rule {
        println!("{rule}\t{n}\t{c}");
    }
    println!(
        "planted recall {caught}/{positives} = {:.1}%; look-alikes flagged {}/{lookalikes}",
        100.0 * recall,
        flagged.len()
    );
    assert!(
        recall >= RECALL_FLOOR,
        "planted recall {:.1}% below {:.0}%; missed:\n{}",
        100.0 * recall,
        100.0 * RECALL_FLOOR,
        missed.join("\n")
    );
    assert!(
        flagged.is_empty(),
        "look-alikes flagged:\n{}",
        flagged.join("\n")
    );
    // Every built-in rule that is on by default is planted at least once.
    for r in set.rules() {
        assert!(
            per_rule.contains_key(r.id.as_str()),
            "`{}` has no planted positive",
            r.id
        );
    }
}

/// Grows the set: `NECTR_EVAL_SCAN=DIR cargo test --test rules_eval scan -- --ignored
/// --nocapture` prints every finding on the `OWNER+NAME@SHA.diff` files of `DIR` (one
/// commit's diff each, e.g. from `git log -p`) as label lines to judge (see the README).
#[test]
#[ignore = "a tool for growing the labelled set; needs NECTR_EVAL_SCAN"]
fn scan() {
    let Ok(dir) = std::env::var("NECTR_EVAL_SCAN") else {
        panic!("set NECTR_EVAL_SCAN to a directory of OWNER+NAME@SHA.diff files");
    };
    let set = default_set();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("NECTR_EVAL_SCAN directory")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".diff"))
        .collect();
    names.sort();
    for name in names {
        let Some((repo, sha)) = name.trim_end_matches(".diff").split_once('@') else {
            continue;
        };
        let Ok(bytes) = std::fs::read(format!("{dir}/{name}")) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        let Ok(diff) = parse(&text) else {
            eprintln!("{name}: does not parse");
            continue;
        };
        for file in &diff.files {
            for f in set.check_file(file) {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t??\t{}",
                    repo.replace('+', "/"),
                    &sha[..12.min(sha.len())],
                    f.path,
                    f.line,
                    f.rule,
                    f.title
                );
            }
        }
    }
}
