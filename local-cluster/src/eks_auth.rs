//! What an EKS cluster's authenticator (aws-iam-authenticator) does with a bearer token: the
//! checks it makes on the token, then the call of the presigned STS URL inside to learn who is
//! asking. Written from its rules, not from any client's code, so it can judge tokens made by
//! any client. The local cluster uses it to stand in for an EKS cluster (`--eks-cluster`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::authorization::{MASTERS, UserInfo};

/// The prefix of an EKS token.
pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";
/// The longest token accepted.
pub const MAX_TOKEN_BYTES: usize = 4 * 1024;
/// How long after it was signed a token is accepted.
pub const TOKEN_VALIDITY_SECONDS: i64 = 15 * 60;
/// The longest `X-Amz-Expires` accepted.
pub const MAX_EXPIRES_SECONDS: i64 = 15 * 60;

/// The query parameters a presigned `GetCallerIdentity` URL may carry (lower-cased).
const ALLOWED_PARAMETERS: &[&str] = &[
    "action",
    "version",
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-date",
    "x-amz-expires",
    "x-amz-security-token",
    "x-amz-signature",
    "x-amz-signedheaders",
];

/// A token that passed every check: the STS URL to call, and what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedToken {
    /// The presigned URL (call it with the `x-k8s-aws-id` header set to the cluster).
    pub url: String,
    /// Its host (`sts.us-west-2.amazonaws.com`).
    pub host: String,
    /// Its query parameters, keys lower-cased.
    pub parameters: BTreeMap<String, String>,
}

fn is_sts_host(host: &str) -> bool {
    // `sts.amazonaws.com`, `sts.<region>.amazonaws.com`, and China's `.amazonaws.com.cn`.
    let rest = match host.strip_prefix("sts.") {
        Some(rest) => rest,
        None => return false,
    };
    let region_part = rest
        .strip_suffix("amazonaws.com.cn")
        .or_else(|| rest.strip_suffix("amazonaws.com"));
    match region_part {
        Some("") => true,
        Some(region) => {
            let region = region.trim_end_matches('.');
            !region.is_empty()
                && region
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        }
        None => false,
    }
}

/// Checks `token` as of `now` (seconds since the Unix epoch); says what is wrong when it fails.
pub fn verify(token: &str, now: i64) -> Result<VerifiedToken, String> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(format!(
            "token is {} bytes, more than {MAX_TOKEN_BYTES}",
            token.len()
        ));
    }
    let body = token
        .strip_prefix(TOKEN_PREFIX)
        .ok_or_else(|| format!("token does not start with {TOKEN_PREFIX}"))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|e| format!("token is not unpadded URL-safe base64: {e}"))?;
    let url = String::from_utf8(bytes).map_err(|_| "token does not hold text".to_owned())?;
    let rest = url
        .strip_prefix("https://")
        .ok_or("the presigned URL is not https")?;
    let (authority, path_and_query) = rest.split_once('/').unwrap_or((rest, ""));
    let host = authority.to_owned();
    if !is_sts_host(&host) {
        return Err(format!("{host} is not an STS host"));
    }
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    if !path.is_empty() {
        return Err(format!("the presigned URL's path is /{path}, not /"));
    }
    let mut parameters = BTreeMap::new();
    for (key, value) in serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .map_err(|e| format!("the presigned URL's query cannot be read: {e}"))?
    {
        let key = key.to_lowercase();
        if !ALLOWED_PARAMETERS.contains(&key.as_str()) {
            return Err(format!("query parameter {key} is not allowed"));
        }
        if parameters.insert(key.clone(), value).is_some() {
            return Err(format!("query parameter {key} is given twice"));
        }
    }
    let get = |k: &str| parameters.get(k).map(String::as_str).unwrap_or_default();
    if !get("action").eq_ignore_ascii_case("GetCallerIdentity") {
        return Err(format!(
            "action is {:?}, not GetCallerIdentity",
            get("action")
        ));
    }
    if !get("x-amz-signedheaders")
        .split(';')
        .any(|h| h.eq_ignore_ascii_case("x-k8s-aws-id"))
    {
        return Err("x-k8s-aws-id is not among the signed headers".into());
    }
    let expires: i64 = get("x-amz-expires")
        .parse()
        .map_err(|_| "X-Amz-Expires is missing or not a number".to_owned())?;
    if !(1..=MAX_EXPIRES_SECONDS).contains(&expires) {
        return Err(format!(
            "X-Amz-Expires {expires} is outside 1..={MAX_EXPIRES_SECONDS}"
        ));
    }
    let signed: jiff::Timestamp =
        jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", get("x-amz-date"))
            .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC))
            .map(|z| z.timestamp())
            .map_err(|_| format!("X-Amz-Date {:?} is not a date", get("x-amz-date")))?;
    let age = now - signed.as_second();
    if age > TOKEN_VALIDITY_SECONDS {
        return Err(format!(
            "token expired: signed {age} s ago, valid for {TOKEN_VALIDITY_SECONDS} s"
        ));
    }
    if age < -60 {
        return Err(format!("token is signed {} s in the future", -age));
    }
    if get("x-amz-signature").is_empty() || get("x-amz-credential").is_empty() {
        return Err("token is not signed".into());
    }
    Ok(VerifiedToken {
        url,
        host,
        parameters,
    })
}

