use std::fmt;

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::HttpMethod;

/// An HTTP method a webhook is sent with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
    /// `HEAD`
    Head,
    /// `OPTIONS`
    Options,
    /// `TRACE`: carries no body.
    Trace,
}

impl Method {
    /// The method as it is written on the wire, e.g. `"POST"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
        }
    }

    /// Where a path item holds this method's operation.
    pub(crate) fn slot(self, item: &mut PathItem) -> &mut Option<Operation> {
        match self {
            Method::Get => &mut item.get,
            Method::Post => &mut item.post,
            Method::Put => &mut item.put,
            Method::Patch => &mut item.patch,
            Method::Delete => &mut item.delete,
            Method::Head => &mut item.head,
            Method::Options => &mut item.options,
            Method::Trace => &mut item.trace,
        }
    }

    pub(crate) fn to_utoipa(self) -> HttpMethod {
        match self {
            Method::Get => HttpMethod::Get,
            Method::Post => HttpMethod::Post,
            Method::Put => HttpMethod::Put,
            Method::Patch => HttpMethod::Patch,
            Method::Delete => HttpMethod::Delete,
            Method::Head => HttpMethod::Head,
            Method::Options => HttpMethod::Options,
            Method::Trace => HttpMethod::Trace,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Method;
    use utoipa::openapi::path::{OperationBuilder, Paths};

    /// `slot` and `to_utoipa` are two mappings of the same methods: an operation put in a
    /// method's slot is the one utoipa finds under that method.
    #[test]
    fn each_method_slot_is_where_utoipa_looks() {
        use Method::*;
        for method in [Get, Post, Put, Patch, Delete, Head, Options, Trace] {
            let mut paths = Paths::new();
            let operation = OperationBuilder::new().operation_id(Some(method.as_str()));
            *method.slot(paths.paths.entry("hook".into()).or_default()) = Some(operation.build());
            let found = paths.get_path_operation("hook", method.to_utoipa());
            assert_eq!(
                found.and_then(|op| op.operation_id.as_deref()),
                Some(method.as_str())
            );
        }
    }
}
