//! Generic payload types: every instantiation gets a component of its own, named the way
//! utoipa names instantiations (`Envelope_Address`), with utoipa and with schemars. Each
//! document is snapshotted, checked for dangling `$ref`s, saved for the OpenAPI validator,
//! and real serialized values validate against it.

use hookspec::utoipa::openapi::OpenApi;
use hookspec::{whpost, OpenApiBuilder, WebhookGateway};
use hookspec_tests::{checked, schema_errors};
use serde::Serialize;
use serde_json::{json, Value};

/// Types deriving utoipa's `ToSchema`.
pub mod with_utoipa {
    use super::*;

    #[derive(Serialize, utoipa::ToSchema)]
    pub struct Country {
        pub code: String,
    }

    #[derive(Serialize, utoipa::ToSchema)]
    pub struct Address {
        pub city: String,
        pub country: Country,
    }

    #[derive(Serialize, utoipa::ToSchema)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum Customer {
        Person { name: String },
        Company { vat_id: String },
    }

    #[derive(Serialize, utoipa::ToSchema)]
    pub struct Envelope<T> {
        pub id: String,
        pub data: T,
    }

    #[derive(Serialize, utoipa::ToSchema)]
    pub struct Pair<A, B> {
        pub before: A,
        pub after: B,
    }

    #[derive(Serialize, utoipa::ToSchema)]
    #[serde(tag = "op", content = "value", rename_all = "snake_case")]
    pub enum Change<T> {
        Created(T),
        Deleted,
    }

    #[derive(Serialize, utoipa::ToSchema)]
    #[schema(as = api::Wrapper)]
    pub struct Wrapper<T> {
        pub data: T,
    }

    #[whpost("address.created")]
    pub async fn address_created(data: Envelope<Address>) {}

    #[whpost("address.wrapped")]
    pub async fn address_wrapped(data: Wrapper<Address>) {}

    /// Generic types of other crates: written in place, as before.
    #[whpost("addresses.by_city", headers(("x-sent-at" = chrono::DateTime<chrono::Utc>)))]
    pub async fn addresses_by_city(data: std::collections::BTreeMap<String, Address>) {}

    #[whpost("customer.created")]
    pub async fn customer_created(data: Envelope<Customer>) {}

    #[whpost("addresses.imported")]
    pub async fn addresses_imported(data: Envelope<Vec<Address>>) {}

    #[whpost("address.cleared")]
    pub async fn address_cleared(data: Envelope<Option<Address>>) {}

    #[whpost("address.moved")]
    pub async fn address_moved(data: Pair<Address, Customer>) {}

    #[whpost("address.changed")]
    pub async fn address_changed(data: Change<Address>) {}
}

/// The same types deriving schemars' `JsonSchema`.
pub mod with_schemars {
    use super::*;

    #[derive(Serialize, schemars::JsonSchema)]
    pub struct Country {
        pub code: String,
    }

    #[derive(Serialize, schemars::JsonSchema)]
    pub struct Address {
        pub city: String,
        pub country: Country,
    }

    #[derive(Serialize, schemars::JsonSchema)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum Customer {
        Person { name: String },
        Company { vat_id: String },
    }

    #[derive(Serialize, schemars::JsonSchema)]
    pub struct Envelope<T> {
        pub id: String,
        pub data: T,
    }

    #[whpost("address.created")]
    pub async fn address_created(data: Envelope<Address>) {}

    #[whpost("customer.created")]
    pub async fn customer_created(data: Envelope<Customer>) {}

    #[whpost("addresses.imported")]
    pub async fn addresses_imported(data: Envelope<Vec<Address>>) {}

    #[whpost("address.cleared")]
    pub async fn address_cleared(data: Envelope<Option<Address>>) {}
}

