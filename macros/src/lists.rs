//! Parse, continued: the options whose values are lists or expressions (`headers(..)`,
//! `responses(..)`, `security(..)`, `example = ..`), kept apart so that `args` stays readable.

use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::punctuated::Punctuated;
use syn::{bracketed, parenthesized, Expr, Ident, LitStr, Token, Type};

use crate::raw::{Example, Header, Response, SecurityRequirement};
use crate::values::{flag, media_type, non_empty, parse_status, string_value};

pub(crate) fn parse_list<T>(
    input: ParseStream,
    item: fn(ParseStream) -> syn::Result<T>,
) -> syn::Result<Vec<T>> {
    let content;
    parenthesized!(content in input);
    let mut items = Vec::new();
    while !content.is_empty() {
        let inner;
        parenthesized!(inner in content);
        items.push(item(&inner)?);
        if !inner.is_empty() {
            return Err(inner.error("unexpected tokens"));
        }
        if !content.is_empty() {
            content.parse::<Token![,]>()?;
        }
    }
    Ok(items)
}

/// `("webhook-id" = String, description = "..", required = true)`; the type defaults to `String`.
pub(crate) fn parse_header(input: ParseStream) -> syn::Result<Header> {
    let name: LitStr = input.parse().map_err(|e| syn::Error::new(e.span(), "expected a header name as a string literal, e.g. `(\"webhook-id\", description = \"..\")`"))?;
    let valid = !name.value().is_empty()
        && name
            .value()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid {
        return Err(syn::Error::new(
            name.span(),
            format!("`{}` is not a valid HTTP header name", name.value()),
        ));
    }
    let ty = if input.peek(Token![=]) {
        input.parse::<Token![=]>()?;
        input.parse::<Type>()?
    } else {
        syn::parse_quote_spanned!(name.span()=> ::hookspec::__private::String)
    };
    let mut header = Header {
        name,
        ty,
        description: None,
        required: None,
    };
    parse_pairs(input, true, |key, input| match key.to_string().as_str() {
        "description" => {
            header.description = Some(string_value(input)?);
            Ok(())
        }
        "required" => {
            header.required = Some(flag(key, input)?.value);
            Ok(())
        }
        _ => Err(syn::Error::new(
            key.span(),
            format!("unknown header option `{key}`; expected `description` or `required`"),
        )),
    })?;
    Ok(header)
}

/// `(status = 410, description = "..", body = T, content_type = "..", headers(..))`.
pub(crate) fn parse_response(input: ParseStream) -> syn::Result<Response> {
    let open = input.span();
    let (mut status, mut description, mut body, mut content_type, mut headers) =
        (None, None, None, None, Vec::new());
    parse_pairs(input, false, |key, input| {
        match key.to_string().as_str() {
            "status" => {
                input.parse::<Token![=]>()?;
                status = Some(parse_status(input)?);
            }
            "description" => description = Some(string_value(input)?),
            "body" => {
                input.parse::<Token![=]>()?;
                body = Some(input.parse::<Type>()?);
            }
            "content_type" => content_type = Some(media_type(string_value(input)?)?),
            "headers" => headers = parse_list(input, parse_header)?,
            _ => {
                return Err(syn::Error::new(
                    key.span(),
                    format!("unknown response option `{key}`; expected one of: status, description, body, content_type, headers"),
                ))
            }
        }
        Ok(())
    })?;
    let status = status.ok_or_else(|| {
        syn::Error::new(
            open,
            "a response needs a `status`, e.g. `(status = 410, description = \"Gone\")`",
        )
    })?;
    Ok(Response {
        status,
        description,
        body,
        content_type,
        headers,
    })
}

/// `("api_key" = [])` or `("oauth" = ["read"], "mtls" = [])`.
pub(crate) fn parse_security(input: ParseStream) -> syn::Result<SecurityRequirement> {
    let mut schemes = Vec::new();
    while !input.is_empty() {
        let name: LitStr = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected a security scheme name as a string literal, e.g. `(\"api_key\" = [])`",
            )
        })?;
        input.parse::<Token![=]>()?;
        let content;
        bracketed!(content in input);
        let scopes = Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?;
        schemes.push((
            non_empty(name, "a security scheme name")?,
            scopes.into_iter().collect(),
        ));
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
    }
    Ok(SecurityRequirement { schemes })
}

/// `key = value` pairs separated by commas; `after_item` says a comma comes first, after a
/// leading positional item.
pub(crate) fn parse_pairs(
    input: ParseStream,
    after_item: bool,
    mut each: impl FnMut(&Ident, ParseStream) -> syn::Result<()>,
) -> syn::Result<()> {
    let mut first = !after_item;
    while !input.is_empty() {
        if !std::mem::take(&mut first) {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
        }
        let key = input.call(Ident::parse_any)?;
        each(&key, input)?;
    }
    Ok(())
}

pub(crate) fn parse_example(input: ParseStream) -> syn::Result<Example> {
    input.parse::<Token![=]>()?;
    let expr: Expr = input.parse()?;
    if let Expr::Lit(syn::ExprLit {
        lit: syn::Lit::Str(lit),
        ..
    }) = &expr
    {
        if let Err(e) = serde_json::from_str::<serde_json::Value>(&lit.value()) {
            return Err(syn::Error::new(
                lit.span(),
                format!("`example` is not valid JSON: {e}"),
            ));
        }
        return Ok(Example::Json(lit.clone()));
    }
    Ok(Example::Expr(Box::new(expr)))
}
