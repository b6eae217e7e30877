//! Merging two documents without losing `webhooks` (utoipa's own `merge` drops them) and
//! without silently keeping one of two conflicting definitions.

use utoipa::openapi::path::{Operation, PathItem, Paths};
use utoipa::openapi::OpenApi;

use crate::schema::SchemaRegistry;
use crate::Error;

/// Merges `other` into `base`: paths, webhooks, schemas, security schemes, tags and security.
/// Identical duplicates are fine; conflicting ones are an [`Error`] naming the item.
pub fn merge(base: &mut OpenApi, mut other: OpenApi) -> Result<(), Error> {
    merge_paths(&mut base.paths, std::mem::take(&mut other.paths))?;
    if let Some(webhooks) = other.webhooks.take() {
        merge_paths(base.webhooks.get_or_insert_with(Paths::new), webhooks)?;
    }
    if let Some(components) = other.components.take() {
        let base_components = base.components.get_or_insert_with(Default::default);
        let mut registry = SchemaRegistry::default();
        for (name, schema) in std::mem::take(&mut base_components.schemas) {
            registry.insert(name, schema, "the first document")?;
        }
        for (name, schema) in components.schemas {
            registry.insert(name, schema, "the second document")?;
        }
        base_components.schemas.extend(registry.into_schemas());
        for (name, scheme) in components.security_schemes {
            match base_components.security_schemes.get(&name) {
                Some(existing) if *existing != scheme => {
                    return Err(Error::SecuritySchemeClash { name })
                }
                Some(_) => {}
                None => {
                    base_components.security_schemes.insert(name, scheme);
                }
            }
        }
        for (name, response) in components.responses {
            base_components.responses.entry(name).or_insert(response);
        }
    }
    // utoipa merges servers, tags and security requirements by equality, which is right.
    base.merge(other);
    Ok(())
}

pub(crate) fn merge_paths(base: &mut Paths, other: Paths) -> Result<(), Error> {
    for (path, item) in other.paths {
        match base.paths.get_mut(&path) {
            None => {
                base.paths.insert(path, item);
            }
            Some(existing) => {
                let taken = operations(existing);
                if let Some((method, _)) = operations(&item)
                    .into_iter()
                    .find(|(m, _)| taken.iter().any(|(t, _)| t == m))
                {
                    return Err(Error::DuplicatePath {
                        path,
                        method: method.to_owned(),
                    });
                }
                existing.merge_operations(item);
            }
        }
    }
    Ok(())
}

/// The operations of a path item with their method names, in document order.
pub(crate) fn operations(item: &PathItem) -> Vec<(&'static str, &Operation)> {
    [
        ("GET", &item.get),
        ("PUT", &item.put),
        ("POST", &item.post),
        ("DELETE", &item.delete),
        ("OPTIONS", &item.options),
        ("HEAD", &item.head),
        ("PATCH", &item.patch),
        ("TRACE", &item.trace),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.as_ref().map(|op| (method, op)))
    .collect()
}
