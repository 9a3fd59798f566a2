//! One SigV4-signed POST to an AWS API the console asks without that service's SDK crate (EC2's
//! `DescribeInstanceTypes`, ECR's `GetAuthorizationToken`, Cost Explorer's `GetCostAndUsage`: one
//! read-only call each, where the crate would cost minutes of compile or sit on the first
//! build's critical path — BENCHMARKS.md). Signed by `aws-sigv4`, the SDK's own
//! signer, with the credentials of the SDK's chain; endpoints honour `AWS_ENDPOINT_URL_<SERVICE>`
//! and `AWS_ENDPOINT_URL` as the SDK does.

use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

use super::{Aws, AwsError};

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// One call.
pub(super) struct Call<'a> {
    /// The signing name (`ec2`, `ecr`, `ce`).
    pub service: &'static str,
    /// The service as people name it, for messages (`EC2`, `ECR`, `Cost Explorer`).
    pub label: &'static str,
    /// The region to sign for and send to.
    pub region: &'a str,
    /// The environment variable naming this service's endpoint (`AWS_ENDPOINT_URL_EC2`).
    pub endpoint_variable: &'static str,
    /// The regional host's first labels (`ec2`, `api.ecr`).
    pub host_prefix: &'static str,
    /// The body's content type.
    pub content_type: &'static str,
    /// Other headers to sign and send (`x-amz-target`).
    pub headers: Vec<(&'static str, &'static str)>,
    /// The body.
    pub body: String,
}

/// What the service answered: its HTTP status and body.
pub(super) struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    /// A refusal's words: the service's `Code: message`, else the status and the body's start.
    pub(super) fn words(&self) -> String {
        service_words(self.body.as_bytes()).unwrap_or_else(|| {
            format!(
                "HTTP {}: {}",
                self.status,
                self.body.chars().take(200).collect::<String>()
            )
        })
    }
}

impl Aws {
    /// The endpoint of `call`'s service.
    fn endpoint_of(&self, call: &Call<'_>) -> String {
        if let Ok(url) = std::env::var(call.endpoint_variable) {
            return url;
        }
        if let Some(url) = self.endpoint_url() {
            return url.to_owned();
        }
        let suffix = if call.region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        format!("https://{}.{}.{suffix}/", call.host_prefix, call.region)
    }

    /// Signs and sends `call`; the answer whatever its status, or why it could not be sent.
    pub(super) async fn signed_post(&self, call: Call<'_>) -> Result<Answer, AwsError> {
        let fail = |words: String| AwsError::Api {
            service: call.label,
            words,
        };
        let endpoint = self.endpoint_of(&call);
        let url = reqwest::Url::parse(&endpoint)
            .map_err(|e| AwsError::Invalid(format!("{} endpoint {endpoint:?}: {e}", call.label)))?;
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => {
                return Err(AwsError::Invalid(format!(
                    "{} endpoint {endpoint:?} names no host",
                    call.label
                )));
            }
        };
        let credentials = self.credentials().await?;
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(call.region)
            .name(call.service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| fail(format!("cannot sign the request: {e}")))?
            .into();
        let mut headers = vec![("content-type", call.content_type), ("host", host.as_str())];
        headers.extend(call.headers.iter().copied());
        let signable = SignableRequest::new(
            "POST",
            url.as_str(),
            headers.into_iter(),
            SignableBody::Bytes(call.body.as_bytes()),
        )
        .map_err(|e| fail(format!("cannot sign the request: {e}")))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| fail(format!("cannot sign the request: {e}")))?
            .into_parts();
        // reqwest is built without a crypto provider of its own: the console's rustls uses ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| fail(format!("cannot make an HTTP client: {e}")))?;
        let mut request = client
            .post(url)
            .header("content-type", call.content_type)
            .body(call.body.clone());
        for (name, value) in &call.headers {
            request = request.header(*name, *value);
        }
        for (name, value) in instructions.headers() {
            request = request.header(name, value);
        }
        let unreachable = |e: reqwest::Error| {
            fail(format!(
                "cannot reach it in {} at {endpoint}: {}. Check the network, or {} / AWS_ENDPOINT_URL if you set them",
                call.region,
                deepest(&e),
                call.endpoint_variable
            ))
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(unreachable)?;
        Ok(Answer { status, body })
    }

    /// A refusal's words as an error: the permission named when it is one.
    pub(super) fn refusal(
        &self,
        call_label: &'static str,
        action: &str,
        answer: &Answer,
    ) -> AwsError {
        match self.classify(&answer.words()) {
            AwsError::AccessDenied(words) => AwsError::AccessDenied(format!("{action} ({words})")),
            AwsError::Service(words) => AwsError::Api {
                service: call_label,
                words,
            },
            other => other,
        }
    }
}

/// The innermost cause of an error, which says what went wrong (not "error sending request").
fn deepest(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// `Code: message` from an AWS error body in JSON (`__type`, `Message`) or XML (`<Code>`,
/// `<Message>`, as the Query APIs — and emulators for any API — answer).
pub(super) fn service_words(body: &[u8]) -> Option<String> {
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) {
        let code = json["__type"].as_str().unwrap_or_default();
        let code = code.rsplit('#').next().unwrap_or(code);
        let message = json["Message"]
            .as_str()
            .or_else(|| json["message"].as_str())?;
        return Some(format!("{code}: {message}"));
    }
    let text = std::str::from_utf8(body).ok()?;
    let document = roxmltree::Document::parse(text).ok()?;
    let field = |name: &str| {
        document
            .descendants()
            .find(|n| n.has_tag_name(name))
            .and_then(|n| n.text())
    };
    Some(format!("{}: {}", field("Code")?, field("Message")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_in_json_and_xml_are_read() {
        assert_eq!(
            service_words(br#"{"__type":"com.amazon#AccessDeniedException","Message":"no"}"#),
            Some("AccessDeniedException: no".into())
        );
        assert_eq!(
            service_words(
                b"<?xml version=\"1.0\"?><Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized.</Message></Error></Errors></Response>"
            ),
            Some("UnauthorizedOperation: You are not authorized.".into())
        );
        assert_eq!(service_words(b"<html>bad gateway</html>"), None);
    }
}
