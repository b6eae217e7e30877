//! Payload schemas from utoipa's `ToSchema` or schemars' `JsonSchema`, into one
//! `components/schemas` map without clashes.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use serde_json::Value;
use utoipa::openapi::{RefOr, Schema};

use crate::generic::{RegisterGeneric, TypeArg};
use crate::Error;

/// How to get the schema of one Rust type into a document. Built by the `wh*` macros.
///
/// `Vec<T>` and `Option<T>` are composed here rather than by utoipa, whose own impls would
/// inline `T` instead of referring to its component.
#[derive(Clone)]
pub struct SchemaSource(Kind);

#[derive(Clone)]
enum Kind {
    Type {
        type_name: &'static str,
        register: fn(&mut SchemaRegistry) -> Result<RefOr<Schema>, Error>,
    },
    Generic {
        type_name: &'static str,
        id: std::any::TypeId,
        register: RegisterGeneric,
        args: Vec<TypeArg>,
    },
    Array(Box<SchemaSource>),
    Nullable(Box<SchemaSource>),
}

impl SchemaSource {
    /// The Rust type the schema describes, e.g. `alloc::vec::Vec<my::Payment>`.
    pub fn type_name(&self) -> String {
        match &self.0 {
            Kind::Type { type_name, .. } | Kind::Generic { type_name, .. } => {
                (*type_name).to_owned()
            }
            Kind::Array(item) => format!("alloc::vec::Vec<{}>", item.type_name()),
            Kind::Nullable(inner) => format!("core::option::Option<{}>", inner.type_name()),
        }
    }

    /// Registers the type's named schemas and returns the schema (or `$ref`) to use in place.
    pub(crate) fn register(&self, registry: &mut SchemaRegistry) -> Result<RefOr<Schema>, Error> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
        Ok(match &self.0 {
            Kind::Type { register, .. } => register(registry)?,
            Kind::Generic {
                id, register, args, ..
            } => registry.once(*id, |registry| register(registry, args))?,
            Kind::Array(item) => ArrayBuilder::new().items(item.register(registry)?).into(),
            Kind::Nullable(inner) => OneOfBuilder::new()
                .item(ObjectBuilder::new().schema_type(Type::Null))
                .item(inner.register(registry)?)
                .into(),
        })
    }

    /// The schema of a type that implements utoipa's `ToSchema`.
    pub fn utoipa<T: utoipa::ToSchema + 'static>() -> Self {
        SchemaSource(Kind::Type {
            type_name: std::any::type_name::<T>(),
            register: register_utoipa::<T>,
        })
    }

    /// The schema of a type that implements schemars' `JsonSchema`.
    pub fn schemars<T: schemars::JsonSchema + 'static>() -> Self {
        SchemaSource(Kind::Type {
            type_name: std::any::type_name::<T>(),
            register: register_schemars::<T>,
        })
    }

    /// A generic type's instantiation, registered by `register` with its type arguments.
    pub(crate) fn generic(
        type_name: &'static str,
        id: std::any::TypeId,
        register: RegisterGeneric,
        args: Vec<TypeArg>,
    ) -> Self {
        SchemaSource(Kind::Generic {
            type_name,
            id,
            register,
            args,
        })
    }

    /// An array of `item`: the schema of `Vec<T>`.
    pub fn array(item: SchemaSource) -> Self {
        SchemaSource(Kind::Array(Box::new(item)))
    }

    /// `inner` or `null`: the schema of `Option<T>`.
    pub fn nullable(inner: SchemaSource) -> Self {
        SchemaSource(Kind::Nullable(Box::new(inner)))
    }
}

impl std::fmt::Debug for SchemaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SchemaSource")
            .field(&self.type_name())
            .finish()
    }
}

/// The schemas of a document under construction, each with the type that brought it.
#[derive(Default)]
pub(crate) struct SchemaRegistry {
    schemas: BTreeMap<String, (RefOr<Schema>, String)>,
    /// Rust types whose schemas are in already, with what stands in their place: a payload
    /// type used by many webhooks is generated and compared once, not once per webhook.
    done: std::collections::HashMap<std::any::TypeId, RefOr<Schema>>,
}

