//! Summary and description from doc comments, and the Title Case fallback.

use syn::{Attribute, Expr, ExprLit, Lit, Meta};

/// The doc comment of an item split as OpenAPI wants it: the first paragraph is the summary,
/// the rest is the description.
#[derive(Default, Debug, PartialEq)]
pub(crate) struct DocText {
    pub(crate) summary: Option<String>,
    pub(crate) description: Option<String>,
}

pub(crate) fn doc_text(attrs: &[Attribute]) -> DocText {
    let lines: Vec<String> = attrs
        .iter()
        .filter_map(|attr| match &attr.meta {
            Meta::NameValue(nv) if nv.path.is_ident("doc") => match &nv.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .flat_map(|chunk| chunk.split('\n').map(str::to_owned).collect::<Vec<_>>())
        .collect();
    // `///` comments keep the space after the slashes; drop the common one-space indent only.
    let lines: Vec<&str> = lines
        .iter()
        .map(|l| l.strip_prefix(' ').unwrap_or(l).trim_end())
        .collect();
    let mut paragraphs = lines
        .split(|l| l.trim().is_empty())
        .filter(|p| !p.is_empty());
    let summary = paragraphs.next().map(|p| p.join(" ").trim().to_owned());
    let rest: Vec<String> = paragraphs.map(|p| p.join("\n")).collect();
    DocText {
        summary,
        description: (!rest.is_empty()).then(|| rest.join("\n\n")),
    }
}

/// `new_event` or `new-event` into `New Event`.
pub(crate) fn title_case(name: &str) -> String {
    name.split(['_', '-', ' ', '.'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `new_event` into `NewEvent`, for the handle types of group members.
pub(crate) fn upper_camel(name: &str) -> String {
    title_case(name).replace(' ', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_first_paragraph_from_the_rest() {
        let attrs: Vec<Attribute> = vec![
            syn::parse_quote!(#[doc = " A payment"]),
            syn::parse_quote!(#[doc = " was recorded."]),
            syn::parse_quote!(#[doc = ""]),
            syn::parse_quote!(#[doc = " Sent once."]),
            syn::parse_quote!(#[doc = ""]),
            syn::parse_quote!(#[doc = " Really."]),
        ];
        let doc = doc_text(&attrs);
        assert_eq!(doc.summary.as_deref(), Some("A payment was recorded."));
        assert_eq!(doc.description.as_deref(), Some("Sent once.\n\nReally."));
    }

    #[test]
    fn no_docs_no_text() {
        assert_eq!(doc_text(&[]), DocText::default());
    }

    #[test]
    fn title_cases_names() {
        assert_eq!(title_case("new_event"), "New Event");
        assert_eq!(title_case("payment-probe"), "Payment Probe");
        assert_eq!(upper_camel("new_payment"), "NewPayment");
    }
}
