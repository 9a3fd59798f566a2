//! What to connect to, how, and what went wrong in words an operator can act on.

use std::path::PathBuf;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use http::header::AUTHORIZATION;
use http::{HeaderValue, Request};
use kube::client::Body;
use kube::config::{KubeConfigOptions, Kubeconfig};
use local_cluster::{ClusterConfig, LocalCluster};
use serde::Serialize;
use tokio_util::task::AbortOnDropHandle;
use tower::util::MapRequestLayer;

use super::retry;
use crate::model::eks::AwsTarget;

/// Where the console's cluster comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum ConnectionTarget {
    /// The embedded local hybrid cluster (2 Windows + 2 Linux nodes, the calculator monolith).
    Local,
    /// A kubeconfig context (`None`: the default file / its current context).
    Kubeconfig {
        /// The kubeconfig file.
        path: Option<PathBuf>,
        /// The context.
        context: Option<String>,
    },
    /// An EKS cluster, reached with the console's own tokens (no kubeconfig, no `aws` CLI).
    Eks {
        /// Region and profile.
        aws: AwsTarget,
        /// The cluster's name.
        cluster: String,
    },
}

impl ConnectionTarget {
    /// The order the console tries: `--local`; then `--kubeconfig`/`--context`; then the
    /// default kubeconfig's current context if there is one; then the embedded cluster.
    pub fn resolve(
        local: bool,
        kubeconfig: Option<PathBuf>,
        context: Option<String>,
    ) -> ConnectionTarget {
        if local {
            return ConnectionTarget::Local;
        }
        if kubeconfig.is_some() || context.is_some() {
            return ConnectionTarget::Kubeconfig {
                path: kubeconfig,
                context,
            };
        }
        match Kubeconfig::read() {
            Ok(config)
                if config
                    .current_context
                    .as_deref()
                    .is_some_and(|c| !c.is_empty()) =>
            {
                ConnectionTarget::Kubeconfig {
                    path: None,
                    context: None,
                }
            }
            _ => ConnectionTarget::Local,
        }
    }

    /// Its name for status lines: the context's own name where the kubeconfig gives one (this
    /// reads the kubeconfig, so call it off the UI thread).
    pub fn describe(&self) -> String {
        if let ConnectionTarget::Kubeconfig {
            path,
            context: None,
        } = self
        {
            let config = match path {
                Some(p) => Kubeconfig::read_from(p),
                None => Kubeconfig::read(),
            };
            if let Some(current) = config
                .ok()
                .and_then(|c| c.current_context)
                .filter(|c| !c.is_empty())
            {
                return current;
            }
        }
        self.label()
    }

    /// How the connection view names it.
    pub fn label(&self) -> String {
        match self {
            ConnectionTarget::Local => "Local hybrid cluster".into(),
            ConnectionTarget::Kubeconfig {
                context: Some(c), ..
            } => c.clone(),
            ConnectionTarget::Kubeconfig { context: None, .. } => "current context".into(),
            ConnectionTarget::Eks { aws, cluster } => match &aws.region {
                Some(region) => format!("EKS {cluster} ({region})"),
                None => format!("EKS {cluster}"),
            },
        }
    }
}

/// A context listed in the connection view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContextEntry {
    /// Context name.
    pub name: String,
    /// Its cluster's server URL.
    pub server: String,
    /// Whether it is the kubeconfig's current context.
    pub current: bool,
}

/// The contexts of the kubeconfig at `path` (or the default one); empty when there is none.
pub fn list_contexts(path: Option<&PathBuf>) -> Vec<ContextEntry> {
    let config = match path {
        Some(p) => Kubeconfig::read_from(p),
        None => Kubeconfig::read(),
    };
    let Ok(config) = config else {
        return Vec::new();
    };
    let current = config.current_context.clone().unwrap_or_default();
    config
        .contexts
        .iter()
        .map(|named| {
            let cluster = named
                .context
                .as_ref()
                .map(|c| c.cluster.clone())
                .unwrap_or_default();
            let server = config
                .clusters
                .iter()
                .find(|c| c.name == cluster)
                .and_then(|c| c.cluster.as_ref())
                .and_then(|c| c.server.clone())
                .unwrap_or_default();
            ContextEntry {
                current: named.name == current,
                name: named.name.clone(),
                server,
            }
        })
        .collect()
}

