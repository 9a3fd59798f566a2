//! API errors as `Status` objects, worded the way the real API server words them, because
//! kubectl and the client libraries print (and sometimes match on) these messages.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::resources::ResourceKind;

/// One field-level validation problem (a `StatusCause`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The cause type (`FieldValueRequired`, …).
    pub kind: FieldErrorKind,
    /// The field path (`spec.template.spec.containers[0].image`).
    pub field: String,
    /// The offending value, rendered as Go would quote it, when there is one.
    pub value: Option<String>,
    /// Extra words after the standard prefix.
    pub detail: String,
}

/// The causes the real validators report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldErrorKind {
    /// `Required value`
    Required,
    /// `Invalid value`
    Invalid,
    /// `Unsupported value`
    NotSupported,
    /// `Duplicate value`
    Duplicate,
    /// `Forbidden`
    Forbidden,
    /// `Invalid value` of the wrong type (`FieldValueTypeInvalid`)
    TypeInvalid,
    /// `Too long`
    TooLong,
    /// `Too many`
    TooMany,
}

impl FieldError {
    /// `field: Required value[: detail]`.
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError {
            kind: FieldErrorKind::Required,
            field: field.into(),
            value: None,
            detail: detail.into(),
        }
    }

    /// `field: Invalid value: "v": detail`.
    pub fn invalid(
        field: impl Into<String>,
        value: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        FieldError {
            kind: FieldErrorKind::Invalid,
            field: field.into(),
            value: Some(value.into()),
            detail: detail.into(),
        }
    }

    /// `field: Unsupported value: "v": supported values: …`.
    pub fn not_supported(
        field: impl Into<String>,
        value: impl Into<String>,
        supported: &[&str],
    ) -> Self {
        let list: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        FieldError {
            kind: FieldErrorKind::NotSupported,
            field: field.into(),
            value: Some(value.into()),
            detail: format!("supported values: {}", list.join(", ")),
        }
    }

    /// `field: Unsupported value: v: supported values: …` with the values already quoted.
    pub fn not_supported_listed(
        field: impl Into<String>,
        value: impl Into<String>,
        supported: &[String],
    ) -> Self {
        FieldError {
            kind: FieldErrorKind::NotSupported,
            field: field.into(),
            value: Some(value.into()),
            detail: format!("supported values: {}", supported.join(", ")),
        }
    }

    /// `field: Invalid value: v: detail` for a value of the wrong type.
    pub fn type_invalid(
        field: impl Into<String>,
        value: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        FieldError {
            kind: FieldErrorKind::TypeInvalid,
            field: field.into(),
            value: Some(value.into()),
            detail: detail.into(),
        }
    }

    /// `field: Too long: may not be more than N bytes`.
    pub fn too_long(field: impl Into<String>, max: u64) -> Self {
        FieldError {
            kind: FieldErrorKind::TooLong,
            field: field.into(),
            value: None,
            detail: format!("may not be more than {max} bytes"),
        }
    }

    /// `field: Too many: N: must have at most M items`.
    pub fn too_many(field: impl Into<String>, count: u64, max: u64) -> Self {
        FieldError {
            kind: FieldErrorKind::TooMany,
            field: field.into(),
            value: Some(count.to_string()),
            detail: format!("must have at most {max} items"),
        }
    }

    /// `field: Duplicate value: v`.
    pub fn duplicate(field: impl Into<String>, value: impl Into<String>) -> Self {
        FieldError {
            kind: FieldErrorKind::Duplicate,
            field: field.into(),
            value: Some(value.into()),
            detail: String::new(),
        }
    }

    /// `field: Forbidden: detail`.
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError {
            kind: FieldErrorKind::Forbidden,
            field: field.into(),
            value: None,
            detail: detail.into(),
        }
    }

    fn reason(&self) -> &'static str {
        match self.kind {
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::Invalid => "FieldValueInvalid",
            FieldErrorKind::NotSupported => "FieldValueNotSupported",
            FieldErrorKind::Duplicate => "FieldValueDuplicate",
            FieldErrorKind::Forbidden => "FieldValueForbidden",
            FieldErrorKind::TypeInvalid => "FieldValueTypeInvalid",
            FieldErrorKind::TooLong => "FieldValueTooLong",
            FieldErrorKind::TooMany => "FieldValueTooMany",
        }
    }

    /// The message without the field prefix, as in a StatusCause.
    fn body(&self) -> String {
        let head = match self.kind {
            FieldErrorKind::Required => "Required value",
            FieldErrorKind::Invalid | FieldErrorKind::TypeInvalid => "Invalid value",
            FieldErrorKind::TooLong => "Too long",
            FieldErrorKind::TooMany => "Too many",
            FieldErrorKind::NotSupported => "Unsupported value",
            FieldErrorKind::Duplicate => "Duplicate value",
            FieldErrorKind::Forbidden => "Forbidden",
        };
        let mut text = head.to_owned();
        if let Some(v) = &self.value {
            text.push_str(": ");
            text.push_str(v);
        }
        if !self.detail.is_empty() {
            text.push_str(": ");
            text.push_str(&self.detail);
        }
        text
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

/// An API error: HTTP code, `reason`, message and details, rendered as a `Status`.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// `NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, …
    pub reason: &'static str,
    /// What kubectl prints after "Error from server (Reason): ".
    pub message: String,
    /// `details` of the Status, if any.
    pub details: Option<Value>,
}

