//! Reads the Windows builds of Windows workloads' images from their registries (see
//! [`image_platforms`]): anonymously, with the pull secret the workload's pods would use, or —
//! for a private ECR registry no pull secret covers — with the login ECR gives the operator's AWS
//! identity (as the nodes' ECR credential provider gets one for their role).

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use image_platforms::RegistryAuth;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;

use crate::eks::ecr::ecr_region;
use crate::eks::{Aws, AwsError};
use crate::model::eks::AwsTarget;
use crate::model::readiness::{ImagePull, RegistryAnswer};

/// How long one registry may take to answer, so a check never hangs on an unreachable one.
const REGISTRY_TIMEOUT: Duration = Duration::from_secs(5);

/// Each image's answer, all read at once, none waited on for longer than three registry
/// timeouts (a check never hangs on a registry that does not answer).
pub async fn read_all(
    client: &kube::Client,
    pulls: &[ImagePull],
    aws: &AwsTarget,
) -> BTreeMap<String, RegistryAnswer> {
    // AWS is loaded once, and only if an ECR image needs it.
    let aws_loaded: tokio::sync::OnceCell<Result<Aws, AwsError>> = tokio::sync::OnceCell::new();
    let aws_loaded = &aws_loaded;
    let mut first: Vec<&ImagePull> = Vec::new();
    for pull in pulls {
        if !first.iter().any(|p| p.image == pull.image) {
            first.push(pull);
        }
    }
    let reads = first.into_iter().map(|pull| async move {
        let limit = REGISTRY_TIMEOUT * 3;
        let answer = tokio::time::timeout(limit, async {
            let mut auth = pull_auth(client, pull).await;
            let mut ecr = None;
            if matches!(auth, RegistryAuth::Anonymous)
                && let Some(region) = image_platforms::registry_of(&pull.image)
                    .as_deref()
                    .and_then(ecr_region)
                    .map(str::to_owned)
            {
                let loaded = aws_loaded.get_or_init(|| Aws::load(aws)).await;
                let login = match loaded {
                    Ok(aws) => aws.ecr_login(&region).await,
                    Err(why) => Err(why.clone()),
                };
                match login {
                    Ok((user, password)) => auth = RegistryAuth::Basic(user, password),
                    Err(why) => {
                        return RegistryAnswer::Unread(format!(
                            "no ECR login for its registry ({why})"
                        ));
                    }
                }
                ecr = Some(region);
            }
            match (read(&pull.image, &auth).await, ecr) {
                (RegistryAnswer::Unread(why), Some(region)) => {
                    RegistryAnswer::Unread(format!("{why} (asked with ECR's login for {region})"))
                }
                (answer, _) => answer,
            }
        })
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
    match image_platforms::read(image, auth, REGISTRY_TIMEOUT).await {
        Ok(platforms) => RegistryAnswer::Platforms {
            builds: platforms.windows_builds(),
            index: platforms.index,
        },
        Err(why) => RegistryAnswer::Unread(why),
    }
}

/// The credentials the workload's pull secrets hold for the image's registry (the
/// `.dockerconfigjson` of a `kubernetes.io/dockerconfigjson` Secret), else anonymous. A secret
/// the console may not read is passed over: the registry may still answer anonymously.
async fn pull_auth(client: &kube::Client, pull: &ImagePull) -> RegistryAuth {
    let Some(registry) = image_platforms::registry_of(&pull.image) else {
        return RegistryAuth::Anonymous;
    };
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
