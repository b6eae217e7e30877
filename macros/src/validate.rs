//! Validate: a parsed attribute plus the function it sits on, into the checked [`Webhook`].
//! Defaults are applied and the checks that need more than one option, or the function, are
//! made here, so that expansion has nothing left to decide.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{
    Attribute, FnArg, GenericArgument, LitBool, LitStr, PathArguments, ReturnType, Signature, Type,
};

use crate::docs::{doc_text, title_case};
use crate::model::Webhook;
use crate::options::Verb;
use crate::raw::{Errors, RawArgs};
use crate::Method;

/// Where the function is declared.
pub(crate) enum Owner {
    /// A free function, which cannot take `self`.
    Free,
    /// A method of a `#[webhooks]` group; `envelope` is the group's `envelope` when it is on,
    /// which then applies to every member.
    Group { envelope: Option<LitBool> },
}

/// The checked webhook; `None` when `errors` holds any error, from parsing or from here.
pub(crate) fn webhook(
    raw: RawArgs,
    verb: Verb,
    sig: &Signature,
    attrs: &[Attribute],
    owner: Owner,
    errors: &mut Errors,
) -> Option<Webhook> {
    if let Some(name) = &raw.name {
        check_name(name, errors);
    }
    let methods = methods(verb, raw.methods, errors);
    check_signature(sig, &owner, errors);
    let (payload, query) = parameters(sig, &methods, errors);
    let returns = match &sig.output {
        ReturnType::Default => None,
        ReturnType::Type(_, ty) if is_unit(ty) => None,
        ReturnType::Type(_, ty) => Some(wrapped(ty, "Json").unwrap_or(ty).clone()),
    };
    let name = raw.name?;
    if errors.has_errors() {
        return None;
    }

    let fn_name = sig.ident.to_string();
    let fn_name = fn_name.strip_prefix("r#").unwrap_or(&fn_name).to_owned();
    let doc = doc_text(attrs);
    let summary = raw
        .summary
        .as_ref()
        .map(LitStr::value)
        .or(doc.summary)
        .unwrap_or_else(|| title_case(&fn_name));
    let description = raw
        .description
        .as_ref()
        .map(LitStr::value)
        .or(doc.description);
    let operation_id = raw.operation_id.as_ref().map_or(fn_name, LitStr::value);
    let mut doc = raw.doc;
    // The group's envelope is its members' at the type level too, so that publishing a member
    // sends what the document shows.
    if let Owner::Group {
        envelope: Some(envelope),
    } = owner
    {
        doc.envelope = Some(envelope);
    }
    Some(Webhook {
        handle_docs: handle_docs(attrs, &name),
        name,
        methods,
        payload,
        query,
        returns,
        summary,
        description,
        operation_id,
        envelope: doc.envelope.as_ref().is_some_and(|e| e.value),
        doc,
    })
}

/// A verb macro's own method, or `#[whroute]`'s list.
fn methods(
    verb: Verb,
    written: Option<Vec<(Method, Span)>>,
    errors: &mut Errors,
) -> Vec<(Method, Span)> {
    match (verb, written) {
        (Verb::Fixed(m), _) => vec![(m, Span::call_site())],
        (Verb::Route, Some(written)) => written,
        (Verb::Route, None) => {
            errors.push(syn::Error::new(
                Span::call_site(),
                "`#[whroute]` needs `methods`, e.g. `#[whroute(\"probe\", methods = [GET, HEAD])]`",
            ));
            Vec::new()
        }
    }
}

fn check_name(name: &LitStr, errors: &mut Errors) {
    let value = name.value();
    if value.trim().is_empty() {
        errors.push(syn::Error::new(
            name.span(),
            "the webhook name must not be empty, e.g. \"new-event\"",
        ));
    } else if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        errors.push(syn::Error::new(
            name.span(),
            format!("webhook name `{value}` contains whitespace; use an identifier like \"payment.created\" or \"new-event\""),
        ));
    }
}

/// The function's shape: not generic, not variadic, and `self` only on a group member.
fn check_signature(sig: &Signature, owner: &Owner, errors: &mut Errors) {
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.push(syn::Error::new(
            sig.generics.span(),
            "a webhook function cannot be generic: the document needs one concrete payload type",
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new(
            variadic.span(),
            "a webhook function cannot be variadic",
        ));
    }
    if let Owner::Free = owner {
        for input in &sig.inputs {
            let FnArg::Receiver(receiver) = input else {
                continue;
            };
            errors.push(syn::Error::new(
                receiver.span(),
                "a free webhook function cannot take `self`; to group webhooks as methods, mark the impl block with `#[hookspec::webhooks]`",
            ));
        }
    }
}

/// The payload (at most one body parameter, none on TRACE) and the `Query<T>` parameter.
fn parameters(
    sig: &Signature,
    methods: &[(Method, Span)],
    errors: &mut Errors,
) -> (Option<Type>, Option<Type>) {
    let (mut payload, mut query): (Option<Type>, Option<Type>) = (None, None);
    for input in &sig.inputs {
        let FnArg::Typed(pat) = input else { continue };
        let ty = &*pat.ty;
        if let Some(inner) = wrapped(ty, "Query") {
            if query.is_some() {
                errors.push(syn::Error::new(
                    ty.span(),
                    "a webhook has at most one `Query<T>` parameter",
                ));
            }
            query = Some(inner.clone());
            continue;
        }
        if payload.is_some() {
            errors.push(syn::Error::new(
                pat.span(),
                "a webhook has one payload: this is a second body parameter; wrap both in one type",
            ));
            continue;
        }
        if let Some((trace, _)) = methods.iter().find(|(m, _)| *m == Method::Trace) {
            errors.push(syn::Error::new(
                pat.span(),
                format!(
                    "a {} request cannot carry a body (RFC 9110, section 9.3.8); remove this payload parameter or use another method",
                    trace.as_str()
                ),
            ));
        }
        payload = Some(wrapped(ty, "Json").unwrap_or(ty).clone());
    }
    (payload, query)
}

/// The docs on a generated handle: the user's doc comment, or a line naming the webhook.
fn handle_docs(attrs: &[Attribute], name: &LitStr) -> Vec<Attribute> {
    let docs: Vec<Attribute> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .cloned()
        .collect();
    if docs.is_empty() {
        let line = format!("Handle of the `{}` webhook.", name.value());
        return vec![syn::parse_quote!(#[doc = #line])];
    }
    docs
}

/// The `T` of `Json<T>` / `Query<T>` (matched on the last path segment, as axum-macros does).
pub(crate) fn wrapped<'a>(ty: &'a Type, wrapper: &str) -> Option<&'a Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != wrapper {
        return None;
    }
    let PathArguments::AngleBracketed(generic) = &last.arguments else {
        return None;
    };
    match generic.args.first()? {
        GenericArgument::Type(inner) if generic.args.len() == 1 => Some(inner),
        _ => None,
    }
}

fn is_unit(ty: &Type) -> bool {
    matches!(ty, Type::Tuple(t) if t.elems.is_empty())
}
