//! Starting the real `nectr serve` binary for tests that attack it from outside.

use std::process::{Command, Stdio};

/// `nectr serve` on `127.0.0.1:{port}` with an empty environment except what every such test
/// needs: the store, the key, the fake GitHub, fast polling and writes, and error logs only.
/// Callers add their own variables (workers, limits, public URL) and choose stderr.
pub fn serve_command(key: &str, db_url: &str, port: u16, github_url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nectr"));
    cmd.arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NECTR_ENCRYPTION_KEY", key)
        .env("DATABASE_URL", db_url)
        .env("NECTR_BIND", format!("127.0.0.1:{port}"))
        .env("GITHUB_API_URL", github_url)
        .env("GITHUB_SERVER_URL", github_url)
        .env("NECTR_POLL_MS", "50")
        .env("NECTR_GITHUB_WRITE_GAP_MS", "0")
        .env("NECTR_GITHUB_RETRY_BASE_MS", "10")
        .env("NECTR_LOG", "error")
        .stdout(Stdio::null());
    cmd
}
