//! Expand: the checked model into Rust code. Apart from [`webhook`], which runs the three steps
//! of the function macros, only `quote!` here; every decision was made in `options` (parse) and
//! `validate`. Generated code names everything by absolute path
//! (`::hookspec::..`, `::core::..`) so it compiles under `#![no_implicit_prelude]` and beside any
//! user names.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, ItemFn, Visibility};

use crate::model::{Group, Webhook};
use crate::options;
// Named here too, beside `webhook`, for the unit tests.
pub(crate) use crate::options::Verb;
use crate::raw::{DocOptions, Errors, Example, Header, Response, SecurityRequirement};
use crate::schema::schema_of;
use crate::validate::{self, Owner};

/// The three steps of the nine `wh*` attribute macros on a free function: parse the attribute
/// and the function, validate them together, and quote the checked model.
pub(crate) fn webhook(verb: Verb, attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let raw = options::parse(verb.site(), attr, &mut errors);
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let span = item
                .clone()
                .into_iter()
                .next()
                .map_or(Span::call_site(), |t| t.span());
            let name = verb.site().macro_name();
            errors.push(syn::Error::new(
                span,
                format!("`#[{name}]` applies to a function, e.g. `#[{name}(\"new-event\")] async fn new_event(data: Payment) {{}}`"),
            ));
            return with_errors(errors, item);
        }
    };
    match validate::webhook(raw, verb, &func.sig, &func.attrs, Owner::Free, &mut errors) {
        Some(webhook) => free_handle(&func, &webhook),
        None => with_errors(errors, quote!(#[allow(unused_variables, dead_code)] #func)),
    }
}

/// On error the user's item is still emitted, so that one mistake does not cascade.
pub(crate) fn with_errors(errors: Errors, item: TokenStream) -> TokenStream {
    let errors = errors.to_compile_errors();
    quote!(#errors #item)
}

/// A free function becomes a braced struct (type namespace) plus a function of the same name
/// returning it (value namespace): `publish::<new_event>` and `WebhookGateway::new(new_event)`
/// both work.
fn free_handle(func: &ItemFn, webhook: &Webhook) -> TokenStream {
    let ident = &func.sig.ident;
    let vis = &func.vis;
    let docs = &webhook.handle_docs;
    let mut handler = func.clone();
    handler.sig.ident = Ident::new("__handler", ident.span());
    handler.vis = Visibility::Inherited;
    handler.attrs.retain(|a| !a.path().is_ident("doc"));
    let impls = handle_impls(ident, webhook);
    quote! {
        #(#docs)*
        #[allow(non_camel_case_types)]
        #vis struct #ident {}

        // A function, not a constant, in the value namespace: a constant would turn every
        // `let new_event = ..` in scope into a pattern match against it.
        #[doc = "The handle of this webhook: pass the function itself to `WebhookGateway::new`."]
        #[allow(dead_code)]
        #vis fn #ident() -> #ident {
            #ident {}
        }

        impl #ident {
            #[doc(hidden)]
            #[allow(dead_code, unused_variables, clippy::unused_async)]
            #handler
        }

        #impls
    }
}

/// The inherent constants and the `Webhook` / `IntoWebhooks` impls of a handle type.
fn handle_impls(handle: &Ident, webhook: &Webhook) -> TokenStream {
    let name = &webhook.name;
    let methods = webhook.methods.iter().map(|(m, span)| m.to_tokens(*span));
    let payload = match &webhook.payload {
        Some(ty) => quote!(#ty),
        None => quote!(()),
    };
    let definition = definition(webhook);
    let envelope = webhook.envelope;
    quote! {
        impl #handle {
            /// The webhook's name: the key of its entry in the document's `webhooks`.
            pub const NAME: &'static str = #name;
            /// The HTTP methods the webhook is sent with.
            pub const METHODS: &'static [::hookspec::Method] = &[#(#methods),*];
        }

        impl ::hookspec::Webhook for #handle {
            const NAME: &'static str = #name;
            const METHODS: &'static [::hookspec::Method] = #handle::METHODS;
            type Payload = #payload;
            const ENVELOPE: bool = #envelope;

            fn definition() -> ::hookspec::WebhookDef {
                #definition
            }
        }

        impl ::hookspec::IntoWebhooks for #handle {
            fn into_webhooks(self) -> ::hookspec::__private::Vec<::hookspec::WebhookDef> {
                ::core::convert::From::from([<Self as ::hookspec::Webhook>::definition()])
            }
        }
    }
}

