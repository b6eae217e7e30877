//! Parse: the attribute arguments of `wh*` and `#[webhooks]` into the raw model, driven by the
//! one table of options, [`OPTIONS`].
//!
//! Every problem becomes a `syn::Error` spanned at the offending token; parsing goes on after a
//! bad option so that all mistakes are reported together.

use proc_macro2::TokenStream;
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::{Ident, LitBool, LitStr, Token};

use crate::lists::{parse_example, parse_header, parse_list, parse_response, parse_security};
use crate::raw::{Errors, RawArgs};
use crate::values::{
    flag, media_type, non_empty, parse_methods, parse_status, parse_tags, string_value,
};
use crate::Method;

/// Which macro was invoked on a function.
#[derive(Clone, Copy)]
pub(crate) enum Verb {
    /// `#[whpost(..)]` and the other one-method macros.
    Fixed(Method),
    /// `#[whroute(..)]`, whose methods are an option.
    Route,
}

impl Verb {
    pub(crate) fn site(self) -> Site {
        match self {
            Verb::Fixed(m) => Site::Verb(m),
            Verb::Route => Site::Route,
        }
    }
}

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
    pub(crate) fn macro_name(self) -> &'static str {
        match self {
            Site::Verb(m) => m.macro_name(),
            Site::Route => "whroute",
            Site::Group => "webhooks",
        }
    }

    /// The options allowed here, in the table's order.
    fn options(self) -> impl Iterator<Item = &'static OptionSpec> {
        OPTIONS.iter().filter(move |o| o.sites.allow(self))
    }
}

/// The sites an option may be written at.
#[derive(Clone, Copy)]
struct Sites {
    verb: bool,
    route: bool,
    group: bool,
}

impl Sites {
    const ROUTE: Sites = Sites {
        verb: false,
        route: true,
        group: false,
    };
    const FUNCTIONS: Sites = Sites {
        verb: true,
        route: true,
        group: false,
    };
    const EVERYWHERE: Sites = Sites {
        verb: true,
        route: true,
        group: true,
    };

    fn allow(self, site: Site) -> bool {
        match site {
            Site::Verb(_) => self.verb,
            Site::Route => self.route,
            Site::Group => self.group,
        }
    }
}

/// One option: its name, where it is allowed, and how its value is parsed into the raw model.
struct OptionSpec {
    name: &'static str,
    sites: Sites,
    /// Parses what follows the name (`= ..` or `(..)`) into its field.
    parse: fn(&Ident, ParseStream, &mut RawArgs) -> syn::Result<()>,
    /// A hint for writing the option where it is not allowed, given the macro's name.
    misplaced: Option<fn(&str) -> String>,
}

impl OptionSpec {
    const fn new(
        name: &'static str,
        sites: Sites,
        parse: fn(&Ident, ParseStream, &mut RawArgs) -> syn::Result<()>,
    ) -> Self {
        OptionSpec {
            name,
            sites,
            parse,
            misplaced: None,
        }
    }

    const fn misplaced(self, hint: fn(&str) -> String) -> Self {
        OptionSpec {
            misplaced: Some(hint),
            ..self
        }
    }
}

