//! Rebuild when a migration is added: `sqlx::migrate!` embeds `src/store/migrations/*` and
//! `src/context/migrations/*` at compile time, and Cargo does not otherwise notice a new file
//! there.
fn main() {
    println!("cargo:rerun-if-changed=src/store/migrations");
    println!("cargo:rerun-if-changed=src/context/migrations");
}