impl SchemaRegistry {
    pub(crate) fn insert(
        &mut self,
        name: String,
        schema: RefOr<Schema>,
        origin: &str,
    ) -> Result<(), Error> {
        match self.schemas.get(&name) {
            Some((existing, _)) if *existing == schema => Ok(()),
            Some((_, first)) => Err(Error::SchemaClash {
                name,
                first: first.clone(),
                second: origin.to_owned(),
            }),
            None => {
                self.schemas.insert(name, (schema, origin.to_owned()));
                Ok(())
            }
        }
    }

    /// Inserts every `(name, schema)` of `schemas`, all brought by `origin`.
    pub(crate) fn insert_all(
        &mut self,
        schemas: Vec<(String, RefOr<Schema>)>,
        origin: &str,
    ) -> Result<(), Error> {
        for (name, schema) in schemas {
            self.insert(name, schema, origin)?;
        }
        Ok(())
    }

    /// Registers the type `id` with `register` the first time, and answers from memory
    /// afterwards.
    fn once(
        &mut self,
        id: std::any::TypeId,
        register: impl FnOnce(&mut SchemaRegistry) -> Result<RefOr<Schema>, Error>,
    ) -> Result<RefOr<Schema>, Error> {
        if let Some(schema) = self.done.get(&id) {
            return Ok(schema.clone());
        }
        let schema = register(self)?;
        self.done.insert(id, schema.clone());
        Ok(schema)
    }

    pub(crate) fn into_schemas(self) -> impl Iterator<Item = (String, RefOr<Schema>)> {
        self.schemas
            .into_iter()
            .map(|(name, (schema, _))| (name, schema))
    }
}

/// Types of the standard library and primitives are written inline; the user's own types get
/// a component and a `$ref`, as utoipa does for derived types.
pub(crate) fn is_named(type_name: &str) -> bool {
    const INLINE_PREFIXES: [&str; 3] = ["alloc::", "core::", "std::"];
    type_name.starts_with(|c: char| c.is_ascii_alphabetic())
        && type_name.contains("::")
        && !INLINE_PREFIXES.iter().any(|p| type_name.starts_with(p))
}

fn register_utoipa<T: utoipa::ToSchema + 'static>(
    registry: &mut SchemaRegistry,
) -> Result<RefOr<Schema>, Error> {
    registry.once(std::any::TypeId::of::<T>(), register_utoipa_uncached::<T>)
}

fn register_utoipa_uncached<T: utoipa::ToSchema + 'static>(
    registry: &mut SchemaRegistry,
) -> Result<RefOr<Schema>, Error> {
    let origin = std::any::type_name::<T>();
    let mut nested = Vec::new();
    T::schemas(&mut nested);
    registry.insert_all(nested, origin)?;
    if !is_named(origin) {
        return Ok(T::schema());
    }
    let name = T::name().into_owned();
    registry.insert(name.clone(), T::schema(), origin)?;
    Ok(utoipa::openapi::Ref::from_schema_name(name).into())
}

fn register_schemars<T: schemars::JsonSchema + 'static>(
    registry: &mut SchemaRegistry,
) -> Result<RefOr<Schema>, Error> {
    registry.once(std::any::TypeId::of::<T>(), register_schemars_uncached::<T>)
}

fn register_schemars_uncached<T: schemars::JsonSchema + 'static>(
    registry: &mut SchemaRegistry,
) -> Result<RefOr<Schema>, Error> {
    let origin = std::any::type_name::<T>();
    let mut generator = schemars_generator();
    let root = generator.subschema_for::<T>();
    registry.insert_schemars_definitions(&mut generator, origin)?;
    json_to_utoipa(root.to_value(), origin)
}