/// Where the local cluster, standing in for an EKS cluster, asks STS who a token belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EksIdentity {
    /// The cluster's name (what `x-k8s-aws-id` carries).
    pub cluster: String,
    /// The STS endpoint to call instead of the token's own host (an AWS API emulator offline);
    /// `None` calls the token's host.
    pub sts_endpoint: Option<String>,
    /// IAM ARNs given `system:masters` (the cluster creator's access entry, as on EKS).
    pub admins: Vec<String>,
}

/// Tells who an EKS token belongs to, and remembers it while the token is valid.
pub struct EksAuthenticator {
    identity: EksIdentity,
    client: Client<HttpConnector, Empty<Bytes>>,
    known: Mutex<HashMap<String, (UserInfo, i64)>>,
}

/// The ARN STS answers with, from its XML.
fn caller_arn(xml: &str) -> Option<String> {
    let document = roxmltree::Document::parse(xml).ok()?;
    document
        .descendants()
        .find(|n| n.has_tag_name("Arn"))
        .and_then(|n| n.text())
        .map(str::to_owned)
}

impl EksAuthenticator {
    /// An authenticator for `identity`.
    pub fn new(identity: EksIdentity) -> EksAuthenticator {
        EksAuthenticator {
            identity,
            client: Client::builder(TokioExecutor::new()).build_http(),
            known: Mutex::default(),
        }
    }

