#![doc = include_str!("../docs/crate.md")]

// The `wh*` macros name `::hookspec`; this lets the crate declare webhooks of its own.
extern crate self as hookspec;

#[cfg(feature = "app")]
mod app;
pub mod compat;
mod definition;
#[cfg(feature = "delivery")]
pub mod delivery;
mod document;
mod envelope;
mod error;
pub mod example;
mod gateway;
mod generic;
#[cfg(feature = "management")]
pub mod management;
mod merge;
mod method;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(feature = "portal")]
pub mod portal;
#[cfg(feature = "receiver")]
pub mod receiver;
mod refs;
mod schema;
#[cfg(feature = "signing")]
pub mod signing;

#[cfg(feature = "app")]
pub use app::{App, AppError, BoundApp, Endpoints};
pub use definition::{ExampleFn, HeaderDef, Overrides, QueryFn, ResponseDef, WebhookDef};
pub use document::OpenApiBuilder;
pub use envelope::Envelope;
pub use error::Error;
pub use gateway::{IntoWebhooks, Webhook, WebhookGateway};
pub use hookspec_macros::{
    webhooks, whdelete, whead, whget, whoptions, whpatch, whpost, whput, whroute, whtrace,
};
pub use merge::merge;
pub use method::Method;
pub use schema::SchemaSource;

/// Re-exported so that users name one version of the document model.
pub use utoipa;
/// Re-exported for [`App::routes`].
#[cfg(feature = "app")]
pub use utoipa_axum;

/// Support for the code the macros generate. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::generic::{
        ArgOpaque, ArgViaSchemars, ArgViaUtoipa, ArgViaUtoipaComposed, TypeArg, ViaSchemarsGeneric,
        ViaUtoipaGeneric,
    };
    pub use crate::schema::{
        schema_of, HasSchema, NoSchema, SchemaProbe, ViaNeither, ViaSchemars, ViaUtoipa,
    };
    pub use std::string::String;
    pub use std::vec::Vec;

    /// Serializes an `example = expr` value.
    pub fn to_example<T: serde::Serialize + ?Sized>(
        value: &T,
    ) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(value)
    }

    /// The query parameters of a `Query<T>` parameter.
    pub fn query_params<T: utoipa::IntoParams>() -> Vec<utoipa::openapi::path::Parameter> {
        T::into_params(|| Some(utoipa::openapi::path::ParameterIn::Query))
    }
}