fn details(kind: &ResourceKind, name: &str) -> Value {
    let mut d = json!({"name": name, "kind": kind.plural});
    if !kind.group.is_empty() {
        d["group"] = json!(kind.group);
    }
    d
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    /// 404 `pods "x" not found`.
    pub fn not_found(kind: &ResourceKind, name: &str) -> ApiError {
        ApiError {
            details: Some(details(kind, name)),
            ..ApiError::new(
                404,
                "NotFound",
                format!("{} \"{name}\" not found", kind.qualified_plural()),
            )
        }
    }

    /// 404 for a path that names no resource.
    pub fn no_route(path: &str) -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        )
    }

    /// 409 `pods "x" already exists`.
    pub fn already_exists(kind: &ResourceKind, name: &str) -> ApiError {
        ApiError {
            details: Some(details(kind, name)),
            ..ApiError::new(
                409,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", kind.qualified_plural()),
            )
        }
    }

    /// 409 Conflict for a stale resourceVersion or failed precondition.
    pub fn conflict(kind: &ResourceKind, name: &str, why: &str) -> ApiError {
        ApiError {
            details: Some(details(kind, name)),
            ..ApiError::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} \"{name}\": {why}",
                    kind.qualified_plural()
                ),
            )
        }
    }

    /// The standard stale-write conflict.
    pub fn modified(kind: &ResourceKind, name: &str) -> ApiError {
        ApiError::conflict(
            kind,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 422 Invalid with field causes: `Deployment.apps "x" is invalid: spec.replicas: …`.
    pub fn invalid(kind: &ResourceKind, name: &str, errors: &[FieldError]) -> ApiError {
        let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let summary = if list.len() == 1 {
            list[0].clone()
        } else {
            format!("[{}]", list.join(", "))
        };
        let causes: Vec<Value> = errors
            .iter()
            .map(|e| json!({"reason": e.reason(), "message": e.body(), "field": e.field}))
            .collect();
        let mut d = details(kind, name);
        d["kind"] = json!(kind.kind);
        d["causes"] = json!(causes);
        ApiError {
            details: Some(d),
            ..ApiError::new(
                422,
                "Invalid",
                format!("{} \"{name}\" is invalid: {summary}", kind.qualified_kind()),
            )
        }
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    /// 401 Unauthorized.
    pub fn unauthorized() -> ApiError {
        ApiError::new(401, "Unauthorized", "Unauthorized")
    }

    /// 403 Forbidden (`pods "x" is forbidden: …`, or `pods is forbidden: …` with no name).
    pub fn forbidden(kind: &ResourceKind, name: &str, why: &str) -> ApiError {
        let message = if name.is_empty() {
            format!("{} is forbidden: {why}", kind.qualified_plural())
        } else {
            format!("{} \"{name}\" is forbidden: {why}", kind.qualified_plural())
        };
        ApiError {
            details: Some(details(kind, name)),
            ..ApiError::new(403, "Forbidden", message)
        }
    }

    /// 403 Forbidden for what no rule can allow (not about one resource).
    pub fn forbidden_request(message: impl Into<String>) -> ApiError {
        ApiError::new(403, "Forbidden", message)
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed(message: impl Into<String>) -> ApiError {
        ApiError::new(405, "MethodNotAllowed", message)
    }

    /// 406 NotAcceptable.
    pub fn not_acceptable(message: impl Into<String>) -> ApiError {
        ApiError::new(406, "NotAcceptable", message)
    }

    /// 410 Expired (too old resourceVersion or continue token).
    pub fn expired(message: impl Into<String>) -> ApiError {
        ApiError::new(410, "Expired", message)
    }

    /// 413 RequestEntityTooLarge: a body over the server's limit, refused before it is read.
    pub fn entity_too_large(limit: usize) -> ApiError {
        ApiError::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    /// 415 UnsupportedMediaType for a patch type this server does not take.
    pub fn unsupported_media_type(content_type: &str) -> ApiError {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format ({content_type}) - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json"
            ),
        )
    }

    /// 415 for a patch type a custom resource does not take (strategic merge needs the Go
    /// types' patch strategies, which custom resources do not have).
    pub fn unsupported_patch_for_custom(content_type: &str) -> ApiError {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format ({content_type}) - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
            ),
        )
    }

    /// 429 TooManyRequests, as an eviction that would break a disruption budget gets it.
    pub fn too_many_requests(message: impl Into<String>, details: Value) -> ApiError {
        ApiError {
            details: Some(details),
            ..ApiError::new(429, "TooManyRequests", message)
        }
    }

    /// 500 InternalError.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(
            500,
            "InternalError",
            format!("Internal error occurred: {}", message.into()),
        )
    }

    /// 503 ServiceUnavailable.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(503, "ServiceUnavailable", message)
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            status["details"] = d.clone();
        }
        status
    }
}

