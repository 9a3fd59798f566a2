//! The checks an EKS cluster's authenticator (aws-iam-authenticator) makes on a bearer token
//! before it calls the presigned STS URL inside to learn who is asking. Written from its rules,
//! not from any client's code, so it can judge tokens made by any client.

use std::collections::BTreeMap;

use base64::Engine;

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
