//! Hygiene: every macro under `#[no_implicit_prelude]`, with `hookspec` renamed to `hs`.
//!
//! Generated code names everything by absolute path (`::hookspec::..`, `::core::..`), so the
//! only thing a crate that renames the dependency needs is the one `extern crate` line below.
//! The payload types live outside the checked module: utoipa's derives are not hygienic.
#![allow(dead_code, unused_variables)]

extern crate hs as hookspec;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Payment {
    pub amount: f64,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Invoice {
    pub number: u32,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Wrapper<T> {
    pub data: T,
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
pub struct Since {
    pub cursor: u64,
}

#[no_implicit_prelude]
pub mod hygienic {
    use super::{Invoice, Payment, Since, Wrapper};
    use ::hookspec::{
        webhooks, whdelete, whead, whget, whoptions, whpatch, whpost, whput, whroute, whtrace,
    };

    pub struct Query<T>(pub T);
    pub struct Json<T>(pub T);

    #[whget("get", headers(("x-a", description = "a")), security(("k" = ["s"])))]
    pub async fn get(query: Query<Since>) {}

    #[whpost(
        "post",
        summary = "s",
        description = "d",
        operation_id = "op",
        tags = ["t"],
        deprecated,
        status_code = 204,
        response_description = "r",
        responses((status = 410, description = "gone", body = Payment, headers(("retry-after" = u32)))),
        content_type = "application/json",
        include_in_schema = true,
        example = r#"{"amount": 1.0}"#
    )]
    pub async fn post(data: Json<Payment>) -> Payment {
        Payment { amount: 1.0 }
    }

    #[whput("put", example = Payment { amount: 2.0 })]
    pub async fn put(data: ::std::vec::Vec<Invoice>) {}

    #[whpatch("patch")]
    pub async fn patch(data: ::std::option::Option<Payment>) {}

    #[whdelete("delete", envelope)]
    pub async fn delete(data: Wrapper<::std::vec::Vec<Payment>>) {}

    #[whead("head")]
    pub async fn head() {}

    #[whoptions("options")]
    pub async fn options() {}

    #[whtrace("trace")]
    pub async fn trace() {}

    #[whroute("route", methods = [GET, POST])]
    pub fn route(data: Invoice) {}

    pub struct Group;

    #[webhooks(
        tags = ["g"],
        deprecated,
        security(("k" = [])),
        include_in_schema = true,
        envelope = false
    )]
    impl Group {
        #[whpost("member")]
        pub async fn member(&self, data: Payment) {}

        #[::hookspec::whroute("member-route", methods = [PUT, PATCH])]
        pub fn member_route(data: Invoice) {}
    }

    /// Uses every handle, so the test fails if one did not expand to what `IntoWebhooks` needs.
    pub fn gateways() -> ::std::vec::Vec<::hookspec::WebhookGateway> {
        ::std::vec![
            ::hookspec::WebhookGateway::new(get),
            ::hookspec::WebhookGateway::new(post),
            ::hookspec::WebhookGateway::new(put),
            ::hookspec::WebhookGateway::new(patch),
            ::hookspec::WebhookGateway::new(delete),
            ::hookspec::WebhookGateway::new(head),
            ::hookspec::WebhookGateway::new(options),
            ::hookspec::WebhookGateway::new(trace),
            ::hookspec::WebhookGateway::new(route),
            ::hookspec::WebhookGateway::new(Group),
        ]
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_hygienic_declaration_reaches_the_document() {
        let doc = super::hygienic::gateways()
            .into_iter()
            .fold(hookspec::OpenApiBuilder::new("Hygiene", "1"), |b, g| {
                b.webhook(g)
            })
            .security_scheme(
                "k",
                utoipa::openapi::security::SecurityScheme::ApiKey(
                    utoipa::openapi::security::ApiKey::Header(
                        utoipa::openapi::security::ApiKeyValue::new("k"),
                    ),
                ),
            )
            .build()
            .unwrap();
        let names: Vec<&String> = doc.webhooks.as_ref().unwrap().paths.keys().collect();
        assert_eq!(
            names,
            [
                "delete",
                "get",
                "head",
                "member",
                "member-route",
                "options",
                "patch",
                "post",
                "put",
                "route",
                "trace"
            ]
        );
    }
}