/// Every option of the `wh*` macros and of `#[webhooks]`, in the order the "expected one of"
/// errors list them. Parsing, the "did you mean" hints and those errors read this table and
/// nothing else, so adding an option touches only this table (its row), the model (its field in
/// `raw::DocOptions`) and the expansion (its builder call in `expand::definition`, and in
/// `expand::overrides` if a group may give it). An option whose default comes from the
/// function, as `summary`'s from the doc comment, is a field of `raw::RawArgs` and
/// `model::Webhook` instead, and `validate` applies that default.
const OPTIONS: &[OptionSpec] = &[
    // Present even when invalid, so the missing-`methods` error does not pile on.
    OptionSpec::new("methods", Sites::ROUTE, |_, input, raw| {
        raw.methods = Some(Vec::new());
        raw.methods = Some(parse_methods(input)?);
        Ok(())
    }).misplaced(|macro_name| {
        format!("; `#[{macro_name}]` always uses its own method, use `#[whroute(\"name\", methods = [..])]` for several")
    }),
    OptionSpec::new("summary", Sites::FUNCTIONS, |_, input, raw| {
        raw.summary = Some(non_empty(string_value(input)?, "summary")?);
        Ok(())
    }),
    OptionSpec::new("description", Sites::FUNCTIONS, |_, input, raw| {
        raw.description = Some(string_value(input)?);
        Ok(())
    }),
    OptionSpec::new("operation_id", Sites::FUNCTIONS, |_, input, raw| {
        raw.operation_id = Some(non_empty(string_value(input)?, "operation_id")?);
        Ok(())
    }),
    OptionSpec::new("tags", Sites::EVERYWHERE, |_, input, raw| {
        raw.doc.tags = parse_tags(input)?;
        Ok(())
    }),
    OptionSpec::new("deprecated", Sites::EVERYWHERE, |key, input, raw| {
        raw.doc.deprecated = Some(flag(key, input)?);
        Ok(())
    }),
    OptionSpec::new("status_code", Sites::FUNCTIONS, |_, input, raw| {
        input.parse::<Token![=]>()?;
        raw.doc.status_code = Some(parse_status(input)?);
        Ok(())
    }),
    OptionSpec::new("response_description", Sites::FUNCTIONS, |_, input, raw| {
        raw.doc.response_description = Some(string_value(input)?);
        Ok(())
    }),
    OptionSpec::new("responses", Sites::FUNCTIONS, |_, input, raw| {
        raw.doc.responses = parse_list(input, parse_response)?;
        Ok(())
    }),
    OptionSpec::new("headers", Sites::FUNCTIONS, |_, input, raw| {
        raw.doc.headers = parse_list(input, parse_header)?;
        Ok(())
    }),
    OptionSpec::new("security", Sites::EVERYWHERE, |_, input, raw| {
        raw.doc.security = parse_list(input, parse_security)?;
        Ok(())
    }),
    OptionSpec::new("content_type", Sites::FUNCTIONS, |_, input, raw| {
        raw.doc.content_type = Some(media_type(string_value(input)?)?);
        Ok(())
    }),
    OptionSpec::new("include_in_schema", Sites::EVERYWHERE, |_, input, raw| {
        input.parse::<Token![=]>()?;
        raw.doc.include_in_schema = Some(input.parse::<LitBool>()?);
        Ok(())
    }),
    OptionSpec::new("example", Sites::FUNCTIONS, |_, input, raw| {
        raw.doc.example = Some(parse_example(input)?);
        Ok(())
    }),
    OptionSpec::new("envelope", Sites::EVERYWHERE, |key, input, raw| {
        raw.doc.envelope = Some(flag(key, input)?);
        Ok(())
    }),
];

pub(crate) fn parse(site: Site, tokens: TokenStream, errors: &mut Errors) -> RawArgs {
    let parser = |input: ParseStream| Ok(parse_args(site, input, errors));
    match parser.parse2(tokens) {
        Ok(raw) => raw,
        // After a reported error, syn also complains about the tokens we skipped; that second
        // message would only repeat the first.
        Err(e) if errors.has_errors() => {
            drop(e);
            RawArgs::default()
        }
        Err(e) => {
            errors.push(e);
            RawArgs::default()
        }
    }
}

fn parse_args(site: Site, input: ParseStream, errors: &mut Errors) -> RawArgs {
    let mut raw = RawArgs::default();
    if site != Site::Group {
        if input.peek(LitStr) {
            match parse_name(input) {
                Ok(name) => raw.name = Some(name),
                Err(e) => {
                    errors.push(e);
                    return raw;
                }
            }
        } else {
            errors.push(missing_name(site, input));
            if !input.is_empty() && !input.peek2(Token![=]) && !input.peek2(syn::token::Paren) {
                skip_option(input);
                let _ = input.parse::<Token![,]>();
            }
        }
    }
    let mut seen: Vec<&str> = Vec::new();
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
        match site.options().find(|o| o.name == text) {
            None => {
                errors.push(unknown_option(site, &key));
                skip_option(input);
            }
            Some(option) if seen.contains(&option.name) => {
                errors.push(syn::Error::new(
                    key.span(),
                    format!("repeated option `{text}`: give it once"),
                ));
                skip_option(input);
            }
            Some(option) => {
                seen.push(option.name);
                if let Err(e) = (option.parse)(&key, input, &mut raw) {
                    errors.push(e);
                    skip_option(input);
                }
            }
        }
        if !input.is_empty() {
            if let Err(e) = input.parse::<Token![,]>() {
                errors.push(e);
                return raw;
            }
        }
    }
    raw
}

