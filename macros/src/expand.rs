//! Expand: the checked model into Rust code. Only `quote!` here; every decision was made in
//! `args` and `signature`. Generated code names everything by absolute path (`::hookspec::..`,
//! `::core::..`) so it compiles under `#![no_implicit_prelude]` and beside any user names.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, Ident, ItemFn, LitStr, Type, Visibility};

use crate::args::{self, Errors, Example, HeaderSpec, ResponseSpec, SecuritySpec, Site};
use crate::docs::doc_text;
use crate::signature::{self, Checked, Owner};
use crate::Method;

/// Which macro was invoked.
#[derive(Clone, Copy)]
pub(crate) enum Verb {
    Fixed(Method),
    Route,
}

impl Verb {
    pub(crate) fn site(self) -> Site {
        match self {
            Verb::Fixed(m) => Site::Verb(m),
            Verb::Route => Site::Route,
        }
    }

    pub(crate) fn fixed(self) -> Option<Method> {
        match self {
            Verb::Fixed(m) => Some(m),
            Verb::Route => None,
        }
    }
}

/// Entry point of the nine `wh*` attribute macros on a free function.
pub(crate) fn webhook(verb: Verb, attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = args::parse(verb.site(), attr, &mut errors);
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let span = item
                .clone()
                .into_iter()
                .next()
                .map_or(Span::call_site(), |t| t.span());
            let name = verb.site_name();
            errors.push(syn::Error::new(
                span,
                format!("`#[{name}]` applies to a function, e.g. `#[{name}(\"new-event\")] async fn new_event(data: Payment) {{}}`"),
            ));
            return with_errors(errors, item);
        }
    };
    let checked = signature::check(
        args,
        verb.fixed(),
        &func.sig,
        doc_text(&func.attrs),
        Owner::Free,
        &mut errors,
    );
    match (errors.into_result(), checked) {
        (Ok(()), Some(checked)) => free_handle(&func, &checked),
        (result, _) => with_errors(
            Errors::from(result),
            quote!(#[allow(unused_variables, dead_code)] #func),
        ),
    }
}

impl Verb {
    fn site_name(self) -> &'static str {
        match self {
            Verb::Fixed(m) => m.macro_name(),
            Verb::Route => "whroute",
        }
    }
}

impl From<syn::Result<()>> for Errors {
    fn from(result: syn::Result<()>) -> Self {
        let mut errors = Errors::default();
        if let Err(e) = result {
            errors.push(e);
        }
        errors
    }
}

