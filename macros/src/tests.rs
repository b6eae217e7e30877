//! Expansion tests on `proc_macro2` level: no compiler, just tokens in and tokens out.

use proc_macro2::TokenStream;
use quote::quote;

use crate::expand::{webhook, Verb};
use crate::{group, Method};

fn post(attr: TokenStream, item: TokenStream) -> String {
    webhook(Verb::Fixed(Method::Post), attr, item).to_string()
}

#[test]
fn a_free_function_becomes_a_handle_type_and_a_function_returning_it() {
    let out = post(
        quote!("new-event"),
        quote!(
            async fn new_event(data: Payment) {}
        ),
    );
    assert!(out.contains("struct new_event { }"), "{out}");
    assert!(
        out.contains("fn new_event () -> new_event { new_event { } }"),
        "{out}"
    );
    assert!(
        out.contains("impl :: hookspec :: Webhook for new_event"),
        "{out}"
    );
    assert!(out.contains("type Payload = Payment ;"), "{out}");
    assert!(
        out.contains("pub const NAME : & 'static str = \"new-event\" ;"),
        "{out}"
    );
    assert!(out.contains("async fn __handler (data : Payment)"), "{out}");
    assert!(!out.contains("compile_error"), "{out}");
}

#[test]
fn json_is_unwrapped_and_query_becomes_parameters() {
    let out = post(
        quote!("a"),
        quote!(
            async fn a(Json(data): axum::Json<Payment>, q: Query<Since>) {}
        ),
    );
    assert!(out.contains("type Payload = Payment ;"), "{out}");
    assert!(
        out.contains(". query (:: hookspec :: __private :: query_params :: < Since >)"),
        "{out}"
    );
}

#[test]
fn defaults_come_from_the_doc_comment_then_the_function_name() {
    let out = post(
        quote!("a"),
        quote! {
            /// One line.
            ///
            /// More.
            async fn a() {}
        },
    );
    assert!(
        out.contains(". summary (\"One line.\")") && out.contains(". description (\"More.\")"),
        "{out}"
    );
    let out = post(
        quote!("a"),
        quote!(
            async fn new_payment() {}
        ),
    );
    assert!(out.contains(". summary (\"New Payment\")"), "{out}");
    assert!(
        out.contains("\"new_payment\""),
        "operationId from the function name: {out}"
    );
}

#[test]
fn vec_and_option_payloads_are_composed_around_the_item_schema() {
    let out = post(
        quote!("a"),
        quote!(
            async fn a(data: Vec<Option<Payment>>) {}
        ),
    );
    assert!(
        out.contains("SchemaSource :: array (:: hookspec :: SchemaSource :: nullable"),
        "{out}"
    );
    assert!(out.contains("SchemaProbe :: < Payment >"), "{out}");
}

#[test]
fn errors_are_reported_together_and_the_item_is_kept() {
    let out = post(
        quote!("", sumary = "x", status_code = 700),
        quote!(
            async fn a(data: Payment) {}
        ),
    );
    assert_eq!(out.matches("compile_error").count(), 3, "{out}");
    assert!(
        out.contains("async fn a (data : Payment)"),
        "the user's item is still emitted: {out}"
    );
}

#[test]
fn a_group_gets_one_handle_per_member() {
    let out = group::expand(
        quote!(tags = ["payments"]),
        quote! {
            impl PaymentWebhooks {
                #[whpost("new-event")]
                async fn new_event(&self, data: Payment) {}
                #[hookspec::whpost("payments")]
                async fn new_payment(&self, data: Payment) {}
                fn helper(&self) {}
            }
        },
    )
    .to_string();
    assert!(out.contains("struct PaymentWebhooksNewEvent { }"), "{out}");
    assert!(
        out.contains("struct PaymentWebhooksNewPayment { }"),
        "{out}"
    );
    assert!(
        out.contains("impl :: hookspec :: IntoWebhooks for PaymentWebhooks"),
        "{out}"
    );
    assert!(out.contains(". tags (& [\"payments\"])"), "{out}");
    assert!(
        !out.contains("# [whpost"),
        "member attributes are taken off: {out}"
    );
    assert!(
        out.contains("fn helper (& self)"),
        "other methods are kept: {out}"
    );
}

/// The macros must answer any input with tokens (maybe a `compile_error!`), never a panic.
#[test]
fn malformed_input_never_panics() {
    let attrs = [
        quote!(),
        quote!(,),
        quote!("a",),
        quote!("a", ,),
        quote!("a" "b"),
        quote!(1),
        quote!("a", tags),
        quote!("a", tags =),
        quote!("a", tags = "x"),
        quote!("a", methods = GET),
        quote!("a", responses),
        quote!("a", responses(())),
        quote!("a", responses((status))),
        quote!("a", responses((status = ))),
        quote!("a", headers(())),
        quote!("a", headers(("x" = ))),
        quote!("a", security(("x"))),
        quote!("a", security(("x" = "y"))),
        quote!("a", example =),
        quote!("a", status_code = 1e3),
        quote!("a", status_code = "99999999999999999999"),
        quote!("a", content_type = "a/"),
        quote!("a", deprecated = ),
        quote!("a", = 1),
        quote!("a", r#type = 1),
    ];
    let items = [
        quote!(
            async fn a(data: Payment) {}
        ),
        quote!(
            fn a(self) {}
        ),
        quote!(
            struct A;
        ),
        quote!(),
        quote!(fn),
        quote!(impl A {}),
    ];
    for attr in &attrs {
        for item in &items {
            let _ = webhook(Verb::Fixed(Method::Post), attr.clone(), item.clone());
            let _ = webhook(Verb::Route, attr.clone(), item.clone());
            let _ = group::expand(attr.clone(), item.clone());
        }
    }
}
