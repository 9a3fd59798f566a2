//! The EKS bearer token, built here rather than by the `aws` CLI: `k8s-aws-v1.` and the unpadded
//! URL-safe base64 of an STS `GetCallerIdentity` URL presigned with SigV4 (query signing,
//! `X-Amz-Expires=60`), with the `x-k8s-aws-id: <cluster>` header among the signed headers. The
//! cluster's authenticator calls that URL to learn who is asking; it accepts the token for 15
//! minutes after `X-Amz-Date`, and the console, like the AWS CLI, renews it after 14.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use base64::Engine;
use serde_json::json;

/// The prefix every EKS token carries.
pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";

/// How long the console uses a token: the authenticator accepts it for 15 minutes after it was
/// signed; one minute is left for clocks that disagree.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(14 * 60);

/// A bearer token for one cluster, and when to stop using it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EksToken {
    /// `k8s-aws-v1.…`
    pub token: String,
    /// When it was signed.
    pub signed_at: SystemTime,
    /// When to stop using it.
    pub expires_at: SystemTime,
}

/// Why a token could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The region is not a region name.
    #[error("{0:?} is not an AWS region name")]
    Region(String),
    /// SigV4 refused the request (it should not).
    #[error("cannot sign the STS request: {0}")]
    Signing(String),
}

/// The regional STS host for `region` (`sts.eu-west-1.amazonaws.com`; China's under `.com.cn`).
pub fn sts_host(region: &str) -> Result<String, TokenError> {
    if !crate::model::eks::is_region_name(region) {
        return Err(TokenError::Region(region.to_owned()));
    }
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    Ok(format!("sts.{region}.{suffix}"))
}

/// Signs a token for `cluster` with `credentials` in `region`, as of `now`.
pub fn token(
    credentials: &Credentials,
    region: &str,
    cluster: &str,
    now: SystemTime,
) -> Result<EksToken, TokenError> {
    let host = sts_host(region)?;
    let base = format!("https://{host}/?Action=GetCallerIdentity&Version=2011-06-15");
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(60));
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| TokenError::Signing(e.to_string()))?
        .into();
    let request = SignableRequest::new(
        "GET",
        base.as_str(),
        [("host", host.as_str()), ("x-k8s-aws-id", cluster)].into_iter(),
        // The hash of the empty body, as botocore and the Go SDK sign STS presigned URLs (only
        // S3 signs them UNSIGNED-PAYLOAD).
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| TokenError::Signing(e.to_string()))?;
    let (instructions, _) = sign(request, &params)
        .map_err(|e| TokenError::Signing(e.to_string()))?
        .into_parts();
    let mut url = base;
    for (name, value) in instructions.params() {
        url.push('&');
        url.push_str(name);
        url.push('=');
        url.push_str(&form_encode(value));
    }
    Ok(EksToken {
        token: format!(
            "{TOKEN_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url)
        ),
        signed_at: now,
        expires_at: now + TOKEN_LIFETIME,
    })
}

/// Percent-encodes a query value the way SigV4 does (RFC 3986 unreserved characters kept).
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `ExecCredential` a kubeconfig's exec plugin prints (`client.authentication.k8s.io/v1beta1`).
pub fn exec_credential(token: &EksToken) -> serde_json::Value {
    let expires = jiff::Timestamp::try_from(token.expires_at)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    json!({
        "kind": "ExecCredential",
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "spec": {},
        "status": {"expirationTimestamp": expires, "token": token.token},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sts_hosts_are_regional_and_regions_are_checked() {
        assert_eq!(
            sts_host("eu-west-1").unwrap(),
            "sts.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            sts_host("cn-north-1").unwrap(),
            "sts.cn-north-1.amazonaws.com.cn"
        );
        assert!(sts_host("").is_err());
        assert!(sts_host("evil.com/x").is_err());
    }

    #[test]
    fn the_token_is_an_unpadded_url_safe_presigned_url() {
        let credentials = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let t = token(&credentials, "us-west-2", "hybrid", now).unwrap();
        let body = t.token.strip_prefix(TOKEN_PREFIX).unwrap();
        assert!(!body.contains('=') && !body.contains('+') && !body.contains('/'));
        let url = String::from_utf8(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(body)
                .unwrap(),
        )
        .unwrap();
        assert!(
            url.starts_with(
                "https://sts.us-west-2.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&"
            ),
            "{url}"
        );
        assert!(url.contains("X-Amz-Expires=60"), "{url}");
        assert!(
            url.contains("X-Amz-SignedHeaders=host%3Bx-k8s-aws-id"),
            "{url}"
        );
        assert!(url.contains("X-Amz-Date=20231114T221320Z"), "{url}");
        assert_eq!(t.expires_at, now + Duration::from_secs(14 * 60));
        let exec = exec_credential(&t);
        assert_eq!(
            exec["status"]["expirationTimestamp"],
            "2023-11-14T22:27:20Z"
        );
    }
}