/// Why the console cannot talk to the cluster.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq, Serialize)]
pub enum ConnectError {
    /// The kubeconfig cannot be read or parsed.
    #[error("The kubeconfig cannot be used: {0}")]
    Kubeconfig(String),
    /// The context does not exist.
    #[error("There is no context \"{context}\" in the kubeconfig. Available: {available}.")]
    UnknownContext {
        /// Asked for.
        context: String,
        /// What there is.
        available: String,
    },
    /// Nothing answers at the server address.
    #[error(
        "Cannot reach the API server at {server}: {detail}. Is the cluster running, and is this the right address?"
    )]
    Unreachable {
        /// The server URL.
        server: String,
        /// The transport error.
        detail: String,
    },
    /// The TLS handshake failed.
    #[error(
        "TLS with {server} failed: {detail}. The kubeconfig's certificate-authority-data may not match the server."
    )]
    Tls {
        /// The server URL.
        server: String,
        /// The TLS error.
        detail: String,
    },
    /// The credentials were refused.
    #[error(
        "The API server at {server} refused the credentials (401 Unauthorized). Refresh them (for EKS: aws eks update-kubeconfig) and reconnect."
    )]
    Unauthorized {
        /// The server URL.
        server: String,
    },
    /// The credentials lack a permission the console needs.
    #[error("Forbidden (403): cannot {verb} {resource}: {message}")]
    Forbidden {
        /// The verb.
        verb: String,
        /// The resource.
        resource: String,
        /// The server's words.
        message: String,
    },
    /// The credential plugin (`aws eks get-token`) failed.
    #[error(
        "The credential plugin {plugin} failed: {detail}. Is it installed and on PATH, and does it work when run by hand? (For EKS: AWS CLI v2, `aws eks get-token`, with valid AWS credentials.)"
    )]
    Credentials {
        /// The plugin's command as the kubeconfig names it.
        plugin: String,
        /// What went wrong.
        detail: String,
    },
    /// The embedded cluster did not start.
    #[error("The local hybrid cluster did not start: {0}")]
    LocalCluster(String),
    /// AWS could not be asked for the cluster (credentials, region, no such cluster).
    #[error("{0}")]
    Aws(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let next = e.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = e.source();
    }
    text
}

fn caused_by_auth(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if e.downcast_ref::<kube::client::AuthError>().is_some() {
            return true;
        }
        next = e.source();
    }
    false
}

impl ConnectError {
    /// Classifies a kube-rs error from a request to `server` doing `verb` on `resource`.
    pub fn classify(err: &kube::Error, server: &str, verb: &str, resource: &str) -> ConnectError {
        match err {
            kube::Error::Api(status) if status.code == 401 => ConnectError::Unauthorized {
                server: server.to_owned(),
            },
            kube::Error::Api(status) if status.code == 403 => ConnectError::Forbidden {
                verb: verb.to_owned(),
                resource: resource.to_owned(),
                message: status.message.clone(),
            },
            // Any other answer: what was asked, and what the server said (its Status), not
            // kube-rs's dump of the Status object.
            kube::Error::Api(status) => ConnectError::Other(format!(
                "cannot {verb} {resource}: the API server at {server} answered {} {}: {}",
                status.code, status.reason, status.message
            )),
            // A credential plugin's failure arrives as `Error::Auth`, or wrapped by the client's
            // service stack; find it by type rather than by wording.
            other if caused_by_auth(other) => ConnectError::Credentials {
                plugin: "of the kubeconfig's user".into(),
                detail: chain(other),
            },
            other => {
                let detail = chain(other);
                let lower = detail.to_lowercase();
                if lower.contains("certificate")
                    || lower.contains("tls")
                    || lower.contains("handshake")
                    || lower.contains("unknownissuer")
                {
                    ConnectError::Tls {
                        server: server.to_owned(),
                        detail,
                    }
                } else if lower.contains("connect")
                    || lower.contains("refused")
                    || lower.contains("dns")
                    || lower.contains("timed out")
                    || lower.contains("unreachable")
                {
                    ConnectError::Unreachable {
                        server: server.to_owned(),
                        detail,
                    }
                } else {
                    ConnectError::Other(detail)
                }
            }
        }
    }
}

