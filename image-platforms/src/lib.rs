//! Which platforms a container image has, as its registry says: each entry of its image index
//! (a multi-platform tag), or its one manifest's config. For Windows the build matters as much
//! as the OS (process-isolated containers share the node's kernel), so each platform carries
//! its `os.version` as a [`WindowsBuild`]. What a digest holds never changes, so answers are kept
//! per manifest digest for the process's life; a tag is resolved to its digest each time.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use kube_units::windows_builds::WindowsBuild;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::manifest::OciManifest;
pub use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

/// One platform of an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    /// `linux`, `windows`.
    pub os: String,
    /// A Windows platform's build (`os.version`), when it says one.
    pub windows_build: Option<WindowsBuild>,
}

/// What the registry said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platforms {
    /// Its platforms.
    pub platforms: Vec<Platform>,
    /// Whether they come from an image index (else from one manifest's config).
    pub index: bool,
}

impl Platforms {
    /// The Windows builds among them.
    pub fn windows_builds(&self) -> Vec<WindowsBuild> {
        self.platforms
            .iter()
            .filter(|p| p.os == "windows")
            .filter_map(|p| p.windows_build)
            .collect()
    }
}

/// Answers so far, by manifest digest.
fn cache() -> &'static Mutex<HashMap<String, Platforms>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Platforms>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The platforms of `image`, each request given `timeout`; `Err` says why the registry could
/// not be read, in words an operator can act on.
pub async fn read(
    image: &str,
    auth: &RegistryAuth,
    timeout: Duration,
) -> Result<Platforms, String> {
    let reference: Reference = image
        .parse()
        .map_err(|e| format!("not an image reference: {e}"))?;
    // reqwest is built without a crypto provider of its own: the workspace's rustls uses ring
    // everywhere. Installing it fails harmlessly when the process already has one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = Client::new(ClientConfig {
        protocol: protocol_for(reference.resolve_registry()),
        read_timeout: Some(timeout),
        connect_timeout: Some(timeout),
        ..ClientConfig::default()
    });
    let digest = match reference.digest() {
        Some(digest) => digest.to_owned(),
        None => client
            .fetch_manifest_digest(&reference, auth)
            .await
            .map_err(|e| unread(&reference, &e))?,
    };
    if let Some(known) = cache()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&digest)
    {
        return Ok(known.clone());
    }
    let platforms = match client
        .pull_manifest(&reference, auth)
        .await
        .map_err(|e| unread(&reference, &e))?
    {
        (OciManifest::ImageIndex(index), _) => Platforms {
            platforms: index
                .manifests
                .iter()
                .filter_map(|entry| entry.platform.as_ref())
                .map(|platform| Platform {
                    os: platform.os.to_string(),
                    windows_build: platform.os_version.as_deref().and_then(WindowsBuild::parse),
                })
                .collect(),
            index: true,
        },
        (OciManifest::Image(manifest), _) => {
            let mut config = Vec::new();
            client
                .pull_blob(&reference, &manifest.config, &mut config)
                .await
                .map_err(|e| unread(&reference, &e))?;
            Platforms {
                platforms: vec![platform_of_config(&config)?],
                index: false,
            }
        }
    };
    cache()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(digest, platforms.clone());
    Ok(platforms)
}

/// The platform an image config's `os`/`os.version` names.
fn platform_of_config(config: &[u8]) -> Result<Platform, String> {
    #[derive(serde::Deserialize)]
    struct Config {
        os: Option<String>,
        #[serde(rename = "os.version")]
        os_version: Option<String>,
    }
    let config: Config =
        serde_json::from_slice(config).map_err(|e| format!("its image config is not JSON: {e}"))?;
    Ok(Platform {
        os: config.os.unwrap_or_default(),
        windows_build: config.os_version.as_deref().and_then(WindowsBuild::parse),
    })
}

/// Whether `registry` (`host[:port]`) is on this machine: spoken to over plain HTTP, as
/// containerd treats `localhost`; every other registry over TLS.
pub fn is_local(registry: &str) -> bool {
    let host = registry.rsplit_once(':').map_or(registry, |(host, _)| host);
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The registry an image reference names, as its API is reached (`index.docker.io` when it
/// names none).
pub fn registry_of(image: &str) -> Option<String> {
    image
        .parse::<Reference>()
        .ok()
        .map(|r| r.resolve_registry().to_owned())
}

fn protocol_for(registry: &str) -> ClientProtocol {
    if is_local(registry) {
        ClientProtocol::Http
    } else {
        ClientProtocol::Https
    }
}

/// `REGISTRY could not be read: WHY`, where WHY is the deepest cause (the HTTP client's own words
/// stop at "error sending request for url"; the cause says whether it was DNS, a refused
/// connection or TLS), or the registry's error itself.
fn unread(reference: &Reference, error: &oci_client::errors::OciDistributionError) -> String {
    let mut deepest: &dyn std::error::Error = error;
    while let Some(inner) = deepest.source() {
        deepest = inner;
    }
    format!(
        "{} could not be read: {deepest}",
        reference.resolve_registry()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_names_its_platform() {
        assert_eq!(
            platform_of_config(br#"{"os":"windows","os.version":"10.0.17763.6414"}"#),
            Ok(Platform {
                os: "windows".into(),
                windows_build: Some(WindowsBuild::LTSC2019)
            })
        );
        assert_eq!(
            platform_of_config(br#"{"os":"linux"}"#).map(|p| p.windows_build),
            Ok(None)
        );
        assert!(platform_of_config(b"<html>").is_err());
    }

    #[test]
    fn registries_on_this_machine_are_spoken_to_over_http() {
        assert_eq!(protocol_for("localhost:5000"), ClientProtocol::Http);
        assert_eq!(protocol_for("127.0.0.1:41234"), ClientProtocol::Http);
        assert_eq!(protocol_for("ghcr.io"), ClientProtocol::Https);
        assert_eq!(
            protocol_for("123456789012.dkr.ecr.us-east-1.amazonaws.com"),
            ClientProtocol::Https
        );
        assert_eq!(registry_of("busybox").as_deref(), Some("index.docker.io"));
        assert_eq!(
            registry_of("127.0.0.1:5000/shop/app:1.0").as_deref(),
            Some("127.0.0.1:5000")
        );
    }
}
