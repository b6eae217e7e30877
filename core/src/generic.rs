//! Instantiations of generic payload types (`Envelope<Address>`), named and composed the way
//! utoipa's own `#[openapi(components(schemas(Envelope<Address>)))]` does it.
//!
//! utoipa's derive gives a generic type one `name()` for every instantiation (`Envelope`) and a
//! `schema()` that refers to the type argument's component without registering it. Where utoipa
//! meets `Envelope<Address>` inside another type or in `components(schemas(..))`, it composes
//! the schema with the argument inlined and names it from the type tree:
//! `Envelope_Address`, `Envelope_Vec_Address`, `Envelope_Option_Address`,
//! `Pair_Address_Customer`, each part being that type's `ToSchema::name()` (so a
//! `#[schema(as = api::Envelope)]` gives `api.Envelope_Address`). The macros pass the type tree
//! they see, and this module does the same.
//!
//! schemars 1 also gives every instantiation the same `schema_name()` (and numbers clashes
//! within one generator: `Envelope`, `Envelope2`, in whatever order it meets them). hookspec
//! names a schemars instantiation like utoipa's, from each part's `schema_name()`:
//! `Envelope_Address`, `Envelope_Array_of_Address`, `Envelope_Nullable_Address`.

use std::borrow::Cow;

use utoipa::openapi::{RefOr, Schema};

use crate::schema::{is_named, register_schemars_body, SchemaProbe, SchemaRegistry, SchemaSource};
use crate::Error;

type Schemas = Vec<(String, RefOr<Schema>)>;

/// One type argument of a generic payload type, as the macros see it. Not public API.
#[doc(hidden)]
#[derive(Clone)]
pub struct TypeArg(ArgKind);

#[derive(Clone)]
enum ArgKind {
    Utoipa {
        name: fn() -> Cow<'static, str>,
        schema: ArgSchema,
        references: fn(&mut Schemas),
        args: Vec<TypeArg>,
    },
    Schemars {
        name: fn() -> Cow<'static, str>,
    },
    /// Neither: only schemars can have a schema for a type over it (`DateTime<Utc>`).
    Opaque {
        type_name: &'static str,
    },
}

#[derive(Clone)]
enum ArgSchema {
    /// A type without type arguments: its own schema.
    Leaf(fn() -> RefOr<Schema>),
    /// A generic type: its schema composed with its arguments'.
    Composed(fn(Vec<RefOr<Schema>>) -> RefOr<Schema>),
}

impl TypeArg {
    /// A utoipa type without type arguments.
    pub(crate) fn utoipa_leaf<T: utoipa::ToSchema>() -> Self {
        TypeArg(ArgKind::Utoipa {
            name: T::name,
            schema: ArgSchema::Leaf(T::schema),
            references: T::schemas,
            args: Vec::new(),
        })
    }

    /// A generic utoipa type with its arguments.
    pub(crate) fn utoipa_composed<T>(args: Vec<TypeArg>) -> Self
    where
        T: utoipa::ToSchema + utoipa::__dev::ComposeSchema,
    {
        TypeArg(ArgKind::Utoipa {
            name: T::name,
            schema: ArgSchema::Composed(T::compose),
            references: T::schemas,
            args,
        })
    }

    /// A schemars type: schemars composes generics itself, so only its name counts.
    pub(crate) fn schemars<T: schemars::JsonSchema>() -> Self {
        TypeArg(ArgKind::Schemars {
            name: T::schema_name,
        })
    }

    /// utoipa's name for this argument: `Address`, `Vec_Address`.
    fn utoipa_name(&self, type_name: &str) -> Result<String, Error> {
        match &self.0 {
            ArgKind::Utoipa { name, args, .. } if args.is_empty() => Ok(name().into_owned()),
            ArgKind::Utoipa { name, args, .. } => {
                Ok(format!("{}_{}", name(), utoipa_names(args, type_name)?))
            }
            ArgKind::Schemars { .. } | ArgKind::Opaque { .. } => Err(mixed(type_name)),
        }
    }