/// A kube-rs configuration for `target`, re-reading the kubeconfig each time (credentials and
/// addresses change: a refreshed EKS token, a restarted local cluster).
pub async fn kube_config(
    target: &ConnectionTarget,
    local_kubeconfig: Option<&str>,
) -> Result<kube::Config, ConnectError> {
    let (kubeconfig, context) = match target {
        ConnectionTarget::Local => {
            let text =
                local_kubeconfig.ok_or_else(|| ConnectError::LocalCluster("not started".into()))?;
            let config =
                Kubeconfig::from_yaml(text).map_err(|e| ConnectError::Kubeconfig(e.to_string()))?;
            (config, None)
        }
        ConnectionTarget::Kubeconfig { path, context } => {
            let config = match path {
                Some(p) => Kubeconfig::read_from(p)
                    .map_err(|e| ConnectError::Kubeconfig(format!("{}: {e}", p.display())))?,
                None => Kubeconfig::read().map_err(|e| ConnectError::Kubeconfig(e.to_string()))?,
            };
            if let Some(c) = context
                && !config.contexts.iter().any(|named| &named.name == c)
            {
                let available: Vec<String> =
                    config.contexts.iter().map(|n| n.name.clone()).collect();
                return Err(ConnectError::UnknownContext {
                    context: c.clone(),
                    available: if available.is_empty() {
                        "none".into()
                    } else {
                        available.join(", ")
                    },
                });
            }
            (config, context.clone())
        }
        ConnectionTarget::Eks { cluster, .. } => {
            return Err(ConnectError::Other(format!(
                "EKS cluster {cluster} is reached without a kubeconfig"
            )));
        }
    };
    let options = KubeConfigOptions {
        context,
        ..KubeConfigOptions::default()
    };
    kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| ConnectError::Kubeconfig(chain(&e)))
}

/// A live connection to a cluster.
#[derive(Clone)]
pub struct Connection {
    /// For the Kubernetes API. It retries what the server says to retry (429, and 503/504 with
    /// backoff), as kube-rs does by default.
    pub api: kube::Client,
    /// For the service proxy, where a 503 is the application's (or the proxy's) answer and must
    /// be shown at once: kube-rs's default retries would hold it for minutes. Also for evictions,
    /// whose 429 is a disruption budget's answer that the drain waits on itself.
    pub proxy: kube::Client,
    /// The API server's URL.
    pub server: String,
    /// Its Kubernetes version.
    pub version: String,
}

/// The connection the live session holds now (`None` while there is none), as features read it.
pub type Current = tokio::sync::watch::Receiver<Option<Connection>>;

/// The current connection, or `None` while there is none.
pub fn connected(current: &Current) -> Option<Connection> {
    current.borrow().clone()
}

/// Starts the embedded local hybrid cluster with the calculator monolith.
pub async fn start_local_cluster() -> Result<LocalCluster, ConnectError> {
    LocalCluster::start(ClusterConfig {
        with_calculator: true,
        ..ClusterConfig::default()
    })
    .await
    .map_err(|e| ConnectError::LocalCluster(e.to_string()))
}

/// Connects to a kubeconfig context or the embedded cluster (with its kubeconfig text). An EKS
/// target is reached by its own way in, which hands [`with_token`] what it found.
pub async fn open(
    target: &ConnectionTarget,
    local_kubeconfig: Option<&str>,
) -> Result<Connection, ConnectError> {
    let config = kube_config(target, local_kubeconfig).await?;
    verified(config).await
}

/// A bearer token that whoever handed it in keeps fresh (EKS tokens last 15 minutes) with a task
/// of its own; every request carries its current value, and the task is stopped when the last
/// client holding the token goes.
#[derive(Clone)]
pub struct FreshToken {
    value: Arc<RwLock<HeaderValue>>,
    _renewer: Arc<AbortOnDropHandle<()>>,
}

impl FreshToken {
    /// The token `value`, kept fresh by `renewer`.
    pub fn new(
        value: Arc<RwLock<HeaderValue>>,
        renewer: tokio::task::JoinHandle<()>,
    ) -> FreshToken {
        FreshToken {
            value,
            _renewer: Arc::new(AbortOnDropHandle::new(renewer)),
        }
    }

    /// The value to send now.
    fn current(&self) -> Option<HeaderValue> {
        self.value.read().ok().map(|v| v.clone())
    }
}