/// On error the user's item is still emitted, so that one mistake does not cascade.
pub(crate) fn with_errors(errors: Errors, item: TokenStream) -> TokenStream {
    let errors = errors.into_result().err().map(|e| e.to_compile_error());
    quote!(#errors #item)
}

/// A free function becomes a braced struct (type namespace) plus a function of the same name
/// returning it (value namespace): `publish::<new_event>` and `WebhookGateway::new(new_event)`
/// both work.
fn free_handle(func: &ItemFn, checked: &Checked) -> TokenStream {
    let ident = &func.sig.ident;
    let vis = &func.vis;
    let docs = handle_docs(&func.attrs, &checked.name);
    let mut handler = func.clone();
    handler.sig.ident = Ident::new("__handler", ident.span());
    handler.vis = Visibility::Inherited;
    handler.attrs.retain(|a| !a.path().is_ident("doc"));
    let impls = handle_impls(ident, checked);
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

/// The docs on a generated handle: the user's doc comment, or a line naming the webhook.
pub(crate) fn handle_docs(attrs: &[Attribute], name: &LitStr) -> Vec<TokenStream> {
    let docs: Vec<TokenStream> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .map(|a| quote!(#a))
        .collect();
    if docs.is_empty() {
        let line = format!("Handle of the `{}` webhook.", name.value());
        return vec![quote!(#[doc = #line])];
    }
    docs
}

/// The inherent constants and the `Webhook` / `IntoWebhooks` impls of a handle type.
pub(crate) fn handle_impls(handle: &Ident, checked: &Checked) -> TokenStream {
    let name = &checked.name;
    let methods = checked.methods.iter().map(|(m, span)| m.to_tokens(*span));
    let payload = match &checked.payload {
        Some(ty) => quote!(#ty),
        None => quote!(()),
    };
    let definition = definition(checked);
    let envelope = checked.args.envelope.unwrap_or(false);
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
fn definition(c: &Checked) -> TokenStream {
    let a = &c.args;
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
    if let Some(deprecated) = a.deprecated {
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
    if let Some(include) = a.include_in_schema {
        chain.extend(quote!(.include_in_schema(#include)));
    }
    if let Some(envelope) = a.envelope {
        chain.extend(quote!(.envelope(#envelope)));
    }
    for requirement in a.security.iter().flatten() {
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

/// The schema of a type that derives utoipa's `ToSchema` or schemars' `JsonSchema`, picked by
/// autoref specialisation. Spanned at the user's type, so a type that is neither is reported
/// at the parameter. A generic type (`Envelope<Address>`) passes its type arguments along, so
/// that each instantiation gets a name and a schema of its own.
fn schema_of(ty: &Type) -> TokenStream {
    if let Some(item) = signature::wrapped(ty, "Vec") {
        let item = schema_of(item);
        return quote!(::hookspec::SchemaSource::array(#item));
    }
    if let Some(inner) = signature::wrapped(ty, "Option") {
        let inner = schema_of(inner);
        return quote!(::hookspec::SchemaSource::nullable(#inner));
    }
    match type_args(ty) {
        Some(args) => probe(ty, "generic_source", args),
        None => probe(ty, "schema_source", TokenStream::new()),
    }
}

/// The type arguments of a generic type, as a `Vec<TypeArg>` expression; `None` for a type
/// without any.
fn type_args(ty: &Type) -> Option<TokenStream> {
    let Type::Path(path) = ty else { return None };
    let syn::PathArguments::AngleBracketed(generic) = &path.path.segments.last()?.arguments else {
        return None;
    };
    let args: Vec<TokenStream> = generic
        .args
        .iter()
        .filter_map(|arg| match arg {
            syn::GenericArgument::Type(arg) => Some(match type_args(arg) {
                Some(args) => arg_probe(arg, quote!(generic_arg(#args))),
                None => arg_probe(arg, quote!(leaf_arg())),
            }),
            _ => None,
        })
        .collect();
    if args.is_empty() {
        return None;
    }
    Some(quote!(::core::convert::From::from([#(#args),*])))
}

/// `call` on the three-level probe of a type argument, which never fails to compile: a type
/// argument need not be a schema itself (`DateTime<Utc>`).
fn arg_probe(ty: &Type, call: TokenStream) -> TokenStream {
    quote! {
        {
            #[allow(unused_imports)]
            use ::hookspec::__private::{
                ArgOpaque as _, ArgViaSchemars as _, ArgViaUtoipa as _, ArgViaUtoipaComposed as _,
            };
            (&&&::hookspec::__private::SchemaProbe::<#ty>::new()).#call
        }
    }
}

/// `method(args)` on the schema probe of `ty`, which picks utoipa or schemars; all of it is
/// spanned at `ty`, so that a type that is neither is reported at the user's type, by
/// `schema_of`'s message naming both traits.
fn probe(ty: &Type, method: &str, args: TokenStream) -> TokenStream {
    let method = Ident::new(method, ty.span());
    quote_spanned! {ty.span()=>
        {
            #[allow(unused_imports)]
            use ::hookspec::__private::{
                ViaNeither as _, ViaSchemars as _, ViaSchemarsGeneric as _, ViaUtoipa as _,
                ViaUtoipaGeneric as _,
            };
            ::hookspec::__private::schema_of::<#ty, _>(
                (&&&::hookspec::__private::SchemaProbe::<#ty>::new()).#method(#args),
            )
        }
    }
}

fn header_tokens(h: &HeaderSpec) -> TokenStream {
    let name = &h.name;
    let ty = h
        .ty
        .clone()
        .unwrap_or_else(|| syn::parse_quote_spanned!(name.span()=> ::hookspec::__private::String));
    let schema = schema_of(&ty);
    let mut header = quote!(::hookspec::HeaderDef::new(#name, #schema));
    if let Some(description) = &h.description {
        header.extend(quote!(.description(#description)));
    }
    if let Some(required) = h.required {
        header.extend(quote!(.required(#required)));
    }
    header
}

fn response_tokens(r: &ResponseSpec) -> TokenStream {
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
pub(crate) fn requirement_tokens(requirement: &SecuritySpec) -> TokenStream {
    let schemes = requirement
        .schemes
        .iter()
        .map(|(name, scopes)| quote!((#name, &[#(#scopes),*] as &[&str])));
    quote!(&[#(#schemes),*])
}

/// The handle type of a group member: `PaymentWebhooks` + `new_event` = `PaymentWebhooksNewEvent`.
pub(crate) fn member_handle(group: &Ident, method: &Ident) -> Ident {
    let name = method.to_string();
    let name = name.strip_prefix("r#").unwrap_or(&name);
    format_ident!(
        "{}{}",
        group,
        crate::docs::upper_camel(name),
        span = method.span()
    )
}
