//! Reads the Windows builds of Windows workloads' images from their registries: each Windows
//! entry's `os.version` in an image index, or the one manifest's config's `os.version`.
//! Anonymous, or with the pull secret the workload's pods would use. What a digest holds never
//! changes, so answers are kept per manifest digest for the process's life; a tag is resolved
//! to its digest (a HEAD request) each time.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube_units::windows_builds::WindowsBuild;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::manifest::OciManifest;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use crate::model::readiness::{ImagePull, RegistryAnswer};

/// How long one registry may take to answer, so a check never hangs on an unreachable one.
const REGISTRY_TIMEOUT: Duration = Duration::from_secs(5);

/// Builds read so far, by manifest digest.
fn cache() -> &'static Mutex<HashMap<String, RegistryAnswer>> {
    static CACHE: OnceLock<Mutex<HashMap<String, RegistryAnswer>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Each image's answer, all read at once, none waited on for longer than three registry
/// timeouts (a check never hangs on a registry that does not answer).
pub async fn read_all(
    client: &kube::Client,
    pulls: &[ImagePull],
) -> BTreeMap<String, RegistryAnswer> {
    let mut first: Vec<&ImagePull> = Vec::new();
    for pull in pulls {
        if !first.iter().any(|p| p.image == pull.image) {
            first.push(pull);
        }
    }
    let reads = first.into_iter().map(|pull| async move {
        let auth = pull_auth(client, pull).await;
        let limit = REGISTRY_TIMEOUT * 3;
        let answer = tokio::time::timeout(limit, read(&pull.image, &auth))
            .await
            .unwrap_or_else(|_| {
                RegistryAnswer::Unread(format!("no answer within {} s", limit.as_secs()))
            });
        tracing::debug!(image = %pull.image, ?answer, "image's Windows builds read");
        (pull.image.clone(), answer)
    });
    futures::future::join_all(reads).await.into_iter().collect()
}

/// What the registry of `image` says of its Windows platforms.
pub async fn read(image: &str, auth: &RegistryAuth) -> RegistryAnswer {
    let reference: Reference = match image.parse() {
        Ok(reference) => reference,
        Err(e) => return RegistryAnswer::Unread(format!("not an image reference: {e}")),
    };
    let client = Client::new(ClientConfig {
        protocol: protocol_for(reference.resolve_registry()),
        read_timeout: Some(REGISTRY_TIMEOUT),
        connect_timeout: Some(REGISTRY_TIMEOUT),
        ..ClientConfig::default()
    });
    let digest = match reference.digest() {
        Some(digest) => digest.to_owned(),
        None => match client.fetch_manifest_digest(&reference, auth).await {
            Ok(digest) => digest,
            Err(e) => return RegistryAnswer::Unread(unread(&reference, &e)),
        },
    };
    if let Some(known) = cache()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&digest)
    {
        return known.clone();
    }
    let answer = match client.pull_manifest(&reference, auth).await {
        Ok((OciManifest::ImageIndex(index), _)) => RegistryAnswer::Platforms {
            builds: index
                .manifests
                .iter()
                .filter_map(|entry| entry.platform.as_ref())
                .filter(|platform| platform.os.to_string() == "windows")
                .filter_map(|platform| platform.os_version.as_deref())
                .filter_map(WindowsBuild::parse)
                .collect(),
            index: true,
        },
        Ok((OciManifest::Image(manifest), _)) => {
            let mut config = Vec::new();
            match client
                .pull_blob(&reference, &manifest.config, &mut config)
                .await
            {
                Ok(()) => platform_of_config(&config),
                Err(e) => return RegistryAnswer::Unread(unread(&reference, &e)),
            }
        }
        Err(e) => return RegistryAnswer::Unread(unread(&reference, &e)),
    };
    cache()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(digest, answer.clone());
    answer
}

/// The Windows build an image config's `os`/`os.version` names (none for another OS).
fn platform_of_config(config: &[u8]) -> RegistryAnswer {
    #[derive(serde::Deserialize)]
    struct Config {
        os: Option<String>,
        #[serde(rename = "os.version")]
        os_version: Option<String>,
    }
    match serde_json::from_slice::<Config>(config) {
        Ok(config) => RegistryAnswer::Platforms {
            builds: (config.os.as_deref() == Some("windows"))
                .then(|| config.os_version.as_deref().and_then(WindowsBuild::parse))
                .flatten()
                .into_iter()
                .collect(),
            index: false,
        },
        Err(e) => RegistryAnswer::Unread(format!("its image config is not JSON: {e}")),
    }
}

