//! Parse: the attribute arguments of `wh*` and `#[webhooks]` into a typed model.
//!
//! Every problem becomes a `syn::Error` spanned at the offending token; parsing goes on after a
//! bad option so that all mistakes are reported together.

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{bracketed, Expr, Ident, LitBool, LitInt, LitStr, Token, Type};

use crate::lists::{parse_example, parse_header, parse_list, parse_response, parse_security};
use crate::Method;

/// Where the arguments were written: it decides which options are allowed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Site {
    /// `#[whpost(..)]` and the other one-method macros.
    Verb(Method),
    /// `#[whroute(..)]`.
    Route,
    /// `#[webhooks(..)]` on an impl block.
    Group,
}

impl Site {
    fn macro_name(self) -> &'static str {
        match self {
            Site::Verb(m) => m.macro_name(),
            Site::Route => "whroute",
            Site::Group => "webhooks",
        }
    }

    fn options(self) -> &'static [&'static str] {
        const GROUP: &[&str] = &[
            "tags",
            "deprecated",
            "security",
            "include_in_schema",
            "envelope",
        ];
        const VERB: &[&str] = &[
            "summary",
            "description",
            "operation_id",
            "tags",
            "deprecated",
            "status_code",
            "response_description",
            "responses",
            "headers",
            "security",
            "content_type",
            "include_in_schema",
            "example",
            "envelope",
        ];
        const ROUTE: &[&str] = &[
            "methods",
            "summary",
            "description",
            "operation_id",
            "tags",
            "deprecated",
            "status_code",
            "response_description",
            "responses",
            "headers",
            "security",
            "content_type",
            "include_in_schema",
            "example",
            "envelope",
        ];
        match self {
            Site::Verb(_) => VERB,
            Site::Route => ROUTE,
            Site::Group => GROUP,
        }
    }
}

/// A response status key: a code (`204`), a range (`"2XX"`) or `"default"`.
#[derive(Clone, Debug)]
pub(crate) struct Status {
    pub(crate) key: String,
}

#[derive(Clone)]
pub(crate) struct HeaderSpec {
    pub(crate) name: LitStr,
    pub(crate) ty: Option<Type>,
    pub(crate) description: Option<LitStr>,
    pub(crate) required: Option<bool>,
}

#[derive(Clone)]
pub(crate) struct ResponseSpec {
    pub(crate) status: Status,
    pub(crate) description: Option<LitStr>,
    pub(crate) body: Option<Type>,
    pub(crate) content_type: Option<LitStr>,
    pub(crate) headers: Vec<HeaderSpec>,
}

/// One security requirement: every scheme in it applies together.
#[derive(Clone)]
pub(crate) struct SecuritySpec {
    pub(crate) schemes: Vec<(LitStr, Vec<LitStr>)>,
}

#[derive(Clone)]
pub(crate) enum Example {
    /// A string literal holding JSON, checked when the macro expands.
    Json(LitStr),
    /// Any expression whose value is `serde::Serialize`.
    Expr(Box<Expr>),
}