/// The webhook name written first, with the comma after it.
fn parse_name(input: ParseStream) -> syn::Result<LitStr> {
    let name: LitStr = input.parse()?;
    if !input.is_empty() {
        input.parse::<Token![,]>()?;
    }
    Ok(name)
}

fn missing_name(site: Site, input: ParseStream) -> syn::Error {
    let span = if input.is_empty() {
        input.span()
    } else {
        input
            .cursor()
            .token_tree()
            .map_or(input.span(), |(t, _)| t.span())
    };
    syn::Error::new(
        span,
        format!(
            "missing webhook name: write it first as a string literal, e.g. `#[{}(\"new-event\")]`",
            site.macro_name()
        ),
    )
}

fn unknown_option(site: Site, key: &Ident) -> syn::Error {
    let text = key.to_string();
    let misplaced = OPTIONS
        .iter()
        .find(|o| o.name == text)
        .and_then(|o| o.misplaced);
    let hint = if let Some(misplaced) = misplaced {
        misplaced(site.macro_name())
    } else if let Some(close) = site.options().find(|o| edit_distance(o.name, &text) <= 2) {
        format!("; did you mean `{}`?", close.name)
    } else {
        String::new()
    };
    let expected: Vec<&str> = site.options().map(|o| o.name).collect();
    syn::Error::new(
        key.span(),
        format!(
            "unknown option `{text}` for `#[{}]`{hint}\nexpected one of: {}",
            site.macro_name(),
            expected.join(", ")
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

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::quote;

    use super::*;

    /// The error messages of parsing `tokens` at `site`, in order.
    fn messages(site: Site, tokens: TokenStream) -> Vec<String> {
        let mut errors = Errors::default();
        parse(site, tokens, &mut errors);
        match errors.into_result() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    /// The "expected one of" list of an unknown option at `site`.
    fn expected(site: Site, tokens: TokenStream) -> String {
        let message = messages(site, tokens).join("\n");
        let (_, list) = message.split_once("expected one of: ").expect(&message);
        list.to_owned()
    }

    #[test]
    fn each_site_lists_the_options_the_table_allows_there_in_table_order() {
        let functions = "summary, description, operation_id, tags, deprecated, status_code, \
            response_description, responses, headers, security, content_type, include_in_schema, \
            example, envelope";
        assert_eq!(
            expected(Site::Verb(Method::Post), quote!("a", bogus = 1)),
            functions
        );
        assert_eq!(
            expected(Site::Route, quote!("a", bogus = 1)),
            format!("methods, {functions}")
        );
        assert_eq!(
            expected(Site::Group, quote!(bogus = 1)),
            "tags, deprecated, security, include_in_schema, envelope"
        );
    }

    #[test]
    fn suggestions_come_from_the_options_allowed_at_the_site() {
        let route = messages(Site::Route, quote!("a", method = [GET])).join("");
        assert!(route.contains("did you mean `methods`?"), "{route}");
        let group = messages(Site::Group, quote!(tag = ["a"])).join("");
        assert!(group.contains("did you mean `tags`?"), "{group}");
        // `summary` is an option, but not of a group: no suggestion of another option.
        let group = messages(Site::Group, quote!(summary = "a")).join("");
        assert!(
            group.starts_with("unknown option `summary` for `#[webhooks]`\n"),
            "{group}"
        );
    }

    #[test]
    fn every_option_parses_into_the_raw_model_at_its_sites() {
        let mut errors = Errors::default();
        let raw = parse(
            Site::Route,
            quote!(
                "a",
                methods = [GET],
                summary = "s",
                operation_id = "o",
                tags = ["t"],
                deprecated,
                include_in_schema = false,
                envelope = false,
                security(("k" = []))
            ),
            &mut errors,
        );
        assert!(!errors.has_errors());
        assert_eq!(raw.methods.map(|m| m.len()), Some(1));
        assert!(raw.summary.is_some() && raw.operation_id.is_some());
        assert_eq!(raw.doc.tags.len(), 1);
        assert_eq!(raw.doc.deprecated.map(|d| d.value), Some(true));
        assert_eq!(raw.doc.include_in_schema.map(|d| d.value), Some(false));
        assert_eq!(raw.doc.envelope.map(|d| d.value), Some(false));
        assert_eq!(raw.doc.security.len(), 1);
    }
}
