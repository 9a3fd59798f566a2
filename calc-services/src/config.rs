//! Everything a calculator process reads from its environment, checked before it listens.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use thiserror::Error;

use crate::api::ServedBy;
use crate::role::Role;
use crate::routing::{RoutingTable, RoutingUrlError};

/// A variable that cannot be used, with what to set instead.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// `HOST` is not an IP address.
    #[error(
        "HOST={value:?} is not an IP address; set it to one such as 0.0.0.0 (all interfaces) or 127.0.0.1"
    )]
    Host {
        /// The value found.
        value: String,
    },
    /// `PORT` is not a port number.
    #[error(
        "PORT={value:?} is not a port number; set it to an integer from 0 to 65535 (0 picks a free port)"
    )]
    Port {
        /// The value found.
        value: String,
    },
    /// `BACKEND_TIMEOUT_MS` is not a positive integer.
    #[error(
        "BACKEND_TIMEOUT_MS={value:?} is not a positive number of milliseconds; set it to e.g. 2000"
    )]
    Timeout {
        /// The value found.
        value: String,
    },
    /// `CALC_MISBEHAVE` names no misbehaviour.
    #[error(transparent)]
    Misbehave(#[from] crate::misbehave::MisbehaveError),
    /// A routing variable is not a usable base URL.
    #[error(transparent)]
    RoutingUrl(#[from] RoutingUrlError),
    /// `CALC_ROUTING_FILE` is set for a role that routes nothing by file.
    #[error(
        "CALC_ROUTING_FILE is set for the {role} service, but only the monolith reads a routing file; unset it"
    )]
    RoutingFileRole {
        /// The role.
        role: Role,
    },
}

/// Default per-call timeout of a frontend calling an operation service.
pub const DEFAULT_BACKEND_TIMEOUT: Duration = Duration::from_secs(2);

/// The checked configuration of one calculator process.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// Which role it plays.
    pub role: Role,
    /// Where it listens (`HOST`:`PORT`, default `0.0.0.0:3000`).
    pub listen: SocketAddr,
    /// Per-call timeout for remote operations (`BACKEND_TIMEOUT_MS`, default 2000).
    pub backend_timeout: Duration,
    /// Where each operation is computed.
    pub routes: RoutingTable,
    /// Who this process is.
    pub served_by: ServedBy,
    /// How it goes wrong on purpose (`CALC_MISBEHAVE`), if at all.
    pub misbehave: Option<crate::misbehave::Misbehaviour>,
    /// The monolith's routing file (`CALC_ROUTING_FILE`), re-read while it runs.
    pub routing_file: Option<PathBuf>,
}

impl ServiceConfig {
    /// Reads the process environment.
    pub fn from_env(role: Role) -> Result<Self, ConfigError> {
        Self::from_lookup(role, |name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup` (the environment, or a test's map).
    pub fn from_lookup(
        role: Role,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let host = match lookup("HOST").filter(|v| !v.is_empty()) {
            None => IpAddr::from([0, 0, 0, 0]),
            Some(value) => value
                .trim()
                .parse()
                .map_err(|_| ConfigError::Host { value })?,
        };
        let port = match lookup("PORT").filter(|v| !v.is_empty()) {
            None => 3000,
            Some(value) => value
                .trim()
                .parse()
                .map_err(|_| ConfigError::Port { value })?,
        };
        let backend_timeout = match lookup("BACKEND_TIMEOUT_MS").filter(|v| !v.is_empty()) {
            None => DEFAULT_BACKEND_TIMEOUT,
            Some(value) => match value.trim().parse::<u64>() {
                Ok(ms) if ms > 0 => Duration::from_millis(ms),
                _ => return Err(ConfigError::Timeout { value }),
            },
        };
        let misbehave = match lookup("CALC_MISBEHAVE").filter(|v| !v.is_empty()) {
            None => None,
            Some(value) => Some(value.parse()?),
        };
        let routing_file = match lookup("CALC_ROUTING_FILE").filter(|v| !v.trim().is_empty()) {
            None => None,
            Some(_) if role != Role::Monolith => return Err(ConfigError::RoutingFileRole { role }),
            Some(path) => Some(container_path(
                Path::new(path.trim()),
                lookup("CONTAINER_ROOT").as_deref(),
            )),
        };
        Ok(ServiceConfig {
            role,
            routing_file,
            listen: SocketAddr::new(host, port),
            backend_timeout,
            routes: RoutingTable::from_lookup(role, &lookup)?,
            served_by: ServedBy::from_lookup(role, &lookup),
            misbehave,
        })
    }
}

/// Where `path` is for this process. In a container it is itself; on the local cluster, whose
/// containers are processes on one host, each container's files are under its own root
/// (`CONTAINER_ROOT`), so an absolute path from the manifest (a ConfigMap's `mountPath`) is there.
fn container_path(path: &Path, container_root: Option<&str>) -> PathBuf {
    match container_root.filter(|root| !root.is_empty()) {
        Some(root) if path.has_root() => {
            let relative: PathBuf = path
                .components()
                .filter(|c| matches!(c, std::path::Component::Normal(_)))
                .collect();
            Path::new(root).join(relative)
        }
        _ => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_listen_on_all_interfaces_port_3000() {
        let config = ServiceConfig::from_lookup(Role::Sum, |_| None).unwrap();
        assert_eq!(config.listen.to_string(), "0.0.0.0:3000");
        assert_eq!(config.backend_timeout, DEFAULT_BACKEND_TIMEOUT);
        assert_eq!(config.served_by.pod, None);
    }

    #[test]
    fn bad_values_say_what_to_set() {
        let host =
            ServiceConfig::from_lookup(Role::Sum, |k| (k == "HOST").then(|| "localhost:1".into()))
                .unwrap_err();
        assert!(host.to_string().contains("HOST=\"localhost:1\""), "{host}");
        let port = ServiceConfig::from_lookup(Role::Sum, |k| (k == "PORT").then(|| "70000".into()))
            .unwrap_err();
        assert!(port.to_string().contains("0 to 65535"), "{port}");
        let timeout = ServiceConfig::from_lookup(Role::Ui, |k| {
            (k == "BACKEND_TIMEOUT_MS").then(|| "0".into())
        })
        .unwrap_err();
        assert!(
            timeout.to_string().contains("BACKEND_TIMEOUT_MS"),
            "{timeout}"
        );
        let file = ServiceConfig::from_lookup(Role::Sum, |k| {
            (k == "CALC_ROUTING_FILE").then(|| "/etc/calculator/routing.yaml".into())
        })
        .unwrap_err();
        assert!(file.to_string().contains("only the monolith"), "{file}");
    }

    #[test]
    fn the_routing_file_is_under_the_container_root_when_there_is_one() {
        let config = ServiceConfig::from_lookup(Role::Monolith, |k| match k {
            "CALC_ROUTING_FILE" => Some("/etc/calculator/routing.yaml".into()),
            "CONTAINER_ROOT" => Some("/tmp/pods/abc/monolith".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(
            config.routing_file.as_deref(),
            Some(Path::new(
                "/tmp/pods/abc/monolith/etc/calculator/routing.yaml"
            ))
        );
        let config = ServiceConfig::from_lookup(Role::Monolith, |k| {
            (k == "CALC_ROUTING_FILE").then(|| "routing.yaml".into())
        })
        .unwrap();
        assert_eq!(
            config.routing_file.as_deref(),
            Some(Path::new("routing.yaml"))
        );
    }
}
