//! `nectr keygen`: print a new Fernet key (URL-safe base64 of 32 random bytes).

use anyhow::Result;

pub fn run() -> Result<u8> {
    super::print_stdout(&format!("{}\n", fernet::Fernet::generate_key()))?;
    Ok(0)
}
