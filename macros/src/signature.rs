//! Validate: a parsed attribute plus the function it sits on, into a checked webhook model.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, LitStr, PathArguments, ReturnType, Signature, Type};

use crate::args::{Args, Errors};
use crate::docs::{title_case, DocText};
use crate::Method;

/// A webhook declaration whose name, methods and parameters have been checked.
pub(crate) struct Checked {
    pub(crate) name: LitStr,
    pub(crate) methods: Vec<(Method, Span)>,
    pub(crate) payload: Option<Type>,
    pub(crate) query: Option<Type>,
    pub(crate) returns: Option<Type>,
    pub(crate) summary: String,
    pub(crate) description: Option<String>,
    pub(crate) operation_id: String,
    pub(crate) args: Args,
}

/// Where the function is declared: free functions cannot take `self`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    Free,
    Group,
}

pub(crate) fn check(
    mut args: Args,
    default_methods: Option<Method>,
    sig: &Signature,
    doc: DocText,
    owner: Owner,
    errors: &mut Errors,
) -> Option<Checked> {
    let name = args.name.take();
    if let Some(name) = &name {
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
    let methods = match (default_methods, args.methods.take()) {
        (Some(m), _) => vec![(m, Span::call_site())],
        (None, Some(methods)) => methods,
        (None, None) => {
            errors.push(syn::Error::new(
                Span::call_site(),
                "`#[whroute]` needs `methods`, e.g. `#[whroute(\"probe\", methods = [GET, HEAD])]`",
            ));
            Vec::new()
        }
    };
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

    let (mut payload, mut query): (Option<Type>, Option<Type>) = (None, None);
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(receiver) if owner == Owner::Free => errors.push(syn::Error::new(
                receiver.span(),
                "a free webhook function cannot take `self`; to group webhooks as methods, mark the impl block with `#[hookspec::webhooks]`",
            )),
            FnArg::Receiver(_) => {}
            FnArg::Typed(pat) => {
                let ty = &*pat.ty;
                if let Some(inner) = wrapped(ty, "Query") {
                    if query.is_some() {
                        errors.push(syn::Error::new(ty.span(), "a webhook has at most one `Query<T>` parameter"));
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
        }
    }
    let returns = match &sig.output {
        ReturnType::Default => None,
        ReturnType::Type(_, ty) if is_unit(ty) => None,
        ReturnType::Type(_, ty) => Some(wrapped(ty, "Json").unwrap_or(ty).clone()),
    };

    let fn_name = sig.ident.to_string();
    let fn_name = fn_name.strip_prefix("r#").unwrap_or(&fn_name).to_owned();
    let summary = args
        .summary
        .as_ref()
        .map(LitStr::value)
        .or(doc.summary)
        .unwrap_or_else(|| title_case(&fn_name));
    let description = args
        .description
        .as_ref()
        .map(LitStr::value)
        .or(doc.description);
    let operation_id = args.operation_id.as_ref().map_or(fn_name, LitStr::value);
    Some(Checked {
        name: name?,
        methods,
        payload,
        query,
        returns,
        summary,
        description,
        operation_id,
        args,
    })
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
