//! `nectr rotate-keys`: re-encrypt every stored OAuth token and webhook secret under the
//! newest key of `NECTR_ENCRYPTION_KEY` (see [`crate::rotation`] for how).

use std::str::FromStr;

use anyhow::Result;
use clap::Args;

use crate::crypto::Keyring;
use crate::error::InputError;
use crate::rotation::{self, Rotation, Tally};
use crate::store::{self, DEFAULT_DATABASE_URL};

#[derive(Debug, Args)]
#[command(after_long_help = "\
Rotating keys: put a new key (`nectr keygen`) first in NECTR_ENCRYPTION_KEY and keep the old \
one after it (NECTR_ENCRYPTION_KEY=NEW,OLD), restart the servers, run `nectr rotate-keys`, \
then drop the old key once it reports nothing undecryptable.

Safe while `nectr serve` runs: a secret that changes while it runs (a user signs in again) is \
left as it is and counted as skipped.

Exit codes: 0 done; 2 no key, a bad key, an unusable database, or a secret no key can read \
(each is listed with its row id and what to do).")]
pub struct RotateKeysArgs {
    /// `sqlite://PATH` or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true)]
    database_url: String,
    /// Count what would be re-encrypted; write nothing.
    #[arg(long)]
    dry_run: bool,
}

pub fn run(args: RotateKeysArgs) -> Result<u8> {
    let keys = Keyring::from_env().map_err(|e| {
        InputError(format!(
            "`nectr rotate-keys` re-encrypts stored secrets under the newest key and needs the keys: {e}"
        ))
    })?;
    refuse_missing_sqlite_file(&args.database_url)?;
    let rotation = super::runtime()?.block_on(async {
        crate::github::transport::install_crypto_provider();
        let store = store::connect(&args.database_url).await?;
        let planned = rotation::plan(&*store, &keys).await;
        let done = match planned {
            Ok(plan) if args.dry_run => Ok(plan),
            Ok(plan) => rotation::apply(&*store, plan, unix_now()).await,
            Err(e) => Err(e),
        };
        store.close().await;
        anyhow::Ok(done?)
    })?;
    super::print_stdout(&render(&rotation, keys.len(), args.dry_run))?;

    let undecryptable = rotation.undecryptable().count();
    let skipped = rotation.tokens.skipped + rotation.secrets.skipped;
    if skipped > 0 {
        eprintln!(
            "nectr: {skipped} secret{} changed while rotating and {} left as {}: run `nectr rotate-keys` again to check {}",
            plural(skipped),
            if skipped == 1 { "was" } else { "were" },
            if skipped == 1 { "it was" } else { "they were" },
            if skipped == 1 { "it" } else { "them" },
        );
    }
    if undecryptable > 0 {
        return Err(InputError(format!(
            "{undecryptable} stored secret{} cannot be decrypted with NECTR_ENCRYPTION_KEY (listed above with what to do); keep the old key until they are fixed",
            plural(undecryptable)
        ))
        .into());
    }
    Ok(0)
}

/// `sqlite://PATH` names a file that must exist: connecting would create an empty database
/// and report nothing to rotate, which hides a wrong path.
fn refuse_missing_sqlite_file(url: &str) -> Result<()> {
    let url = url.trim();
    let Some((scheme, rest)) = url.split_once(':') else {
        return Ok(());
    };
    if !scheme.eq_ignore_ascii_case("sqlite")
        || url.contains(":memory:")
        || url.contains("mode=memory")
    {
        return Ok(());
    }
    let Ok(options) = sqlx::sqlite::SqliteConnectOptions::from_str(&format!("sqlite:{rest}"))
    else {
        return Ok(()); // `store::connect` reports the malformed URL.
    };
    let path = options.get_filename();
    if !path.as_os_str().is_empty() && !path.exists() {
        return Err(InputError(format!(
            "there is no database at {}: set DATABASE_URL (or --database-url) to the database `nectr serve` uses",
            path.display()
        ))
        .into());
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn render(rotation: &Rotation, keys: usize, dry_run: bool) -> String {
    let line = |what: &str, t: &Tally| {
        let (done, skipped) = if dry_run {
            (format!("{} to re-encrypt", t.reencrypted), String::new())
        } else {
            (
                format!("{} re-encrypted", t.reencrypted),
                format!(", {} changed concurrently (skipped)", t.skipped),
            )
        };
        format!(
            "{what}: {done}, {} already current{skipped}, {} undecryptable\n",
            t.current,
            t.undecryptable.len()
        )
    };
    let mut out = String::new();
    if dry_run {
        out.push_str("dry run: nothing was written\n");
    }
    out.push_str(&line("user tokens", &rotation.tokens));
    out.push_str(&line("webhook secrets", &rotation.secrets));
    for bad in rotation.undecryptable() {
        out.push_str(&format!("undecryptable: {bad}\n"));
    }
    if keys == 1 && rotation.undecryptable().next().is_some() {
        out.push_str(
            "note: NECTR_ENCRYPTION_KEY holds one key, so secrets under an older key cannot be read: list the new key first and the old one after it\n",
        );
    }
    out
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
