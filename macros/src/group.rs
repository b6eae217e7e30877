//! `#[webhooks]` on an impl block: the class-based grouping of Esmerald's `APIView`.
//!
//! The outer attribute sees its members' `wh*` attributes before they expand, so parsing takes
//! them off; validation checks each member like a free function, and expansion emits one
//! handle type per member (`Group` + `Method` in UpperCamelCase) plus `IntoWebhooks` for the
//! group type.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{Attribute, Ident, ImplItem, ItemImpl, Meta, Path, Signature, Type, Visibility};

use crate::expand::{self, with_errors};
use crate::model::{Group, Member};
use crate::options::{self, Site, Verb};
use crate::raw::{Errors, RawArgs};
use crate::validate::{self, Owner};
use crate::Method;

/// The three steps of `#[webhooks]`, as for the function macros: on any error the impl block is
/// still emitted (without its members' `wh*` attributes once they were taken off).
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let (imp, raw) = match parse(attr, item, &mut errors) {
        Ok(parsed) => parsed,
        Err(item) => return with_errors(errors, item),
    };
    match validate(raw, &mut errors) {
        Some(group) => expand::group(&imp, &group),
        None => with_errors(errors, quote!(#imp)),
    }
}

/// An impl block as written, its members' attributes parsed but not yet checked.
struct RawGroup {
    args: RawArgs,
    /// The last segment of the group's type, which prefixes its members' handle types.
    name: Ident,
    self_ty_span: Span,
    members: Vec<RawMember>,
    used_paths: Vec<Path>,
}

/// A method that carries a `wh*` attribute.
struct RawMember {
    verb: Verb,
    args: RawArgs,
    /// This member's parse errors, reported in member order.
    errors: Errors,
    sig: Signature,
    /// The method's attributes without the `wh*` ones.
    attrs: Vec<Attribute>,
    vis: Visibility,
}

/// The impl block, with the members' `wh*` attributes taken off, and the raw group; `Err` holds
/// what to emit beside the errors when the item is not an inherent impl of a named type.
fn parse(
    attr: TokenStream,
    item: TokenStream,
    errors: &mut Errors,
) -> Result<(ItemImpl, RawGroup), TokenStream> {
    let args = options::parse(Site::Group, attr, errors);
    let mut imp: ItemImpl = match syn::parse2(item.clone()) {
        Ok(imp) => imp,
        Err(_) => {
            let span = item
                .clone()
                .into_iter()
                .next()
                .map_or(Span::call_site(), |t| t.span());
            errors.push(syn::Error::new(
                span,
                "`#[webhooks]` applies to an impl block, e.g. `#[webhooks] impl PaymentWebhooks { #[whpost(\"new-event\")] async fn new_event(data: Payment) {} }`",
            ));
            return Err(item);
        }
    };
    if let Some((_, path, _)) = &imp.trait_ {
        errors.push(syn::Error::new(
            path.span(),
            "`#[webhooks]` applies to an inherent impl block, not a trait impl",
        ));
    }
    if !imp.generics.params.is_empty() {
        errors.push(syn::Error::new(
            imp.generics.span(),
            "a webhook group cannot be generic",
        ));
    }
    let name = match &*imp.self_ty {
        Type::Path(path) if path.qself.is_none() => {
            path.path.segments.last().map(|s| s.ident.clone())
        }
        _ => None,
    };
    let Some(name) = name else {
        errors.push(syn::Error::new(
            imp.self_ty.span(),
            "a webhook group is a named type, e.g. `struct PaymentWebhooks;`",
        ));
        return Err(quote!(#imp));
    };
    let mut members = Vec::new();
    // The member attributes are taken off here, before they expand; naming their paths again
    // keeps the user's `use hookspec::whpost;` from being reported as unused.
    let mut used_paths = Vec::new();
    for item in &mut imp.items {
        let ImplItem::Fn(method) = item else { continue };
        let mut found = Vec::new();
        method.attrs.retain(|attr| match verb_of(attr) {
            Some(verb) => {
                found.push((verb, attr.clone()));
                false
            }
            None => true,
        });
        let mut found = found.into_iter();
        let Some((verb, attr)) = found.next() else {
            continue;
        };
        used_paths.push(attr.path().clone());
        let mut member_errors = Errors::default();
        for (_, extra) in found {
            member_errors.push(syn::Error::new(extra.span(), "one `wh*` attribute per method: use `#[whroute(.., methods = [..])]` for several methods"));
        }
        let tokens = match &attr.meta {
            Meta::List(list) => list.tokens.clone(),
            _ => TokenStream::new(),
        };
        let args = options::parse(verb.site(), tokens, &mut member_errors);
        members.push(RawMember {
            verb,
            args,
            errors: member_errors,
            sig: method.sig.clone(),
            attrs: method.attrs.clone(),
            vis: method.vis.clone(),
        });
        method
            .attrs
            .push(syn::parse_quote!(#[allow(dead_code, unused_variables, clippy::unused_async)]));
    }
    let raw = RawGroup {
        args,
        name,
        self_ty_span: imp.self_ty.span(),
        members,
        used_paths,
    };
    Ok((imp, raw))
}

/// The checked group; `None` when `errors` holds any error, the group's or a member's.
fn validate(raw: RawGroup, errors: &mut Errors) -> Option<Group> {
    let envelope = raw.args.doc.envelope.clone().filter(|e| e.value);
    let mut members = Vec::new();
    for member in raw.members {
        let mut member_errors = member.errors;
        let owner = Owner::Group {
            envelope: envelope.clone(),
        };
        let webhook = validate::webhook(
            member.args,
            member.verb,
            &member.sig,
            &member.attrs,
            owner,
            &mut member_errors,
        );
        errors.append(member_errors);
        if let Some(webhook) = webhook {
            members.push(Member {
                handle: member_handle(&raw.name, &member.sig.ident),
                vis: member.vis,
                webhook,
            });
        }
    }
    if members.is_empty() && !errors.has_errors() {
        errors.push(syn::Error::new(
            raw.self_ty_span,
            "this `#[webhooks]` impl block declares no webhook: mark its methods with `#[whpost(\"name\")]` or another `wh*` attribute",
        ));
    }
    if errors.has_errors() {
        return None;
    }
    Some(Group {
        used_paths: raw.used_paths,
        members,
        overrides: raw.args.doc,
    })
}

/// The `wh*` macro an attribute names, by its last path segment (`whpost`, `hookspec::whpost`).
fn verb_of(attr: &Attribute) -> Option<Verb> {
    let ident = &attr.path().segments.last()?.ident;
    if ident == "whroute" {
        return Some(Verb::Route);
    }
    Method::ALL
        .into_iter()
        .find(|m| ident == m.macro_name())
        .map(Verb::Fixed)
}

/// The handle type of a group member: `PaymentWebhooks` + `new_event` = `PaymentWebhooksNewEvent`.
fn member_handle(group: &Ident, method: &Ident) -> Ident {
    let name = method.to_string();
    let name = name.strip_prefix("r#").unwrap_or(&name);
    format_ident!(
        "{}{}",
        group,
        crate::docs::upper_camel(name),
        span = method.span()
    )
}
