//! The HTTP methods a webhook can be sent with.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote_spanned;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
    Options,
    Trace,
}

impl Method {
    pub(crate) const ALL: [Method; 8] = [
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
        Method::Head,
        Method::Options,
        Method::Trace,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
        }
    }

    /// The name of the attribute macro that declares this method alone.
    pub(crate) fn macro_name(self) -> &'static str {
        match self {
            Method::Get => "whget",
            Method::Post => "whpost",
            Method::Put => "whput",
            Method::Patch => "whpatch",
            Method::Delete => "whdelete",
            Method::Head => "whead",
            Method::Options => "whoptions",
            Method::Trace => "whtrace",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Method> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(text))
    }

    pub(crate) fn to_tokens(self, span: Span) -> TokenStream {
        let variant = Ident::new(
            match self {
                Method::Get => "Get",
                Method::Post => "Post",
                Method::Put => "Put",
                Method::Patch => "Patch",
                Method::Delete => "Delete",
                Method::Head => "Head",
                Method::Options => "Options",
                Method::Trace => "Trace",
            },
            span,
        );
        quote_spanned!(span=> ::hookspec::Method::#variant)
    }
}