/// `T`'s own schema written out (not a `$ref` to it), after registering what it refers to.
pub(crate) fn register_schemars_body<T: schemars::JsonSchema>(
    registry: &mut SchemaRegistry,
) -> Result<RefOr<Schema>, Error> {
    let origin = std::any::type_name::<T>();
    let mut generator = schemars_generator();
    let body = T::json_schema(&mut generator);
    registry.insert_schemars_definitions(&mut generator, origin)?;
    json_to_utoipa(body.to_value(), origin)
}

fn schemars_generator() -> schemars::SchemaGenerator {
    let mut settings = schemars::generate::SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    settings.meta_schema = None;
    // A webhook payload is what the sender serializes.
    settings.contract = schemars::generate::Contract::Serialize;
    settings.into_generator()
}

impl SchemaRegistry {
    fn insert_schemars_definitions(
        &mut self,
        generator: &mut schemars::SchemaGenerator,
        origin: &str,
    ) -> Result<(), Error> {
        for (name, schema) in generator.take_definitions(true) {
            self.insert(name, json_to_utoipa(schema, origin)?, origin)?;
        }
        Ok(())
    }
}

/// Converts a JSON Schema 2020-12 value into utoipa's model, refusing any loss: utoipa's model
/// drops keywords it does not know, and a silently weaker schema would document a lie.
pub(crate) fn json_to_utoipa(mut value: Value, type_name: &str) -> Result<RefOr<Schema>, Error> {
    normalize(&mut value);
    let unsupported = |detail: String| Error::UnsupportedSchema {
        type_name: type_name.to_owned(),
        detail,
    };
    let schema: RefOr<Schema> =
        serde_json::from_value(value.clone()).map_err(|e| unsupported(e.to_string()))?;
    let back = serde_json::to_value(&schema).map_err(|e| unsupported(e.to_string()))?;
    match first_difference(&value, &back, "#") {
        None => Ok(schema),
        Some(at) => Err(unsupported(format!(
            "the keyword at `{at}` is not in utoipa's schema model"
        ))),
    }
}

/// Rewrites equivalent forms utoipa can hold: `const: x` is `enum: [x]`.
fn normalize(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(constant) = map.remove("const") {
                map.insert("enum".to_owned(), Value::Array(vec![constant]));
            }
            map.values_mut().for_each(normalize);
        }
        Value::Array(items) => items.iter_mut().for_each(normalize),
        _ => {}
    }
}

/// The JSON pointer of the first place where `b` lost or changed something of `a`. Numbers
/// compare by value (`0` and `0.0` are the same bound).
fn first_difference(a: &Value, b: &Value, at: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            a.iter().find_map(|(key, value)| match b.get(key) {
                Some(other) => first_difference(value, other, &format!("{at}/{key}")),
                None => Some(format!("{at}/{key}")),
            })
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| first_difference(x, y, &format!("{at}/{i}"))),
        (Value::Number(x), Value::Number(y)) if x.as_f64() == y.as_f64() => None,
        _ if a == b => None,
        _ => Some(at.to_owned()),
    }
}

/// Autoref specialisation: `(&&&SchemaProbe::<T>::new()).schema_source()` picks utoipa when `T`
/// implements `ToSchema`, else schemars when it implements `JsonSchema`, else [`ViaNeither`],
/// whose [`NoSchema`] then fails [`schema_of`] with a message that names both traits.
#[doc(hidden)]
pub struct SchemaProbe<T: ?Sized>(PhantomData<T>);

impl<T: ?Sized> SchemaProbe<T> {
    #[doc(hidden)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        SchemaProbe(PhantomData)
    }
}

/// Picks utoipa's `ToSchema`; see [`SchemaProbe`].
#[doc(hidden)]
pub trait ViaUtoipa {
    #[doc(hidden)]
    fn schema_source(&self) -> SchemaSource;
}

impl<T: utoipa::ToSchema + 'static> ViaUtoipa for &&SchemaProbe<T> {
    fn schema_source(&self) -> SchemaSource {
        SchemaSource::utoipa::<T>()
    }
}

