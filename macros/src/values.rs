//! Parse, the single values: strings, flags, media types, statuses, tags and methods. Each
//! checks its own form only; checks that need other options or the function are validation's.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::punctuated::Punctuated;
use syn::{bracketed, Ident, LitBool, LitInt, LitStr, Token};

use crate::raw::{Errors, Status};
use crate::Method;

pub(crate) fn string_value(input: ParseStream) -> syn::Result<LitStr> {
    input.parse::<Token![=]>()?;
    input.parse::<LitStr>()
}

pub(crate) fn non_empty(lit: LitStr, what: &str) -> syn::Result<LitStr> {
    if lit.value().trim().is_empty() {
        return Err(syn::Error::new(
            lit.span(),
            format!("`{what}` must not be empty"),
        ));
    }
    Ok(lit)
}

pub(crate) fn media_type(lit: LitStr) -> syn::Result<LitStr> {
    let value = lit.value();
    let valid = value.split_once('/').is_some_and(|(kind, sub)| {
        let token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic() && b != b'/');
        token(kind) && token(sub.split(';').next().unwrap_or_default().trim())
    });
    if !valid {
        return Err(syn::Error::new(
            lit.span(),
            format!("`{value}` is not a media type; expected e.g. \"application/json\""),
        ));
    }
    Ok(lit)
}

/// `deprecated` (or `envelope`) alone means true, spanned at the option's name;
/// `deprecated = false` is allowed for symmetry.
pub(crate) fn flag(key: &Ident, input: ParseStream) -> syn::Result<LitBool> {
    if input.peek(Token![=]) {
        input.parse::<Token![=]>()?;
        return input.parse::<LitBool>();
    }
    Ok(LitBool::new(true, key.span()))
}

pub(crate) fn parse_tags(input: ParseStream) -> syn::Result<Vec<LitStr>> {
    input.parse::<Token![=]>()?;
    let content;
    bracketed!(content in input);
    let tags = Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?;
    tags.into_iter().map(|t| non_empty(t, "a tag")).collect()
}

/// `= [GET, HEAD]`, each method once.
pub(crate) fn parse_methods(input: ParseStream) -> syn::Result<Vec<(Method, Span)>> {
    input.parse::<Token![=]>()?;
    let content;
    let brackets = bracketed!(content in input);
    let mut methods: Vec<(Method, Span)> = Vec::new();
    let mut errors = Errors::default();
    while !content.is_empty() {
        let (text, span) = if content.peek(LitStr) {
            let lit: LitStr = content.parse()?;
            (lit.value(), lit.span())
        } else {
            let ident = content.call(Ident::parse_any)?;
            (ident.to_string(), ident.span())
        };
        match Method::parse(&text) {
            None => errors.push(syn::Error::new(
                span,
                format!(
                    "unknown HTTP method `{text}`; expected one of: {}",
                    Method::ALL.map(Method::as_str).join(", ")
                ),
            )),
            Some(m) if methods.iter().any(|(seen, _)| *seen == m) => errors.push(syn::Error::new(
                span,
                format!("repeated method `{}`: list each method once", m.as_str()),
            )),
            Some(m) => methods.push((m, span)),
        }
        if !content.is_empty() {
            content.parse::<Token![,]>()?;
        }
    }
    errors.into_result()?;
    if methods.is_empty() {
        return Err(syn::Error::new(
            brackets.span.join(),
            "`methods` needs at least one method, e.g. `methods = [GET, HEAD]`",
        ));
    }
    Ok(methods)
}

pub(crate) fn parse_status(input: ParseStream) -> syn::Result<Status> {
    if input.peek(LitInt) {
        let lit: LitInt = input.parse()?;
        let code: u16 = lit.base10_parse().unwrap_or(0);
        if !(100..=599).contains(&code) {
            return Err(syn::Error::new(
                lit.span(),
                "a status code is between 100 and 599",
            ));
        }
        return Ok(Status {
            key: code.to_string(),
        });
    }
    let lit: LitStr = input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            "expected a status: a code like `204`, a range like `\"2XX\"`, or `\"default\"`",
        )
    })?;
    let key = lit.value();
    let is_range = key.len() == 3 && matches!(key.as_bytes()[0], b'1'..=b'5') && &key[1..] == "XX";
    let is_code = key.parse::<u16>().is_ok_and(|c| (100..=599).contains(&c));
    if !(is_range || is_code || key == "default") {
        return Err(syn::Error::new(lit.span(), format!("`{key}` is not a status; expected a code like `204`, a range like `\"2XX\"`, or `\"default\"`")));
    }
    Ok(Status { key })
}
