//! Rebuilds when a migration is added: `sqlx::migrate!` embeds each file of
//! `migrations/<backend>/`, but cargo only watches the files it read, not a new one.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