/// The order the real API server writes a `Status`'s fields in (Go's struct order): clients
/// and their tests compare error bodies as text.
const STATUS_ORDER: &[&str] = &[
    "kind",
    "apiVersion",
    "metadata",
    "status",
    "message",
    "reason",
    "details",
    "code",
];
/// `StatusDetails`' field order.
const DETAILS_ORDER: &[&str] = &[
    "name",
    "group",
    "kind",
    "uid",
    "causes",
    "retryAfterSeconds",
];
/// `StatusCause`'s field order.
const CAUSE_ORDER: &[&str] = &["reason", "message", "field"];

/// A JSON value written with an object's known keys in `order` first, then the rest as they
/// come (serde_json keeps its maps sorted, which is not the server's order).
struct Ordered<'a> {
    value: &'a Value,
    order: &'static [&'static str],
}

impl serde::Serialize for Ordered<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.value {
            Value::Object(map) => {
                let mut out = serializer.serialize_map(Some(map.len()))?;
                let known = self.order.iter().filter_map(|k| map.get_key_value(*k));
                let rest = map
                    .iter()
                    .filter(|(k, _)| !self.order.contains(&k.as_str()));
                for (key, value) in known.chain(rest) {
                    let inner = match key.as_str() {
                        "details" => DETAILS_ORDER,
                        "causes" => CAUSE_ORDER,
                        _ => &[],
                    };
                    out.serialize_entry(
                        key,
                        &Ordered {
                            value,
                            order: inner,
                        },
                    )?;
                }
                out.end()
            }
            // `causes` is a list of causes, each in the cause's order.
            Value::Array(items) => {
                let mut out = serializer.serialize_seq(Some(items.len()))?;
                for value in items {
                    out.serialize_element(&Ordered {
                        value,
                        order: self.order,
                    })?;
                }
                out.end()
            }
            other => other.serialize(serializer),
        }
    }
}

