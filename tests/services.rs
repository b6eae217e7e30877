//! The real services some tests check against, found where they usually are: PostgreSQL at
//! `HOOKSPEC_TEST_DATABASE_URL`, else at its usual local address, and a Python with the
//! `standardwebhooks` package at `HOOKSPEC_PYTHON`, else `python3`. A test whose service is
//! missing skips that part and says so on the terminal (past the test harness's capture, so
//! that a reader of `cargo test` sees it). With `HOOKSPEC_REQUIRE_SERVICES` set (`.ci/run`
//! sets it), a missing service fails the test instead: CI skips nothing.

use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

/// PostgreSQL's usual local address, used when `HOOKSPEC_TEST_DATABASE_URL` is not set.
pub const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The PostgreSQL server to make test databases on, if one is reachable.
pub fn postgres_server() -> Option<&'static str> {
    static SERVER: OnceLock<Option<String>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let url = std::env::var("HOOKSPEC_TEST_DATABASE_URL")
                .unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned());
            reachable(&url).then_some(url.clone()).or_else(|| {
                missing(&format!(
                    "PostgreSQL is not reachable at {url}: the PostgreSQL half of these tests \
                     is skipped (start PostgreSQL there, or set HOOKSPEC_TEST_DATABASE_URL)"
                ))
            })
        })
        .as_deref()
}

/// A Python that has the `standardwebhooks` package, if there is one.
pub fn python() -> Option<&'static str> {
    static PYTHON: OnceLock<Option<String>> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let python = std::env::var("HOOKSPEC_PYTHON").unwrap_or_else(|_| "python3".into());
            let has_package = std::process::Command::new(&python)
                .args(["-c", "import standardwebhooks"])
                .output()
                .is_ok_and(|out| out.status.success());
            has_package.then_some(python.clone()).or_else(|| {
                missing(&format!(
                    "`{python}` has no standardwebhooks package: the Python interop check is \
                     skipped (bash .ci/run makes a venv with it; or set HOOKSPEC_PYTHON)"
                ))
            })
        })
        .as_deref()
}

/// The folder of Adyen's published webhook documents, beside the repository
/// (`../shared/data/adyen`), or at `HOOKSPEC_ADYEN_DOCUMENTS`.
pub fn adyen_documents() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("HOOKSPEC_ADYEN_DOCUMENTS").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/adyen"),
        Into::into,
    );
    if dir.join("LICENSE").is_file() {
        return Some(dir);
    }
    missing(&format!(
        "Adyen's webhook documents are not at {}: the compat tests over them are skipped \
         (set HOOKSPEC_ADYEN_DOCUMENTS to their folder)",
        dir.display()
    ));
    None
}

/// Whether a TCP connection to the URL's host and port opens.
fn reachable(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    let host = parsed.host_str().unwrap_or("127.0.0.1");
    let port = parsed.port().unwrap_or(5432);
    let Ok(addresses) = std::net::ToSocketAddrs::to_socket_addrs(&(host, port)) else {
        return false;
    };
    addresses
        .into_iter()
        .any(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(1)).is_ok())
}

/// Says that a service is missing, where a reader sees it, or fails under CI.
fn missing(what: &str) -> Option<String> {
    if std::env::var_os("HOOKSPEC_REQUIRE_SERVICES").is_some() {
        panic!("HOOKSPEC_REQUIRE_SERVICES is set, and {what}");
    }
    // Straight to the terminal: the test harness captures `eprintln!` of passing tests.
    let _ = writeln!(std::io::stderr(), "\nSKIPPED: {what}");
    None
}