    /// The user `token` belongs to: checked, then sent to STS, whose answer names the caller.
    pub async fn authenticate(&self, token: &str, now: i64) -> Result<UserInfo, String> {
        if let Ok(known) = self.known.lock()
            && let Some((user, until)) = known.get(token)
            && *until > now
        {
            return Ok(user.clone());
        }
        let verified = verify(token, now)?;
        let url = match &self.identity.sts_endpoint {
            Some(endpoint) => {
                let query = verified
                    .url
                    .split_once('?')
                    .map(|(_, q)| q)
                    .unwrap_or_default();
                format!("{}/?{query}", endpoint.trim_end_matches('/'))
            }
            None => verified.url.clone(),
        };
        let mut request = axum::http::Request::get(&url)
            .header("x-k8s-aws-id", &self.identity.cluster)
            .header("accept", "application/xml");
        if self.identity.sts_endpoint.is_some() {
            // An emulator (moto server) tells services apart by the Authorization header's
            // credential scope, not by a presigned query: name the scope there too. Real STS
            // gets the presigned URL alone.
            let scope = verified
                .parameters
                .get("x-amz-credential")
                .cloned()
                .unwrap_or_default();
            request = request.header(
                "authorization",
                format!("AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host;x-k8s-aws-id, Signature=presigned"),
            );
        }
        let request = request
            .body(Empty::new())
            .map_err(|e| format!("cannot build the STS request: {e}"))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| format!("STS at {url} did not answer: {e}"))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("STS's answer could not be read: {e}"))?
            .to_bytes();
        let text = String::from_utf8_lossy(&body);
        if !status.is_success() {
            return Err(format!(
                "STS refused the token ({status}): {}",
                text.chars().take(200).collect::<String>()
            ));
        }
        let arn = caller_arn(&text).ok_or("STS's answer names no caller")?;
        let groups: &[&str] = if self.identity.admins.iter().any(|a| a == &arn) {
            &[MASTERS]
        } else {
            &[]
        };
        let user = UserInfo::new(arn, groups);
        // Remembered for a minute, as the real authenticator caches, so STS is not asked on
        // every request.
        if let Ok(mut known) = self.known.lock() {
            known.retain(|_, (_, until)| *until > now);
            known.insert(token.to_owned(), (user.clone(), now + 60));
        }
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(url: &str) -> String {
        format!(
            "{TOKEN_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url)
        )
    }

    const GOOD: &str = "https://sts.us-west-2.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20231114%2Fus-west-2%2Fsts%2Faws4_request&X-Amz-Date=20231114T221320Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&X-Amz-Signature=abc";
    const SIGNED: i64 = 1_700_000_000;

    #[test]
    fn the_caller_is_read_from_stss_answer() {
        let xml = r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><UserId>AIDA</UserId><Account>123456789012</Account><Arn>arn:aws:iam::123456789012:user/alice</Arn></GetCallerIdentityResult></GetCallerIdentityResponse>"#;
        assert_eq!(
            caller_arn(xml).as_deref(),
            Some("arn:aws:iam::123456789012:user/alice")
        );
        assert_eq!(caller_arn("<x/>"), None);
        assert_eq!(caller_arn("not xml"), None);
    }

    #[test]
    fn a_good_token_passes_within_fifteen_minutes() {
        let verified = verify(&token(GOOD), SIGNED + 60).unwrap();
        assert_eq!(verified.host, "sts.us-west-2.amazonaws.com");
        assert!(verify(&token(GOOD), SIGNED + 15 * 60).is_ok());
        assert!(
            verify(&token(GOOD), SIGNED + 15 * 60 + 1)
                .unwrap_err()
                .starts_with("token expired")
        );
    }

    #[test]
    fn every_rule_refuses_what_breaks_it() {
        let cases = [
            (GOOD.replace("https://", "http://"), "not https"),
            (
                GOOD.replace("sts.us-west-2.amazonaws.com", "sts.evil.com"),
                "not an STS host",
            ),
            (GOOD.replace(".com/?", ".com/x?"), "path"),
            (
                GOOD.replace("GetCallerIdentity", "AssumeRole"),
                "not GetCallerIdentity",
            ),
            (
                GOOD.replace("host%3Bx-k8s-aws-id", "host"),
                "signed headers",
            ),
            (
                GOOD.replace("X-Amz-Expires=60", "X-Amz-Expires=3600"),
                "outside",
            ),
            (format!("{GOOD}&Foo=1"), "not allowed"),
            (format!("{GOOD}&Action=GetCallerIdentity"), "twice"),
        ];
        for (url, why) in cases {
            let err = verify(&token(&url), SIGNED + 1).unwrap_err();
            assert!(err.contains(why), "{url}: {err}");
        }
        assert!(
            verify("Bearer x", SIGNED)
                .unwrap_err()
                .contains("does not start")
        );
        assert!(
            verify(&format!("{TOKEN_PREFIX}!!"), SIGNED)
                .unwrap_err()
                .contains("base64")
        );
        assert!(
            verify(&"k".repeat(5000), SIGNED)
                .unwrap_err()
                .contains("more than")
        );
    }
}