/// The arguments of one macro invocation, checked for form but not yet against the function.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) name: Option<LitStr>,
    pub(crate) methods: Option<Vec<(Method, Span)>>,
    pub(crate) summary: Option<LitStr>,
    pub(crate) description: Option<LitStr>,
    pub(crate) operation_id: Option<LitStr>,
    pub(crate) tags: Vec<LitStr>,
    pub(crate) deprecated: Option<bool>,
    pub(crate) status_code: Option<Status>,
    pub(crate) response_description: Option<LitStr>,
    pub(crate) responses: Vec<ResponseSpec>,
    pub(crate) headers: Vec<HeaderSpec>,
    pub(crate) security: Option<Vec<SecuritySpec>>,
    pub(crate) content_type: Option<LitStr>,
    pub(crate) include_in_schema: Option<bool>,
    pub(crate) example: Option<Example>,
    /// Wrap the payload in a Standard Webhooks envelope: `{type, timestamp, data}`.
    pub(crate) envelope: Option<bool>,
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

    pub(crate) fn has_errors(&self) -> bool {
        self.0.is_some()
    }

    pub(crate) fn into_result(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

pub(crate) fn parse(site: Site, tokens: TokenStream, errors: &mut Errors) -> Args {
    let parser = |input: ParseStream| Ok(parse_args(site, input, errors));
    match parser.parse2(tokens) {
        Ok(args) => args,
        // After a reported error, syn also complains about the tokens we skipped; that second
        // message would only repeat the first.
        Err(e) if errors.has_errors() => {
            drop(e);
            Args::default()
        }
        Err(e) => {
            errors.push(e);
            Args::default()
        }
    }
}

fn parse_args(site: Site, input: ParseStream, errors: &mut Errors) -> Args {
    let mut args = Args::default();
    if site != Site::Group {
        if input.peek(LitStr) {
            let name: LitStr = input.parse().expect("peeked a string literal");
            args.name = Some(name);
            if !input.is_empty() {
                if let Err(e) = input.parse::<Token![,]>() {
                    errors.push(e);
                    return args;
                }
            }
        } else {
            let span = if input.is_empty() {
                input.span()
            } else {
                input
                    .cursor()
                    .token_tree()
                    .map_or(input.span(), |(t, _)| t.span())
            };
            errors.push(syn::Error::new(
                span,
                format!(
                    "missing webhook name: write it first as a string literal, e.g. `#[{}(\"new-event\")]`",
                    site.macro_name()
                ),
            ));
            if !input.is_empty() && !input.peek2(Token![=]) && !input.peek2(syn::token::Paren) {
                skip_option(input);
                let _ = input.parse::<Token![,]>();
            }
        }
    }
    let mut seen: Vec<String> = Vec::new();
    while !input.is_empty() {
        let key = match input.call(Ident::parse_any) {
            Ok(key) => key,
            Err(e) => {
                errors.push(e);
                skip_option(input);
                let _ = input.parse::<Token![,]>();
                continue;
            }
        };
        let text = key.to_string();
        if !site.options().contains(&text.as_str()) {
            errors.push(unknown_option(site, &key));
            skip_option(input);
        } else if seen.contains(&text) {
            errors.push(syn::Error::new(
                key.span(),
                format!("repeated option `{text}`: give it once"),
            ));
            skip_option(input);
        } else {
            seen.push(text.clone());
            if let Err(e) = parse_option(&mut args, &key, input) {
                errors.push(e);
                skip_option(input);
            }
        }
        if !input.is_empty() {
            if let Err(e) = input.parse::<Token![,]>() {
                errors.push(e);
                return args;
            }
        }
    }
    args
}

fn unknown_option(site: Site, key: &Ident) -> syn::Error {
    let text = key.to_string();
    let options = site.options();
    let hint = if text == "methods" {
        format!(
            "; `#[{}]` always uses its own method, use `#[whroute(\"name\", methods = [..])]` for several",
            site.macro_name()
        )
    } else if let Some(close) = options.iter().find(|o| edit_distance(o, &text) <= 2) {
        format!("; did you mean `{close}`?")
    } else {
        String::new()
    };
    syn::Error::new(
        key.span(),
        format!(
            "unknown option `{text}` for `#[{}]`{hint}\nexpected one of: {}",
            site.macro_name(),
            options.join(", ")
        ),
    )
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Skips the rest of one option (up to the next top-level comma) after an error.
fn skip_option(input: ParseStream) {
    let _ = input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((tt, next)) = rest.token_tree() {
            if let proc_macro2::TokenTree::Punct(p) = &tt {
                if p.as_char() == ',' {
                    return Ok(((), rest));
                }
            }
            rest = next;
        }
        Ok(((), rest))
    });
}

fn parse_option(args: &mut Args, key: &Ident, input: ParseStream) -> syn::Result<()> {
    match key.to_string().as_str() {
        "methods" => {
            // Present even when invalid, so the missing-`methods` error does not pile on.
            args.methods = Some(Vec::new());
            args.methods = Some(parse_methods(input)?);
        }
        "summary" => args.summary = Some(non_empty(string_value(input)?, "summary")?),
        "description" => args.description = Some(string_value(input)?),
        "operation_id" => {
            args.operation_id = Some(non_empty(string_value(input)?, "operation_id")?)
        }
        "tags" => args.tags = parse_tags(input)?,
        "deprecated" => args.deprecated = Some(flag(input)?),
        "status_code" => {
            input.parse::<Token![=]>()?;
            args.status_code = Some(parse_status(input)?);
        }
        "response_description" => args.response_description = Some(string_value(input)?),
        "responses" => args.responses = parse_list(input, parse_response)?,
        "headers" => args.headers = parse_list(input, parse_header)?,
        "security" => args.security = Some(parse_list(input, parse_security)?),
        "content_type" => args.content_type = Some(media_type(string_value(input)?)?),
        "include_in_schema" => {
            input.parse::<Token![=]>()?;
            args.include_in_schema = Some(input.parse::<LitBool>()?.value);
        }
        "example" => args.example = Some(parse_example(input)?),
        "envelope" => args.envelope = Some(flag(input)?),
        other => unreachable!("option `{other}` is listed but not parsed"),
    }
    Ok(())
}

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

/// `deprecated` (or `envelope`) alone means true; `deprecated = false` is allowed for symmetry.
pub(crate) fn flag(input: ParseStream) -> syn::Result<bool> {
    if input.peek(Token![=]) {
        input.parse::<Token![=]>()?;
        return Ok(input.parse::<LitBool>()?.value);
    }
    Ok(true)
}

fn parse_tags(input: ParseStream) -> syn::Result<Vec<LitStr>> {
    input.parse::<Token![=]>()?;
    let content;
    bracketed!(content in input);
    let tags = Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?;
    tags.into_iter().map(|t| non_empty(t, "a tag")).collect()
}

fn parse_methods(input: ParseStream) -> syn::Result<Vec<(Method, Span)>> {
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