/// The `WebhookDef` builder chain for one declaration: only the options that were given.
fn definition(c: &Webhook) -> TokenStream {
    let a = &c.doc;
    let operation_id = &c.operation_id;
    let summary = &c.summary;
    let mut chain = quote! {
        ::hookspec::WebhookDef::new(<Self as ::hookspec::Webhook>::NAME, <Self as ::hookspec::Webhook>::METHODS, #operation_id)
            .summary(#summary)
    };
    if let Some(description) = &c.description {
        chain.extend(quote!(.description(#description)));
    }
    if !a.tags.is_empty() {
        let tags = &a.tags;
        chain.extend(quote!(.tags(&[#(#tags),*])));
    }
    if let Some(deprecated) = &a.deprecated {
        chain.extend(quote!(.deprecated(#deprecated)));
    }
    if let Some(status) = &a.status_code {
        let key = &status.key;
        chain.extend(quote!(.status_code(#key)));
    }
    if let Some(text) = &a.response_description {
        chain.extend(quote!(.response_description(#text)));
    }
    if let Some(content_type) = &a.content_type {
        chain.extend(quote!(.content_type(#content_type)));
    }
    if let Some(include) = &a.include_in_schema {
        chain.extend(quote!(.include_in_schema(#include)));
    }
    if let Some(envelope) = &a.envelope {
        chain.extend(quote!(.envelope(#envelope)));
    }
    for requirement in &a.security {
        let requirement = requirement_tokens(requirement);
        chain.extend(quote!(.security(#requirement)));
    }
    for header in &a.headers {
        let header = header_tokens(header);
        chain.extend(quote!(.header(#header)));
    }
    for response in &a.responses {
        let response = response_tokens(response);
        chain.extend(quote!(.response(#response)));
    }
    match &a.example {
        Some(Example::Json(json)) => chain.extend(quote!(.example_json(#json))),
        Some(Example::Expr(expr)) => chain.extend(quote_spanned! {expr.span()=>
            .example(|| ::hookspec::__private::to_example(&(#expr)))
        }),
        None => {}
    }
    if let Some(ty) = &c.payload {
        let schema = schema_of(ty);
        chain.extend(quote!(.payload(#schema)));
    }
    if let Some(ty) = &c.query {
        let span = ty.span();
        chain.extend(quote_spanned!(span=> .query(::hookspec::__private::query_params::<#ty>)));
    }
    if let Some(ty) = &c.returns {
        let schema = schema_of(ty);
        chain.extend(quote!(.returns(#schema)));
    }
    chain
}

fn header_tokens(h: &Header) -> TokenStream {
    let name = &h.name;
    let schema = schema_of(&h.ty);
    let mut header = quote!(::hookspec::HeaderDef::new(#name, #schema));
    if let Some(description) = &h.description {
        header.extend(quote!(.description(#description)));
    }
    if let Some(required) = h.required {
        header.extend(quote!(.required(#required)));
    }
    header
}

fn response_tokens(r: &Response) -> TokenStream {
    let status = &r.status.key;
    let mut response = quote!(::hookspec::ResponseDef::new(#status));
    if let Some(description) = &r.description {
        response.extend(quote!(.description(#description)));
    }
    if let Some(body) = &r.body {
        let schema = schema_of(body);
        response.extend(quote!(.body(#schema)));
    }
    if let Some(content_type) = &r.content_type {
        response.extend(quote!(.content_type(#content_type)));
    }
    for header in &r.headers {
        let header = header_tokens(header);
        response.extend(quote!(.header(#header)));
    }
    response
}

/// One security requirement as `&[(scheme, &[scopes])]`; each `.security(..)` call adds one.
fn requirement_tokens(requirement: &SecurityRequirement) -> TokenStream {
    let schemes = requirement
        .schemes
        .iter()
        .map(|(name, scopes)| quote!((#name, &[#(#scopes),*] as &[&str])));
    quote!(&[#(#schemes),*])
}

/// A group: the impl block, one handle type per member, and `IntoWebhooks` for the group type,
/// whose definitions take the group's overrides.
pub(crate) fn group(imp: &syn::ItemImpl, group: &Group) -> TokenStream {
    let handles = group.members.iter().map(|member| {
        let handle = &member.handle;
        let vis = &member.vis;
        let docs = &member.webhook.handle_docs;
        let impls = handle_impls(handle, &member.webhook);
        quote! {
            #(#docs)*
            #vis struct #handle {}
            #impls
        }
    });
    let members = group.members.iter().map(|member| &member.handle);
    let used_paths = &group.used_paths;
    let overrides = overrides(&group.overrides);
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

/// The `Overrides` builder chain of a group: only the options that were given.
fn overrides(options: &DocOptions) -> TokenStream {
    let mut chain = quote!(::hookspec::Overrides::new());
    if !options.tags.is_empty() {
        let tags = &options.tags;
        chain.extend(quote!(.tags(&[#(#tags),*])));
    }
    if let Some(deprecated) = &options.deprecated {
        chain.extend(quote!(.deprecated(#deprecated)));
    }
    if let Some(include) = &options.include_in_schema {
        chain.extend(quote!(.include_in_schema(#include)));
    }
    for requirement in &options.security {
        let requirement = requirement_tokens(requirement);
        chain.extend(quote!(.security(#requirement)));
    }
    chain
}