    /// The argument's schema, inline, after registering the components it refers to.
    fn utoipa_inline(
        &self,
        registry: &mut SchemaRegistry,
        type_name: &str,
    ) -> Result<RefOr<Schema>, Error> {
        let ArgKind::Utoipa {
            schema,
            references,
            args,
            ..
        } = &self.0
        else {
            return Err(mixed(type_name));
        };
        let mut nested = Vec::new();
        references(&mut nested);
        registry.insert_all(nested, type_name)?;
        Ok(match schema {
            ArgSchema::Leaf(schema) => schema(),
            ArgSchema::Composed(compose) => compose(utoipa_inline_all(args, registry, type_name)?),
        })
    }

    /// The argument's part of a schemars instantiation's name: its `schema_name()`, else the
    /// last segment of its Rust path.
    fn schemars_name(&self) -> Cow<'static, str> {
        match &self.0 {
            ArgKind::Utoipa { name, .. } | ArgKind::Schemars { name } => name(),
            ArgKind::Opaque { type_name } => {
                let path = type_name.split('<').next().unwrap_or(type_name);
                Cow::Borrowed(path.rsplit("::").next().unwrap_or(path))
            }
        }
    }
}

fn utoipa_names(args: &[TypeArg], type_name: &str) -> Result<String, Error> {
    let names = args
        .iter()
        .map(|arg| arg.utoipa_name(type_name))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(names.join("_"))
}

fn utoipa_inline_all(
    args: &[TypeArg],
    registry: &mut SchemaRegistry,
    type_name: &str,
) -> Result<Vec<RefOr<Schema>>, Error> {
    args.iter()
        .map(|arg| arg.utoipa_inline(registry, type_name))
        .collect()
}

/// A utoipa type's arguments are utoipa types (its derive requires `T: ToSchema`); one that
/// is not can only come from a hand-written bound, and would make a schema utoipa cannot compose.
fn mixed(type_name: &str) -> Error {
    Error::UnsupportedSchema {
        type_name: type_name.to_owned(),
        detail: "a utoipa generic type with a type argument that does not implement `ToSchema`"
            .to_owned(),
    }
}

impl SchemaSource {
    /// The schema of `T<args..>`, a generic type deriving utoipa's `ToSchema`.
    pub(crate) fn utoipa_generic<T>(args: Vec<TypeArg>) -> Self
    where
        T: utoipa::ToSchema + utoipa::__dev::ComposeSchema + 'static,
    {
        SchemaSource::generic(
            std::any::type_name::<T>(),
            std::any::TypeId::of::<T>(),
            register_utoipa_generic::<T>,
            args,
        )
    }

    /// The schema of `T<args..>`, a generic type deriving schemars' `JsonSchema`.
    pub(crate) fn schemars_generic<T: schemars::JsonSchema + 'static>(args: Vec<TypeArg>) -> Self {
        SchemaSource::generic(
            std::any::type_name::<T>(),
            std::any::TypeId::of::<T>(),
            register_schemars_generic::<T>,
            args,
        )
    }
}

/// What registering a generic instantiation runs.
pub(crate) type RegisterGeneric =
    fn(&mut SchemaRegistry, &[TypeArg]) -> Result<RefOr<Schema>, Error>;

fn register_utoipa_generic<T>(
    registry: &mut SchemaRegistry,
    args: &[TypeArg],
) -> Result<RefOr<Schema>, Error>
where
    T: utoipa::ToSchema + utoipa::__dev::ComposeSchema + 'static,
{
    let origin = std::any::type_name::<T>();
    let mut nested = Vec::new();
    T::schemas(&mut nested);
    registry.insert_all(nested, origin)?;
    let schema = T::compose(utoipa_inline_all(args, registry, origin)?);
    if !is_named(origin) {
        // `HashMap<String, Address>` and the like are written in place, as utoipa does.
        return Ok(schema);
    }
    let name = format!("{}_{}", T::name(), utoipa_names(args, origin)?);
    registry.insert(name.clone(), schema, origin)?;
    Ok(utoipa::openapi::Ref::from_schema_name(name).into())
}

