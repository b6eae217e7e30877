//! Procedural macros for [hookspec](https://docs.rs/hookspec). Depend on `hookspec`, which
//! re-exports them; this crate is an implementation detail.
//!
//! Each entry point is a thin wrapper around a function on [`proc_macro2::TokenStream`], so the
//! expansion can be unit-tested without a compiler invocation. Every macro runs three steps,
//! each handing the next a typed model:
//!
//! 1. **Parse** (`options`, with `values` and `lists`): the attribute's arguments into the raw
//!    model (`raw::RawArgs`, options as written with their spans), driven by the one table of
//!    options, `options::OPTIONS`, which also gives the "did you mean" hints and the per-site
//!    "expected one of" lists; `group::parse` also takes the members' `wh*` attributes off an
//!    impl block.
//! 2. **Validate** (`validate`, `group::validate`): the raw model plus the function it sits on
//!    into the checked model (`model::Webhook`, `model::Group`): defaults applied, combinations
//!    checked, nothing optional left for expansion to decide.
//! 3. **Expand** (`expand`, `schema`): the checked model into code, by `quote!` alone.
//!
//! Errors accumulate across the steps (`raw::Errors`, by `syn::Error::combine`) and are
//! reported together; on error the user's item is still emitted, so that one mistake does not
//! cascade.

mod docs;
mod expand;
mod group;
mod lists;
mod method;
mod model;
mod options;
mod raw;
mod schema;
#[cfg(test)]
mod tests;
mod validate;
mod values;

use proc_macro::TokenStream;

pub(crate) use method::Method;
use options::Verb;

macro_rules! verb_macro {
    ($(#[$doc:meta])* $name:ident => $method:ident) => {
        $(#[$doc])*
        #[proc_macro_attribute]
        pub fn $name(attr: TokenStream, item: TokenStream) -> TokenStream {
            expand::webhook(Verb::Fixed(Method::$method), attr.into(), item.into()).into()
        }
    };
}

verb_macro!(
    /// Declares a webhook that the API sends as `GET`. See `hookspec::whpost` for the options.
    whget => Get
);
verb_macro!(
    /// Declares a webhook that the API sends as `POST`: the function's body parameter
    /// (`data: T` or `Json<T>`) is the payload.
    whpost => Post
);
verb_macro!(
    /// Declares a webhook that the API sends as `PUT`. See `hookspec::whpost` for the options.
    whput => Put
);
verb_macro!(
    /// Declares a webhook that the API sends as `PATCH`. See `hookspec::whpost` for the options.
    whpatch => Patch
);
verb_macro!(
    /// Declares a webhook that the API sends as `DELETE`. See `hookspec::whpost` for the options.
    whdelete => Delete
);
verb_macro!(
    /// Declares a webhook that the API sends as `HEAD`. See `hookspec::whpost` for the options.
    whead => Head
);
verb_macro!(
    /// Declares a webhook that the API sends as `OPTIONS`. See `hookspec::whpost` for the options.
    whoptions => Options
);
verb_macro!(
    /// Declares a webhook that the API sends as `TRACE` (which carries no body).
    whtrace => Trace
);

/// Declares a webhook sent with several methods: `#[whroute("probe", methods = [GET, HEAD])]`.
#[proc_macro_attribute]
pub fn whroute(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::webhook(Verb::Route, attr.into(), item.into()).into()
}

/// Groups the `wh*` methods of an `impl` block, like Esmerald's class-based `APIView`.
#[proc_macro_attribute]
pub fn webhooks(attr: TokenStream, item: TokenStream) -> TokenStream {
    group::expand(attr.into(), item.into()).into()
}
