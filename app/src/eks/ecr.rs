//! Reading private ECR repositories as the nodes do: ECR's `GetAuthorizationToken` gives a
//! registry password (12 hours) for the operator's AWS identity, as the kubelet's ECR credential
//! provider gets one for the node's role. One JSON call signed by [`super::signed_call`]; kept
//! an hour per region.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;

use super::signed_call::Call;
use super::{Aws, AwsError};

/// How long a token is used: ECR's live 12 hours; an hour leaves room for clocks and pauses.
const KEEP: Duration = Duration::from_secs(3600);

/// A registry user and password.
pub type Login = (String, String);

fn cache() -> &'static Mutex<HashMap<String, (Instant, Login)>> {
    static CACHE: OnceLock<Mutex<HashMap<String, (Instant, Login)>>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// The region of an ECR registry host (`123456789012.dkr.ecr.us-west-2.amazonaws.com`, FIPS
/// and China hosts too), or `None` for any other registry.
pub fn ecr_region(host: &str) -> Option<&str> {
    let (account, rest) = host.split_once('.')?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rest = rest
        .strip_prefix("dkr.ecr.")
        .or_else(|| rest.strip_prefix("dkr.ecr-fips."))?;
    let region = rest
        .strip_suffix(".amazonaws.com")
        .or_else(|| rest.strip_suffix(".amazonaws.com.cn"))?;
    crate::model::eks::is_region_name(region).then_some(region)
}

impl Aws {
    /// The registry login ECR gives this identity in `region`.
    pub async fn ecr_login(&self, region: &str) -> Result<Login, AwsError> {
        if let Ok(cache) = cache().lock()
            && let Some((at, login)) = cache.get(region)
            && at.elapsed() < KEEP
        {
            return Ok(login.clone());
        }
        let answer = self
            .signed_post(Call {
                service: "ecr",
                label: "ECR",
                region,
                endpoint_variable: "AWS_ENDPOINT_URL_ECR",
                host_prefix: "api.ecr",
                content_type: "application/x-amz-json-1.1",
                headers: vec![(
                    "x-amz-target",
                    "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken",
                )],
                body: "{}".to_owned(),
            })
            .await?;
        if !(200..300).contains(&answer.status) {
            return Err(self.refusal("ECR", "ecr:GetAuthorizationToken", &answer));
        }
        let login = login_of(&answer.body).ok_or_else(|| AwsError::Api {
            service: "ECR",
            words: "GetAuthorizationToken answered without a token".to_owned(),
        })?;
        if let Ok(mut cache) = cache().lock() {
            cache.insert(region.to_owned(), (Instant::now(), login.clone()));
        }
        Ok(login)
    }
}

/// `authorizationData[0].authorizationToken`: base64 of `user:password`.
fn login_of(body: &str) -> Option<Login> {
    let json: serde_json::Value = serde_json::from_str(body).ok()?;
    let token = json["authorizationData"][0]["authorizationToken"].as_str()?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()?;
    let (user, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecr_hosts_are_told_and_their_tokens_read() {
        assert_eq!(
            ecr_region("123456789012.dkr.ecr.us-west-2.amazonaws.com"),
            Some("us-west-2")
        );
        assert_eq!(
            ecr_region("123456789012.dkr.ecr-fips.us-east-1.amazonaws.com"),
            Some("us-east-1")
        );
        assert_eq!(
            ecr_region("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn"),
            Some("cn-north-1")
        );
        for other in [
            "public.ecr.aws",
            "ghcr.io",
            "12345.dkr.ecr.us-west-2.amazonaws.com",
            "123456789012.dkr.ecr.nowhere.amazonaws.com",
            "127.0.0.1:5000",
        ] {
            assert_eq!(ecr_region(other), None, "{other}");
        }
        let body = r#"{"authorizationData":[{"authorizationToken":"QVdTOnMzY3JldA==","expiresAt":1.7e9,"proxyEndpoint":"https://123456789012.dkr.ecr.us-west-2.amazonaws.com"}]}"#;
        assert_eq!(login_of(body), Some(("AWS".into(), "s3cret".into())));
        assert_eq!(login_of("{}"), None);
    }
}