/// Connects to `server`, trusting the CA certificates `ca` (DER), authenticating every request
/// with `token`.
pub async fn with_token(
    server: String,
    ca: Vec<Vec<u8>>,
    token: FreshToken,
) -> Result<Connection, ConnectError> {
    let uri: http::Uri = server.parse().map_err(|e| {
        ConnectError::Other(format!(
            "the cluster's endpoint {server:?} is not a URL: {e}"
        ))
    })?;
    let mut config = kube::Config::new(uri);
    config.root_cert = Some(ca);
    config.connect_timeout = Some(Duration::from_secs(5));
    config.read_timeout = Some(Duration::from_secs(30));
    let layer = MapRequestLayer::new(move |mut request: Request<Body>| {
        if let Some(value) = token.current() {
            request.headers_mut().insert(AUTHORIZATION, value);
        }
        request
    });
    let builder = |config: kube::Config| {
        kube::client::ClientBuilder::try_from(config)
            .map(|builder| builder.with_layer(&layer))
            .map_err(|e| ConnectError::classify(&e, &server, "authenticate", "to the cluster"))
    };
    let api = retry::with_read_retry(builder(config.clone())?);
    let mut proxy_config = config;
    proxy_config.default_retry = false;
    let proxy = retry::with_read_retry(builder(proxy_config)?);
    checked(api, proxy, server).await
}

/// Clients for `config`, checked by asking the server's version and listing nodes (the least
/// the board needs).
pub async fn verified(config: kube::Config) -> Result<Connection, ConnectError> {
    let server = config.cluster_url.to_string();
    let plugin = config
        .auth_info
        .exec
        .as_ref()
        .and_then(|exec| exec.command.clone());
    // Name the plugin that failed: "No such file or directory" alone does not say what is missing.
    let named = |error: ConnectError| match (error, &plugin) {
        (ConnectError::Credentials { detail, .. }, Some(command)) => ConnectError::Credentials {
            plugin: format!("`{command}`"),
            detail,
        },
        (other, _) => other,
    };
    let mut config = config;
    config.connect_timeout = Some(Duration::from_secs(5));
    config.read_timeout = Some(Duration::from_secs(30));
    let mut proxy_config = config.clone();
    proxy_config.default_retry = false;
    // Building the client may already run the credential plugin.
    let failed = |e: kube::Error| {
        named(ConnectError::classify(
            &e,
            &server,
            "authenticate",
            "to the cluster",
        ))
    };
    let client = retry::client(config).map_err(failed)?;
    // The calculator's answers through the proxy are shown as they come (kube-rs's own retry of
    // 503/504 is off: those may be the calculator's); only the API server's 500 with
    // Retry-After — it never reached the calculator — is asked again.
    let proxy = retry::client(proxy_config).map_err(failed)?;
    checked(client, proxy, server).await.map_err(named)
}

/// A connection of `api` and `proxy` to `server`, checked by asking the server's version and
/// listing nodes (the least the board needs).
async fn checked(
    api: kube::Client,
    proxy: kube::Client,
    server: String,
) -> Result<Connection, ConnectError> {
    let version = api
        .apiserver_version()
        .await
        .map_err(|e| ConnectError::classify(&e, &server, "get", "/version"))?;
    let nodes: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(api.clone());
    nodes
        .list_metadata(&kube::api::ListParams::default().limit(1))
        .await
        .map_err(|e| ConnectError::classify(&e, &server, "list", "nodes"))?;
    Ok(Connection {
        api,
        proxy,
        server,
        version: version.git_version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_flags_win_over_the_default_kubeconfig() {
        assert_eq!(
            ConnectionTarget::resolve(true, Some("x".into()), None),
            ConnectionTarget::Local
        );
        assert_eq!(
            ConnectionTarget::resolve(false, None, Some("prod".into())),
            ConnectionTarget::Kubeconfig {
                path: None,
                context: Some("prod".into())
            }
        );
    }

    #[test]
    fn api_errors_become_actionable_messages() {
        let status = |code| {
            let mut status = kube::core::Status::failure(
                "nodes is forbidden: User \"dev\" cannot list resource \"nodes\" in API group \"\" at the cluster scope",
                "Forbidden",
            );
            status.code = code;
            kube::Error::Api(Box::new(status))
        };
        assert!(matches!(
            ConnectError::classify(&status(401), "https://x", "list", "nodes"),
            ConnectError::Unauthorized { .. }
        ));
        let forbidden = ConnectError::classify(&status(403), "https://x", "list", "nodes");
        assert!(
            forbidden.to_string().starts_with(
                "Forbidden (403): cannot list nodes: nodes is forbidden: User \"dev\""
            ),
            "{forbidden}"
        );
    }
}
