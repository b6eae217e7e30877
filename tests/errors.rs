//! Misconfiguration found when the document is built: an `Err` that names both sides.

use hookspec::utoipa::openapi::OpenApi;
use hookspec::{webhooks, whpost, whroute, Error, Method, OpenApiBuilder, WebhookGateway};
use serde::Serialize;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Payment {
    pub amount: f64,
}

#[whpost("new-event")]
pub async fn new_event(data: Payment) {}

pub struct PaymentWebhooks;

#[webhooks]
impl PaymentWebhooks {
    #[whpost("new-event")]
    pub async fn announce(data: Payment) {}

    #[whroute("probe", methods = [GET, HEAD])]
    pub async fn probe() {}
}

#[test]
fn the_same_name_and_method_twice() {
    let err = OpenApiBuilder::new("A", "1")
        .webhook(WebhookGateway::new(new_event))
        .webhook(WebhookGateway::new(PaymentWebhooks))
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        Error::DuplicateWebhook {
            name: "new-event".into(),
            method: Method::Post,
            first: "new_event".into(),
            second: "announce".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "webhook `new-event` POST is declared twice: by `new_event` and by `announce`"
    );
}

#[test]
fn a_renamed_gateway_resolves_the_clash() {
    let doc = OpenApiBuilder::new("A", "1")
        .webhook(WebhookGateway::new(new_event).name("payment.new"))
        .webhook(WebhookGateway::new(PaymentWebhooks))
        .build()
        .unwrap();
    let names: Vec<&String> = doc.webhooks.as_ref().unwrap().paths.keys().collect();
    assert_eq!(names, ["new-event", "payment.new", "probe"]);
    hookspec_tests::checked("renamed_gateway", &doc);
}

#[test]
fn renaming_a_group_is_an_error() {
    let err = OpenApiBuilder::new("A", "1")
        .webhook(WebhookGateway::new(PaymentWebhooks).name("x"))
        .build()
        .unwrap_err();
    assert!(
        matches!(err, Error::Gateway { option: "name", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("holds 2"), "{err}");
}

mod other {
    use super::*;

    #[whpost("other-event")]
    pub async fn new_event(data: Payment) {}
}

#[test]
fn a_duplicate_operation_id() {
    let err = OpenApiBuilder::new("A", "1")
        .webhook(WebhookGateway::new(new_event))
        .webhook(WebhookGateway::new(other::new_event))
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        Error::DuplicateOperationId {
            id: "new_event".into(),
            first: "webhook `new-event` POST".into(),
            second: "webhook `other-event` POST".into()
        }
    );
}

#[test]
fn an_operation_id_taken_by_a_path() {
    #[utoipa::path(get, path = "/events", responses((status = 200)))]
    #[allow(dead_code)]
    fn new_event() {}
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(new_event))]
    struct ApiDoc;
    use utoipa::OpenApi as _;
    let err = OpenApiBuilder::from_openapi(ApiDoc::openapi())
        .webhook(WebhookGateway::new(self::new_event))
        .build()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("by path `/events` GET and by webhook `new-event` POST"),
        "{err}"
    );
}

mod clash {
    pub mod a {
        #[derive(serde::Serialize, utoipa::ToSchema)]
        pub struct Amount {
            pub cents: i64,
        }
        #[hookspec::whpost("a")]
        pub async fn a(data: Amount) {}
    }
    pub mod b {
        #[derive(serde::Serialize, schemars::JsonSchema)]
        pub struct Amount {
            pub value: String,
        }
        #[hookspec::whpost("b")]
        pub async fn b(data: Amount) {}
    }
}

#[test]
fn two_types_with_one_schema_name() {
    let err = OpenApiBuilder::new("A", "1")
        .webhook(WebhookGateway::new(clash::a::a))
        .webhook(WebhookGateway::new(clash::b::b))
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        Error::SchemaClash {
            name: "Amount".into(),
            first: "errors::clash::a::Amount".into(),
            second: "errors::clash::b::Amount".into()
        }
    );
}

#[test]
fn an_unknown_security_scheme() {
    #[whpost("secure", security(("hmac" = [])))]
    pub async fn secure(data: Payment) {}
    let err = OpenApiBuilder::new("A", "1")
        .webhook(WebhookGateway::new(secure))
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        Error::UnknownSecurityScheme {
            webhook: "secure".into(),
            scheme: "hmac".into()
        }
    );
}

#[test]
fn a_bad_runtime_example() {
    struct NotJson;
    impl Serialize for NotJson {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("cannot serialize this"))
        }
    }
    #[whpost("odd", example = NotJson)]
    pub async fn odd(data: Payment) {}
    let err = OpenApiBuilder::new("A", "1")
        .webhook(WebhookGateway::new(odd))
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        Error::BadExample {
            webhook: "odd".into(),
            detail: "cannot serialize this".into()
        }
    );
}

#[test]
fn merging_conflicting_documents() {
    let first = OpenApiBuilder::new("A", "1")
        .webhook(WebhookGateway::new(new_event))
        .build()
        .unwrap();
    let mut base: OpenApi = first.clone();
    assert!(matches!(
        hookspec::merge(&mut base, first),
        Err(Error::DuplicatePath { .. })
    ));

    let a = OpenApiBuilder::new("A", "1")
        .webhook(WebhookGateway::new(clash::a::a))
        .build()
        .unwrap();
    let b = OpenApiBuilder::new("B", "1")
        .webhook(WebhookGateway::new(clash::b::b))
        .build()
        .unwrap();
    let mut merged = a;
    let err = hookspec::merge(&mut merged, b).unwrap_err();
    assert!(
        matches!(&err, Error::SchemaClash { name, .. } if name == "Amount"),
        "{err}"
    );
}

#[test]
fn a_lossy_schemars_schema_is_refused() {
    // `uniqueItems` has no place in utoipa's object model for a `HashSet` inside a map value.
    #[derive(Serialize, schemars::JsonSchema)]
    pub struct Lossy {
        #[schemars(extend("if" = {"type": "string"}))]
        pub a: String,
    }
    #[whpost("lossy")]
    pub async fn lossy(data: Lossy) {}
    let err = OpenApiBuilder::new("A", "1")
        .webhook(WebhookGateway::new(lossy))
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, Error::UnsupportedSchema { type_name, .. } if type_name.ends_with("Lossy")),
        "{err}"
    );
}

#[test]
fn a_dangling_ref_is_an_error_naming_it() {
    // A hand-written `ToSchema` that refers to a component its `schemas()` does not bring.
    #[derive(Serialize)]
    pub struct Careless;
    impl utoipa::PartialSchema for Careless {
        fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
            utoipa::openapi::ObjectBuilder::new()
                .property("data", utoipa::openapi::Ref::from_schema_name("Missing"))
                .into()
        }
    }
    impl utoipa::ToSchema for Careless {}
    #[whpost("careless")]
    pub async fn careless(data: Careless) {}
    let err = OpenApiBuilder::new("A", "1")
        .webhook(WebhookGateway::new(careless))
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        Error::DanglingRef {
            reference: "#/components/schemas/Missing".into(),
            at: "/components/schemas/Careless/properties/data".into()
        }
    );
    assert!(
        err.to_string().contains("#/components/schemas/Missing"),
        "{err}"
    );
}
