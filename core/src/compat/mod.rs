//! Catch the change that breaks your receivers before you ship it.
//!
//! [`diff`] compares two OpenAPI documents (3.0 or 3.1, read as plain JSON, so anything a
//! parser accepts) and reports each change under the webhook or path and method it reaches,
//! with a JSON pointer, a sentence, and a [`Class`]. The direction of the data decides the
//! class: a webhook's request is written by the sender and read by receivers, so allowing
//! more values there (a wider type, a new enum value, a removed property) breaks receivers,
//! while the receiver's answer is read by the sender, so accepting fewer values there breaks.
//! `paths` get the usual server direction: requests are read by the server, responses by
//! clients.
//!
//! ```
//! use hookspec::compat::{self, Class};
//! use serde_json::json;
//!
//! let body = |amount_type: &str| json!({ "webhooks": { "payment.created": { "post": {
//!     "requestBody": { "content": { "application/json": { "schema": {
//!         "type": "object",
//!         "required": ["amount"],
//!         "properties": { "amount": { "type": amount_type } } } } } } } } } });
//! let report = compat::diff(&body("integer"), &body("number")).unwrap();
//! assert_eq!(report.changes[0].class, Class::Breaking);
//! assert_eq!(
//!     report.changes[0].pointer,
//!     "/webhooks/payment.created/post/requestBody/content/application~1json/schema/properties/amount"
//! );
//! ```
//!
//! For the snapshot workflow, [`assert_compatible`] compares a checked-in document with the
//! one the app builds now; for CI pipelines in any language, the `hookspec` command-line tool
//! (crate `hookspec-cli`) runs `hookspec diff OLD NEW`.

mod differ;
mod document;
mod operation;
mod report;
mod schema;

pub use report::{Change, Class, Report};

use serde_json::Value;
use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// Why two documents could not be compared.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is neither JSON nor YAML.
    #[error("{path} is not a JSON or YAML document: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A `$ref` points at nothing in its document (only local `#/...` references are followed).
    #[error("in the {side} document, `$ref` {reference:?} (reached at {at}) does not resolve to a value of that document")]
    UnresolvedRef {
        /// `old` or `new`.
        side: &'static str,
        /// The reference.
        reference: String,
        /// Where it was met, as in [`Change::pointer`].
        at: String,
    },
    /// A chain of `$ref`s that only point at further `$ref`s.
    #[error("in the {side} document, the `$ref`s reached at {at} point at each other in a loop")]
    RefLoop {
        /// `old` or `new`.
        side: &'static str,
        /// Where the chain starts, as in [`Change::pointer`].
        at: String,
    },
}

/// Compares `old` with `new`: every change, webhooks first, then paths. Fails only on a
/// `$ref` that does not resolve; any other JSON is compared as far as it is a document.
pub fn diff(old: &Value, new: &Value) -> Result<Report, Error> {
    let mut differ = differ::Differ::new(old, new);
    differ.documents()?;
    Ok(Report {
        changes: differ.changes,
    })
}

/// Reads a document from a JSON or YAML file (by extension: `.yaml` and `.yml` are YAML,
/// anything else is tried as JSON, then as YAML).
pub fn load(path: impl AsRef<Path>) -> Result<Value, Error> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    let parse_error = |message: String| Error::Parse {
        path: path.to_owned(),
        message,
    };
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if matches!(extension, "yaml" | "yml") {
        return yaml_serde::from_str(&text).map_err(|e| parse_error(e.to_string()));
    }
    serde_json::from_str(&text).or_else(|json_error| {
        yaml_serde::from_str(&text).map_err(|_| parse_error(json_error.to_string()))
    })
}

/// The old side of [`assert_compatible`]: a file (`&str`, `&Path`) or a document.
pub trait Baseline {
    /// The document.
    fn document(&self) -> Result<Cow<'_, Value>, Error>;
}

impl Baseline for Value {
    fn document(&self) -> Result<Cow<'_, Value>, Error> {
        Ok(Cow::Borrowed(self))
    }
}

impl Baseline for Path {
    fn document(&self) -> Result<Cow<'_, Value>, Error> {
        load(self).map(Cow::Owned)
    }
}

impl Baseline for PathBuf {
    fn document(&self) -> Result<Cow<'_, Value>, Error> {
        load(self).map(Cow::Owned)
    }
}

impl Baseline for str {
    fn document(&self) -> Result<Cow<'_, Value>, Error> {
        load(self).map(Cow::Owned)
    }
}

/// A test helper for the snapshot workflow: panics with a readable report if `new` (the
/// document the app builds now, e.g. a `utoipa::openapi::OpenApi`) breaks readers of `old`
/// (the checked-in document, or its path), unless each such change is accepted.
///
/// A change is accepted when an entry of `accepted` is its [`Change::pointer`] or a prefix of
/// it ending before a `/` (so `/webhooks/payment.created` accepts every change under that
/// webhook). Both [`Class::Breaking`] and [`Class::BreakingForStrictReceivers`] changes must be
/// accepted; an accepted entry that matches no such change also fails, so that the list
/// does not outlive the release it was written for.
///
/// ```no_run
/// # fn app_document() -> hookspec::utoipa::openapi::OpenApi { unimplemented!() }
/// hookspec::compat::assert_compatible(
///     "tests/openapi.json",
///     &app_document(),
///     &["/webhooks/payment.created/post/requestBody/content/application~1json/schema/properties/memo"],
/// );
/// ```
#[track_caller]
pub fn assert_compatible<B, N>(old: &B, new: &N, accepted: &[&str])
where
    B: Baseline + ?Sized,
    N: serde::Serialize + ?Sized,
{
    let old = old
        .document()
        .unwrap_or_else(|e| panic!("compat: the old document: {e}"));
    let new = serde_json::to_value(new)
        .unwrap_or_else(|e| panic!("compat: the new document does not serialize: {e}"));
    let report = diff(&old, &new).unwrap_or_else(|e| panic!("compat: {e}"));
    let covers = |entry: &str, pointer: &str| {
        pointer == entry
            || pointer
                .strip_prefix(entry)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    let breaking: Vec<&Change> = report
        .changes
        .iter()
        .filter(|c| c.class != Class::Safe)
        .collect();
    let unaccepted = Report {
        changes: breaking
            .iter()
            .filter(|c| !accepted.iter().any(|entry| covers(entry, &c.pointer)))
            .map(|c| (*c).clone())
            .collect(),
    };
    let unused: Vec<&&str> = accepted
        .iter()
        .filter(|entry| !breaking.iter().any(|c| covers(entry, &c.pointer)))
        .collect();
    if !unaccepted.changes.is_empty() {
        panic!(
            "compat: the new document breaks readers of the old one. Fix the change, or accept \
             it by adding its pointer to `accepted`:\n{unaccepted}"
        );
    }
    if !unused.is_empty() {
        panic!("compat: these accepted breaks no longer occur; remove them: {unused:?}");
    }
}