/// Plain HTTP for a registry on this machine (as containerd's `localhost` default), TLS
/// everywhere else.
fn protocol_for(registry: &str) -> ClientProtocol {
    let host = registry.rsplit_once(':').map_or(registry, |(host, _)| host);
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        ClientProtocol::Http
    } else {
        ClientProtocol::Https
    }
}

/// `REGISTRY did not answer: ERROR: CAUSE: …` (the HTTP client's own words stop at "error
/// sending request"; the causes say whether it was DNS, a refused connection or TLS).
fn unread(reference: &Reference, error: &oci_client::errors::OciDistributionError) -> String {
    let mut words = format!("{} did not answer: {error}", reference.resolve_registry());
    let mut cause = std::error::Error::source(error);
    while let Some(inner) = cause {
        words.push_str(&format!(": {inner}"));
        cause = inner.source();
    }
    words
}

/// The credentials the workload's pull secrets hold for the image's registry (the
/// `.dockerconfigjson` of a `kubernetes.io/dockerconfigjson` Secret), else anonymous. A secret
/// the console may not read is passed over: the registry may still answer anonymously.
async fn pull_auth(client: &kube::Client, pull: &ImagePull) -> RegistryAuth {
    let Ok(reference) = pull.image.parse::<Reference>() else {
        return RegistryAuth::Anonymous;
    };
    let registry = reference.resolve_registry().to_owned();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &pull.namespace);
    for name in &pull.pull_secrets {
        match secrets.get_opt(name).await {
            Ok(Some(secret)) => {
                if let Some(auth) = docker_config_auth(&secret, &registry) {
                    return auth;
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::info!(secret = %name, namespace = %pull.namespace, error = %e, "pull secret not read; asking the registry anonymously");
            }
        }
    }
    RegistryAuth::Anonymous
}

/// The `auths` entry of a docker config for `registry`: `username`/`password`, or `auth`
/// (base64 of `user:password`).
fn docker_config_auth(secret: &Secret, registry: &str) -> Option<RegistryAuth> {
    let data = secret.data.as_ref()?.get(".dockerconfigjson")?;
    let config: serde_json::Value = serde_json::from_slice(&data.0).ok()?;
    let auths = config["auths"].as_object()?;
    let entry = auths.iter().find_map(|(key, entry)| {
        let host = key
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or_default();
        (host == registry).then_some(entry)
    })?;
    if let (Some(user), Some(password)) = (entry["username"].as_str(), entry["password"].as_str()) {
        return Some(RegistryAuth::Basic(user.to_owned(), password.to_owned()));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(entry["auth"].as_str()?)
        .ok()?;
    let (user, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some(RegistryAuth::Basic(user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_names_its_windows_build() {
        assert_eq!(
            platform_of_config(br#"{"os":"windows","os.version":"10.0.17763.6414"}"#),
            RegistryAnswer::Platforms {
                builds: vec![WindowsBuild::LTSC2019],
                index: false
            }
        );
        assert_eq!(
            platform_of_config(br#"{"os":"linux"}"#),
            RegistryAnswer::Platforms {
                builds: Vec::new(),
                index: false
            }
        );
        assert!(matches!(
            platform_of_config(b"<html>"),
            RegistryAnswer::Unread(_)
        ));
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
    }

    #[test]
    fn pull_secrets_give_the_registry_s_credentials() {
        let secret = |config: &str| -> Secret {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "pull"},
                "type": "kubernetes.io/dockerconfigjson",
                "data": {".dockerconfigjson": base64::engine::general_purpose::STANDARD.encode(config)}
            }))
            .unwrap_or_default()
        };
        let plain = secret(r#"{"auths":{"127.0.0.1:5000":{"username":"ci","password":"s3cret"}}}"#);
        assert!(matches!(
            docker_config_auth(&plain, "127.0.0.1:5000"),
            Some(RegistryAuth::Basic(user, password)) if user == "ci" && password == "s3cret"
        ));
        assert!(docker_config_auth(&plain, "ghcr.io").is_none());
        let encoded = secret(r#"{"auths":{"https://ghcr.io":{"auth":"Y2k6czNjcmV0"}}}"#);
        assert!(matches!(
            docker_config_auth(&encoded, "ghcr.io"),
            Some(RegistryAuth::Basic(user, password)) if user == "ci" && password == "s3cret"
        ));
    }
}
