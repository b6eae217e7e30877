//! Expand, continued: the schema of a Rust type, picked by autoref specialisation between
//! utoipa's `ToSchema` and schemars' `JsonSchema`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, Type};

use crate::validate::wrapped;

/// The schema of a type that derives utoipa's `ToSchema` or schemars' `JsonSchema`, picked by
/// autoref specialisation. Spanned at the user's type, so a type that is neither is reported
/// at the parameter. A generic type (`Envelope<Address>`) passes its type arguments along, so
/// that each instantiation gets a name and a schema of its own.
pub(crate) fn schema_of(ty: &Type) -> TokenStream {
    if let Some(item) = wrapped(ty, "Vec") {
        let item = schema_of(item);
        return quote!(::hookspec::SchemaSource::array(#item));
    }
    if let Some(inner) = wrapped(ty, "Option") {
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
