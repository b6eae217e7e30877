//! Uses each shared crate once, so that the build links them all.
fn main() {
    let _pool: Option<sqlx::SqlitePool> = None;
    let _client = reqwest::Client::new();
    let _doc: utoipa::openapi::OpenApi = utoipa::openapi::OpenApiBuilder::new().build();
    let _secret = hookspec::signing::Secret::generate();
}
