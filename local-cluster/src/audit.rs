//! The audit log: a line per request in the real API server's format (`audit.k8s.io/v1`
//! `Event`, level `Metadata`): who asked, the verb, the object, and the answer's code — so an
//! operator, or a test, can see what a client did under whose name. Request and response
//! bodies and credentials are never written.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Value, json};

/// An append-only audit log file, readable by its owner only.
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
}

impl AuditLog {
    /// Opens (or creates) `path` for appending.
    pub fn open(path: &Path) -> std::io::Result<AuditLog> {
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        Ok(AuditLog {
            path: path.to_owned(),
            file: Mutex::new(options.open(path)?),
        })
    }

    /// Appends `event` as one line. A failed write is logged, never answered to the client: the
    /// request itself has been served.
    pub fn record(&self, event: &Value) {
        let mut line = event.to_string();
        line.push('\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = file.write_all(line.as_bytes()) {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot write the audit log");
        }
    }
}

/// What a request was about, in the audit Event's terms.
pub enum Subject<'a> {
    /// A resource request.
    Object {
        /// RBAC's verb (`list`, `watch`, `create`, …).
        verb: &'a str,
        /// API group (empty for core).
        group: &'a str,
        /// API version.
        version: &'a str,
        /// Plural resource name.
        resource: &'a str,
        /// Subresource, if any.
        subresource: Option<&'a str>,
        /// Namespace, if any.
        namespace: Option<&'a str>,
        /// Object name, if any.
        name: Option<&'a str>,
    },
    /// Anything else (`/version`, discovery, a path that names nothing).
    Path {
        /// The lower-case HTTP method, as the real server's non-resource verbs are.
        verb: &'a str,
    },
}

/// The `audit.k8s.io/v1` Event for one answered request.
pub fn event(
    user: Option<(&str, &[String])>,
    uri: &str,
    subject: &Subject<'_>,
    code: u16,
    received: jiff::Timestamp,
) -> Value {
    let (username, groups) = user.unwrap_or(("system:anonymous", &[]));
    let groups: Vec<&str> = if user.is_some() {
        groups.iter().map(String::as_str).collect()
    } else {
        vec!["system:unauthenticated"]
    };
    let mut event = json!({
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": uuid::Uuid::new_v4().to_string(),
        "stage": "ResponseComplete",
        "requestURI": uri,
        "user": {"username": username, "groups": groups},
        "responseStatus": {"metadata": {}, "code": code},
        "requestReceivedTimestamp": received.to_string(),
        "stageTimestamp": jiff::Timestamp::now().to_string(),
    });
    match subject {
        Subject::Object {
            verb,
            group,
            version,
            resource,
            subresource,
            namespace,
            name,
        } => {
            event["verb"] = json!(verb);
            // A watch is answered for as long as it lasts: what is known is that it started.
            if *verb == "watch" {
                event["stage"] = json!("ResponseStarted");
            }
            let mut object = json!({"resource": resource, "apiVersion": version});
            if !group.is_empty() {
                object["apiGroup"] = json!(group);
            }
            for (key, value) in [
                ("subresource", subresource),
                ("namespace", namespace),
                ("name", name),
            ] {
                if let Some(value) = value {
                    object[key] = json!(value);
                }
            }
            event["objectRef"] = object;
        }
        Subject::Path { verb } => event["verb"] = json!(verb),
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_names_who_did_what_to_which_object() {
        let groups = vec!["system:authenticated".to_owned()];
        let event = event(
            Some(("jane", &groups)),
            "/apis/apps/v1/namespaces/calculator/deployments/sum?fieldManager=x",
            &Subject::Object {
                verb: "patch",
                group: "apps",
                version: "v1",
                resource: "deployments",
                subresource: None,
                namespace: Some("calculator"),
                name: Some("sum"),
            },
            200,
            jiff::Timestamp::now(),
        );
        assert_eq!(event["user"]["username"], "jane");
        assert_eq!(event["verb"], "patch");
        assert_eq!(
            event["objectRef"],
            json!({"resource": "deployments", "apiGroup": "apps", "apiVersion": "v1", "namespace": "calculator", "name": "sum"})
        );
        assert_eq!(event["responseStatus"]["code"], 200);

        let anonymous = super::event(
            None,
            "/api/v1/pods",
            &Subject::Path { verb: "get" },
            401,
            jiff::Timestamp::now(),
        );
        assert_eq!(anonymous["user"]["username"], "system:anonymous");
        assert_eq!(
            anonymous["user"]["groups"],
            json!(["system:unauthenticated"])
        );
    }

    #[test]
    fn the_file_is_its_owners_only_and_grows_a_line_per_event() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let log = AuditLog::open(&path).unwrap();
        log.record(&json!({"a": 1}));
        log.record(&json!({"b": 2}));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "{\"a\":1}\n{\"b\":2}\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
