//! The raw model: the arguments of one attribute as written, each with its span, before any
//! check that needs the function or the other options. `options::parse` fills it in.

use proc_macro2::Span;
use syn::{Expr, LitBool, LitStr, Type};

use crate::Method;

/// The arguments of one `wh*` or `#[webhooks]` attribute as written; `None` or empty where an
/// option was not given.
#[derive(Default)]
pub(crate) struct RawArgs {
    /// The positional webhook name; always absent on `#[webhooks]`.
    pub(crate) name: Option<LitStr>,
    /// `methods = [..]` of `#[whroute]`; empty after a mistake in the list, so that the mistake
    /// is not also reported as a missing `methods`.
    pub(crate) methods: Option<Vec<(Method, Span)>>,
    pub(crate) summary: Option<LitStr>,
    pub(crate) description: Option<LitStr>,
    pub(crate) operation_id: Option<LitStr>,
    /// The options that validation passes on as they are.
    pub(crate) doc: DocOptions,
}

/// The options that only add to the document: expansion emits a builder call for each one that
/// was written, so that an absent one leaves the runtime's default (and a group's override) in
/// place. Validation hands them over unchanged, apart from the group's envelope rule.
#[derive(Default)]
pub(crate) struct DocOptions {
    pub(crate) tags: Vec<LitStr>,
    pub(crate) deprecated: Option<LitBool>,
    pub(crate) status_code: Option<Status>,
    pub(crate) response_description: Option<LitStr>,
    pub(crate) responses: Vec<Response>,
    pub(crate) headers: Vec<Header>,
    pub(crate) security: Vec<SecurityRequirement>,
    pub(crate) content_type: Option<LitStr>,
    pub(crate) include_in_schema: Option<LitBool>,
    pub(crate) example: Option<Example>,
    /// Wrap the payload in a Standard Webhooks envelope: `{type, timestamp, data}`.
    pub(crate) envelope: Option<LitBool>,
}

/// A response status key: a code (`204`), a range (`"2XX"`) or `"default"`.
#[derive(Clone, Debug)]
pub(crate) struct Status {
    pub(crate) key: String,
}

/// `("webhook-id" = String, description = "..", required = true)`.
pub(crate) struct Header {
    pub(crate) name: LitStr,
    /// The written type, or `String` spanned at the name when none was written.
    pub(crate) ty: Type,
    pub(crate) description: Option<LitStr>,
    pub(crate) required: Option<bool>,
}

/// `(status = 410, description = "..", body = T, content_type = "..", headers(..))`.
pub(crate) struct Response {
    pub(crate) status: Status,
    pub(crate) description: Option<LitStr>,
    pub(crate) body: Option<Type>,
    pub(crate) content_type: Option<LitStr>,
    pub(crate) headers: Vec<Header>,
}

/// One security requirement: every scheme in it applies together.
pub(crate) struct SecurityRequirement {
    pub(crate) schemes: Vec<(LitStr, Vec<LitStr>)>,
}

pub(crate) enum Example {
    /// A string literal holding JSON, checked when the macro expands.
    Json(LitStr),
    /// Any expression whose value is `serde::Serialize`.
    Expr(Box<Expr>),
}

/// Accumulates errors so that every mistake in an attribute is reported in one compile.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// Appends every error of `other`, keeping their order.
    pub(crate) fn append(&mut self, other: Errors) {
        if let Some(error) = other.0 {
            self.push(error);
        }
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.0.is_some()
    }

    /// The errors as `compile_error!` invocations; nothing when there are none.
    pub(crate) fn to_compile_errors(&self) -> Option<proc_macro2::TokenStream> {
        self.0.as_ref().map(syn::Error::to_compile_error)
    }

    pub(crate) fn into_result(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}