/// Picks schemars' `JsonSchema`; see [`SchemaProbe`].
#[doc(hidden)]
pub trait ViaSchemars {
    #[doc(hidden)]
    fn schema_source(&self) -> SchemaSource;
}

impl<T: schemars::JsonSchema + 'static> ViaSchemars for &SchemaProbe<T> {
    fn schema_source(&self) -> SchemaSource {
        SchemaSource::schemars::<T>()
    }
}

/// The probe's last resort: `T` has no schema. What it returns is not a [`SchemaSource`], so
/// that [`schema_of`] reports the type, rather than the method call failing with an error
/// about the probe's own traits.
#[doc(hidden)]
pub trait ViaNeither {
    #[doc(hidden)]
    type Missing;
    #[doc(hidden)]
    fn schema_source(&self) -> Self::Missing;
    #[doc(hidden)]
    fn generic_source(&self, args: Vec<crate::generic::TypeArg>) -> Self::Missing;
}

impl<T: ?Sized> ViaNeither for SchemaProbe<T> {
    type Missing = NoSchema<T>;

    fn schema_source(&self) -> NoSchema<T> {
        NoSchema(PhantomData)
    }

    fn generic_source(&self, _args: Vec<crate::generic::TypeArg>) -> NoSchema<T> {
        NoSchema(PhantomData)
    }
}

/// What the probe of a type without a schema gives; see [`ViaNeither`].
#[doc(hidden)]
pub struct NoSchema<T: ?Sized>(PhantomData<T>);

/// A probe's result that is a schema source for `T`.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{T}` has no schema: it implements neither utoipa's `ToSchema` nor schemars' `JsonSchema`",
    label = "a payload, header or response type needs a schema",
    note = "derive one of them on the type: `#[derive(utoipa::ToSchema)]` or `#[derive(schemars::JsonSchema)]`"
)]
pub trait HasSchema<T: ?Sized> {
    #[doc(hidden)]
    fn into_source(self) -> SchemaSource;
}

impl<T: ?Sized> HasSchema<T> for SchemaSource {
    fn into_source(self) -> SchemaSource {
        self
    }
}

/// The schema source the probe of `T` found; a compile error naming `T` when it found none.
#[doc(hidden)]
pub fn schema_of<T: ?Sized, S: HasSchema<T>>(source: S) -> SchemaSource {
    source.into_source()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn std_types_are_inline_and_user_types_named() {
        assert!(!is_named("alloc::string::String"));
        assert!(!is_named("core::option::Option<my::Payment>"));
        assert!(!is_named("u32"));
        assert!(is_named("payments::Payment"));
    }

    #[test]
    fn const_becomes_a_one_value_enum() {
        let schema = json_to_utoipa(json!({"type": "string", "const": "A"}), "T").unwrap();
        assert_eq!(
            serde_json::to_value(schema).unwrap(),
            json!({"type": "string", "enum": ["A"]})
        );
    }

    #[test]
    fn a_keyword_utoipa_drops_is_an_error_not_a_silent_loss() {
        let err = json_to_utoipa(json!({"type": "object", "if": {"type": "object"}}), "my::T")
            .unwrap_err();
        assert!(
            err.to_string().contains("my::T") && err.to_string().contains("#/if"),
            "{err}"
        );
    }

    #[test]
    fn same_name_same_schema_is_fine_different_schema_clashes() {
        let mut registry = SchemaRegistry::default();
        let a: RefOr<Schema> = serde_json::from_value(json!({"type": "string"})).unwrap();
        let b: RefOr<Schema> = serde_json::from_value(json!({"type": "integer"})).unwrap();
        registry.insert("X".into(), a.clone(), "one::X").unwrap();
        registry.insert("X".into(), a, "again::X").unwrap();
        let err = registry.insert("X".into(), b, "two::X").unwrap_err();
        assert_eq!(
            err,
            Error::SchemaClash {
                name: "X".into(),
                first: "one::X".into(),
                second: "two::X".into()
            }
        );
    }
}