impl ApiError {
    /// The `Status` as the real API server writes it, field for field and in its order, and
    /// ending in a newline as Go's JSON encoder ends it.
    pub fn status_body(&self) -> Vec<u8> {
        let mut body = serde_json::to_vec(&Ordered {
            value: &self.to_status(),
            order: STATUS_ORDER,
        })
        .unwrap_or_default();
        body.push(b'\n');
        body
    }
}

/// A success `Status` (`code` 201 for a binding or an eviction), in the server's field order.
pub fn success_status(code: u16) -> String {
    let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code});
    serde_json::to_string(&Ordered {
        value: &status,
        order: STATUS_ORDER,
    })
    .unwrap_or_default()
}

/// The success `Status` a delete that removed the object at once answers with (custom
/// objects; built-in kinds answer with the object), in the server's field order.
pub fn deleted_status(kind: &ResourceKind, name: &str, uid: &str) -> String {
    let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
        "details": {"name": name, "group": kind.group, "kind": kind.plural, "uid": uid}});
    serde_json::to_string(&Ordered {
        value: &status,
        order: STATUS_ORDER,
    })
    .unwrap_or_default()
}

/// A watch's `ERROR` event carrying `error`'s Status, the Status in the server's field order.
pub fn watch_error_event(error: &ApiError) -> String {
    let status = String::from_utf8_lossy(&error.status_body()).into_owned();
    format!(r#"{{"type":"ERROR","object":{}}}"#, status.trim_end())
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = self.status_body();
        (
            code,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}

/// Reports the outcome of a write a controller or kubelet makes and does not wait on, so no
/// failure passes unseen: an object gone meanwhile (404) or created by a racing writer (409) is
/// routine and logged at debug; anything else is a warning naming what was being done. The next
/// change to the object (or the periodic resync) tries again.
#[track_caller]
pub(crate) fn report<T>(doing: &str, result: Result<T, ApiError>) {
    if let Err(e) = result {
        let at = std::panic::Location::caller();
        if matches!(e.code, 404 | 409) {
            tracing::debug!(doing, error = %e.message, file = at.file(), line = at.line(), "write skipped");
        } else {
            tracing::warn!(doing, error = %e.message, reason = e.reason, file = at.file(), line = at.line(), "write failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_is_written_in_the_real_servers_field_order() {
        // As the official Python client's e2e test expects it, byte for byte.
        let body =
            ApiError::already_exists(crate::resources::deployments(), "triple-nginx").status_body();
        assert_eq!(
            String::from_utf8_lossy(&body),
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"deployments.apps \\\"triple-nginx\\\" already exists\",\"reason\":\"AlreadyExists\",\"details\":{\"name\":\"triple-nginx\",\"group\":\"apps\",\"kind\":\"deployments\"},\"code\":409}\n"
        );
        assert_eq!(
            success_status(201),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","code":201}"#
        );
        // Causes in a cause's order.
        let invalid = ApiError::invalid(
            crate::resources::deployments(),
            "web",
            &[FieldError::required("spec.selector", "")],
        );
        let text = String::from_utf8_lossy(&invalid.status_body()).into_owned();
        let at = |key: &str| text.find(key).unwrap_or(usize::MAX);
        assert!(at(r#""kind":"Status""#) < at(r#""apiVersion""#), "{text}");
        assert!(at(r#""reason":"Invalid""#) < at(r#""details""#), "{text}");
        assert!(at(r#""details""#) < at(r#""code":422"#), "{text}");
        assert!(at(r#""name":"web""#) < at(r#""causes""#), "{text}");
        assert!(
            at(r#""reason":"FieldValueRequired""#) < at(r#""field":"spec.selector""#),
            "{text}"
        );
    }
}