fn snapshot(name: &str, doc: &OpenApi) -> Value {
    let json = checked(name, doc);
    insta::assert_snapshot!(format!("{name}.json"), json);
    insta::assert_snapshot!(format!("{name}.yaml"), doc.to_yaml().expect("YAML"));
    serde_json::from_str(&json).unwrap()
}

fn component_names(doc: &Value) -> Vec<&str> {
    doc["components"]["schemas"]
        .as_object()
        .map(|schemas| schemas.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

/// Asserts that `value` validates against component `name` of `doc`.
fn valid(doc: &OpenApi, name: &str, value: impl Serialize) {
    let value = serde_json::to_value(value).unwrap();
    assert_eq!(
        schema_errors(doc, name, &value),
        Vec::<String>::new(),
        "{name}: {value}"
    );
}

fn address() -> with_utoipa::Address {
    with_utoipa::Address {
        city: "Paris".into(),
        country: with_utoipa::Country { code: "FR".into() },
    }
}

fn envelope<T>(data: T) -> with_utoipa::Envelope<T> {
    with_utoipa::Envelope {
        id: "evt_1".into(),
        data,
    }
}

#[test]
fn one_instantiation() {
    use with_utoipa::*;
    let doc = OpenApiBuilder::new("Generics", "1")
        .webhook(WebhookGateway::new(address_created))
        .build()
        .unwrap();
    let value = snapshot("generic_one", &doc);
    assert_eq!(component_names(&value), ["Country", "Envelope_Address"]);
    valid(&doc, "Envelope_Address", envelope(address()));
    let missing_country = json!({"id": "evt_1", "data": {"city": "Paris"}});
    assert!(!schema_errors(&doc, "Envelope_Address", &missing_country).is_empty());
}

#[test]
fn two_instantiations_side_by_side() {
    use with_utoipa::*;
    let doc = OpenApiBuilder::new("Generics", "1")
        .webhook(WebhookGateway::new(address_created))
        .webhook(WebhookGateway::new(customer_created))
        .build()
        .unwrap();
    let value = snapshot("generic_two", &doc);
    assert_eq!(
        component_names(&value),
        ["Country", "Envelope_Address", "Envelope_Customer"]
    );
    valid(&doc, "Envelope_Address", envelope(address()));
    valid(
        &doc,
        "Envelope_Customer",
        envelope(Customer::Person { name: "Ada".into() }),
    );
    let an_address_as_a_customer = serde_json::to_value(envelope(address())).unwrap();
    assert!(!schema_errors(&doc, "Envelope_Customer", &an_address_as_a_customer).is_empty());
}

#[test]
fn nested_generics() {
    use with_utoipa::*;
    let doc = OpenApiBuilder::new("Generics", "1")
        .webhook(WebhookGateway::new(addresses_imported))
        .webhook(WebhookGateway::new(address_cleared))
        .webhook(WebhookGateway::new(address_moved))
        .build()
        .unwrap();
    let value = snapshot("generic_nested", &doc);
    assert_eq!(
        component_names(&value),
        [
            "Country",
            "Envelope_Option_Address",
            "Envelope_Vec_Address",
            "Pair_Address_Customer"
        ]
    );
    valid(
        &doc,
        "Envelope_Vec_Address",
        envelope(vec![address(), address()]),
    );
    valid(&doc, "Envelope_Option_Address", envelope(Some(address())));
    valid(&doc, "Envelope_Option_Address", envelope(None::<Address>));
    let moved = Pair {
        before: address(),
        after: Customer::Company {
            vat_id: "FR1".into(),
        },
    };
    valid(&doc, "Pair_Address_Customer", moved);
    let one_address_for_a_list = serde_json::to_value(envelope(address())).unwrap();
    assert!(!schema_errors(&doc, "Envelope_Vec_Address", &one_address_for_a_list).is_empty());
}

#[test]
fn a_generic_enum_and_a_generic_over_an_enum() {
    use with_utoipa::*;
    let doc = OpenApiBuilder::new("Generics", "1")
        .webhook(WebhookGateway::new(customer_created))
        .webhook(WebhookGateway::new(address_changed))
        .build()
        .unwrap();
    let value = snapshot("generic_enum", &doc);
    assert_eq!(
        component_names(&value),
        ["Change_Address", "Country", "Envelope_Customer"]
    );
    valid(&doc, "Change_Address", Change::Created(address()));
    valid(&doc, "Change_Address", Change::<Address>::Deleted);
    valid(
        &doc,
        "Envelope_Customer",
        envelope(Customer::Company {
            vat_id: "FR1".into(),
        }),
    );
    let unknown_op = json!({"op": "archived"});
    assert!(!schema_errors(&doc, "Change_Address", &unknown_op).is_empty());
}

#[test]
fn schemars_instantiations() {
    use with_schemars::*;
    let doc = OpenApiBuilder::new("Generics", "1")
        .webhook(WebhookGateway::new(address_created))
        .webhook(WebhookGateway::new(customer_created))
        .webhook(WebhookGateway::new(addresses_imported))
        .webhook(WebhookGateway::new(address_cleared))
        .build()
        .unwrap();
    let value = snapshot("generic_schemars", &doc);
    assert_eq!(
        component_names(&value),
        [
            "Address",
            "Country",
            "Customer",
            "Envelope_Address",
            "Envelope_Array_of_Address",
            "Envelope_Customer",
            "Envelope_Nullable_Address"
        ]
    );
    let address = || Address {
        city: "Lyon".into(),
        country: Country { code: "FR".into() },
    };
    let envelope = |data| Envelope {
        id: "evt_2".into(),
        data,
    };
    valid(&doc, "Envelope_Address", envelope(address()));
    valid(
        &doc,
        "Envelope_Customer",
        Envelope {
            id: "e".into(),
            data: Customer::Person { name: "Ada".into() },
        },
    );
    valid(
        &doc,
        "Envelope_Array_of_Address",
        Envelope {
            id: "e".into(),
            data: vec![address()],
        },
    );
    valid(
        &doc,
        "Envelope_Nullable_Address",
        Envelope {
            id: "e".into(),
            data: None::<Address>,
        },
    );
    valid(
        &doc,
        "Envelope_Nullable_Address",
        Envelope {
            id: "e".into(),
            data: Some(address()),
        },
    );
    let bad_customer = json!({"id": "e", "data": {"kind": "robot"}});
    assert!(!schema_errors(&doc, "Envelope_Customer", &bad_customer).is_empty());
}

#[test]
fn a_renamed_generic_keeps_its_alias_in_the_name() {
    use with_utoipa::*;
    let doc = OpenApiBuilder::new("Generics", "1")
        .webhook(WebhookGateway::new(address_wrapped))
        .build()
        .unwrap();
    let value: Value = serde_json::from_str(&checked("generic_alias", &doc)).unwrap();
    assert_eq!(component_names(&value), ["Country", "api.Wrapper_Address"]);
    valid(&doc, "api.Wrapper_Address", Wrapper { data: address() });
}

#[test]
fn generic_types_of_other_crates_stay_inline() {
    use with_utoipa::*;
    let doc = OpenApiBuilder::new("Generics", "1")
        .webhook(WebhookGateway::new(addresses_by_city))
        .build()
        .unwrap();
    let value: Value = serde_json::from_str(&checked("generic_foreign", &doc)).unwrap();
    let operation = &value["webhooks"]["addresses.by_city"]["post"];
    let body = &operation["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(body["type"], "object", "{body}");
    let header = &operation["parameters"][0]["schema"];
    assert_eq!(header["format"], "date-time", "{header}");
    let map = std::collections::BTreeMap::from([("Paris".to_owned(), address())]);
    assert_eq!(
        hookspec_tests::request_body_errors(
            &doc,
            "addresses.by_city",
            &serde_json::to_value(map).unwrap()
        ),
        Vec::<String>::new()
    );
}
