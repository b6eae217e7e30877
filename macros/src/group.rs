//! `#[webhooks]` on an impl block: the class-based grouping of Esmerald's `APIView`.
//!
//! The outer attribute sees its members' `wh*` attributes before they expand, so it takes them
//! off, checks each member like a free function, and emits one handle type per member
//! (`Group` + `Method` in UpperCamelCase) plus `IntoWebhooks` for the group type.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::spanned::Spanned;
use syn::{ImplItem, ItemImpl, Meta, Type};

use crate::args::{self, Errors, Site};
use crate::docs::doc_text;
use crate::expand::{
    handle_docs, handle_impls, member_handle, requirement_tokens, with_errors, Verb,
};
use crate::signature::{self, Owner};
use crate::Method;

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let group_args = args::parse(Site::Group, attr, &mut errors);
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
            return with_errors(errors, item);
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
    let group = match &*imp.self_ty {
        Type::Path(path) if path.qself.is_none() => {
            path.path.segments.last().map(|s| s.ident.clone())
        }
        _ => None,
    };
    let Some(group) = group else {
        errors.push(syn::Error::new(
            imp.self_ty.span(),
            "a webhook group is a named type, e.g. `struct PaymentWebhooks;`",
        ));
        return with_errors(errors, quote!(#imp));
    };

    let mut handles = Vec::new();
    let mut members = Vec::new();
    // The member attributes are taken off here, before they expand; naming their paths again
    // keeps the user's `use hookspec::whpost;` from being reported as unused.
    let mut used_paths: Vec<syn::Path> = Vec::new();
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
        for (_, extra) in found {
            errors.push(syn::Error::new(extra.span(), "one `wh*` attribute per method: use `#[whroute(.., methods = [..])]` for several methods"));
        }
        let tokens = match &attr.meta {
            Meta::List(list) => list.tokens.clone(),
            _ => TokenStream::new(),
        };
        let mut member_errors = Errors::default();
        let parsed = args::parse(verb.site(), tokens, &mut member_errors);
        let checked = signature::check(
            parsed,
            verb.fixed(),
            &method.sig,
            doc_text(&method.attrs),
            Owner::Group,
            &mut member_errors,
        );
        method
            .attrs
            .push(syn::parse_quote!(#[allow(dead_code, unused_variables, clippy::unused_async)]));
        if let Err(e) = member_errors.into_result() {
            errors.push(e);
            continue;
        }
        let Some(mut checked) = checked else { continue };
        // The group's envelope is its members' at the type level too, so that publishing a
        // member sends what the document shows.
        if group_args.envelope == Some(true) {
            checked.args.envelope = Some(true);
        }
        let handle = member_handle(&group, &method.sig.ident);
        let vis = &method.vis;
        let docs = handle_docs(&method.attrs, &checked.name);
        let impls = handle_impls(&handle, &checked);
        handles.push(quote! {
            #(#docs)*
            #vis struct #handle {}
            #impls
        });
        members.push(handle);
    }
    if members.is_empty() && !errors.has_errors() {
        errors.push(syn::Error::new(
            imp.self_ty.span(),
            "this `#[webhooks]` impl block declares no webhook: mark its methods with `#[whpost(\"name\")]` or another `wh*` attribute",
        ));
    }
    let overrides = overrides(&group_args);
    if errors.has_errors() {
        return with_errors(errors, quote!(#imp));
    }
    let self_ty = &imp.self_ty;
    quote! {
        #imp
        #(#handles)*

        const _: () = {
            #(#[allow(unused_imports)] use #used_paths as _;)*
        };

        impl ::hookspec::IntoWebhooks for #self_ty {
            fn into_webhooks(self) -> ::hookspec::__private::Vec<::hookspec::WebhookDef> {
                let group = #overrides;
                ::core::convert::From::from([
                    #(<#members as ::hookspec::Webhook>::definition().with_group(&group)),*
                ])
            }
        }
    }
}

fn overrides(args: &args::Args) -> TokenStream {
    let mut chain = quote!(::hookspec::Overrides::new());
    if !args.tags.is_empty() {
        let tags = &args.tags;
        chain.extend(quote!(.tags(&[#(#tags),*])));
    }
    if let Some(deprecated) = args.deprecated {
        chain.extend(quote!(.deprecated(#deprecated)));
    }
    if let Some(include) = args.include_in_schema {
        chain.extend(quote!(.include_in_schema(#include)));
    }
    for requirement in args.security.iter().flatten() {
        let requirement = requirement_tokens(requirement);
        chain.extend(quote!(.security(#requirement)));
    }
    chain
}

/// The `wh*` macro an attribute names, by its last path segment (`whpost`, `hookspec::whpost`).
fn verb_of(attr: &syn::Attribute) -> Option<Verb> {
    let ident = &attr.path().segments.last()?.ident;
    if ident == "whroute" {
        return Some(Verb::Route);
    }
    Method::ALL
        .into_iter()
        .find(|m| ident == m.macro_name())
        .map(Verb::Fixed)
}