fn register_schemars_generic<T: schemars::JsonSchema + 'static>(
    registry: &mut SchemaRegistry,
    args: &[TypeArg],
) -> Result<RefOr<Schema>, Error> {
    let origin = std::any::type_name::<T>();
    let body = register_schemars_body::<T>(registry)?;
    if !is_named(origin) || T::inline_schema() {
        return Ok(body);
    }
    let names: Vec<_> = args.iter().map(TypeArg::schemars_name).collect();
    let name = format!("{}_{}", T::schema_name(), names.join("_"));
    registry.insert(name.clone(), body, origin)?;
    Ok(utoipa::openapi::Ref::from_schema_name(name).into())
}

/// Picks utoipa's `ToSchema` for a generic type; see [`SchemaProbe`].
#[doc(hidden)]
pub trait ViaUtoipaGeneric {
    #[doc(hidden)]
    fn generic_source(&self, args: Vec<TypeArg>) -> SchemaSource;
}

impl<T> ViaUtoipaGeneric for &&SchemaProbe<T>
where
    T: utoipa::ToSchema + utoipa::__dev::ComposeSchema + 'static,
{
    fn generic_source(&self, args: Vec<TypeArg>) -> SchemaSource {
        SchemaSource::utoipa_generic::<T>(args)
    }
}

/// Picks schemars' `JsonSchema` for a generic type; see [`SchemaProbe`].
#[doc(hidden)]
pub trait ViaSchemarsGeneric {
    #[doc(hidden)]
    fn generic_source(&self, args: Vec<TypeArg>) -> SchemaSource;
}

impl<T: schemars::JsonSchema + 'static> ViaSchemarsGeneric for &SchemaProbe<T> {
    fn generic_source(&self, args: Vec<TypeArg>) -> SchemaSource {
        SchemaSource::schemars_generic::<T>(args)
    }
}

// A type argument is probed at three levels, `(&&&SchemaProbe::<A>::new()).leaf_arg()`:
// utoipa, else schemars, else neither. A type argument need not be a schema of its own
// (`DateTime<Utc>`: schemars knows the whole type, not `Utc`), so the last level always
// applies; whether the generic type itself has a schema is checked by its own probe.

/// A type argument that implements utoipa's `ToSchema`.
#[doc(hidden)]
pub trait ArgViaUtoipa {
    #[doc(hidden)]
    fn leaf_arg(&self) -> TypeArg;
}

impl<T: utoipa::ToSchema> ArgViaUtoipa for &&SchemaProbe<T> {
    fn leaf_arg(&self) -> TypeArg {
        TypeArg::utoipa_leaf::<T>()
    }
}

/// A generic type argument that utoipa composes.
#[doc(hidden)]
pub trait ArgViaUtoipaComposed {
    #[doc(hidden)]
    fn generic_arg(&self, args: Vec<TypeArg>) -> TypeArg;
}

impl<T> ArgViaUtoipaComposed for &&SchemaProbe<T>
where
    T: utoipa::ToSchema + utoipa::__dev::ComposeSchema,
{
    fn generic_arg(&self, args: Vec<TypeArg>) -> TypeArg {
        TypeArg::utoipa_composed::<T>(args)
    }
}

/// A type argument that implements schemars' `JsonSchema`.
#[doc(hidden)]
pub trait ArgViaSchemars {
    #[doc(hidden)]
    fn leaf_arg(&self) -> TypeArg;
    #[doc(hidden)]
    fn generic_arg(&self, args: Vec<TypeArg>) -> TypeArg;
}

impl<T: schemars::JsonSchema> ArgViaSchemars for &SchemaProbe<T> {
    fn leaf_arg(&self) -> TypeArg {
        TypeArg::schemars::<T>()
    }

    fn generic_arg(&self, _args: Vec<TypeArg>) -> TypeArg {
        TypeArg::schemars::<T>()
    }
}

/// A type argument that is neither.
#[doc(hidden)]
pub trait ArgOpaque {
    #[doc(hidden)]
    fn leaf_arg(&self) -> TypeArg;
    #[doc(hidden)]
    fn generic_arg(&self, args: Vec<TypeArg>) -> TypeArg;
}

impl<T: ?Sized> ArgOpaque for SchemaProbe<T> {
    fn leaf_arg(&self) -> TypeArg {
        TypeArg(ArgKind::Opaque {
            type_name: std::any::type_name::<T>(),
        })
    }

    fn generic_arg(&self, _args: Vec<TypeArg>) -> TypeArg {
        self.leaf_arg()
    }
}
