//! Requests asked again when the server says to. kube-rs already retries 429, 503 and 504 (the
//! server refused before doing anything); a 500 may come after a write took effect, so, as
//! client-go does with reads, only what changes nothing when repeated — a GET that is not a
//! watch, an access review, a server-side apply — is asked again, and only when the server's
//! `Retry-After` says when. Watches are the watchers' to restart.

use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use tower::BoxError;
use tower::buffer::BufferLayer;
use tower::retry::{Policy, RetryLayer};

/// How many times one read is asked again: client-go's limit. Five was too few for a server
/// refusing half its requests (one read in about 4,000 still failed).
const MAX_RETRIES: u32 = 10;
/// The longest wait a `Retry-After` is followed for; a server asking for longer is reported.
const MAX_WAIT: Duration = Duration::from_secs(10);

/// The policy: a GET answered 500 with `Retry-After` is asked again after that wait.
#[derive(Clone, Debug)]
pub struct ReadRetry {
    left: u32,
}

impl Default for ReadRetry {
    fn default() -> Self {
        ReadRetry { left: MAX_RETRIES }
    }
}

impl<B> Policy<Request<Body>, Response<B>, BoxError> for ReadRetry {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        request: &mut Request<Body>,
        result: &mut Result<Response<B>, BoxError>,
    ) -> Option<Self::Future> {
        let Ok(response) = result else { return None };
        if response.status() != StatusCode::INTERNAL_SERVER_ERROR
            || !is_read(request)
            || self.left == 0
        {
            return None;
        }
        let wait = retry_after(response.headers())?;
        self.left -= 1;
        tracing::debug!(uri = %request.uri(), ?wait, "read answered 500 with Retry-After; asking again");
        Some(tokio::time::sleep(wait))
    }

    fn clone_request(&mut self, request: &Request<Body>) -> Option<Request<Body>> {
        if !is_read(request) {
            return None;
        }
        let mut copy = Request::builder()
            .method(request.method().clone())
            .uri(request.uri().clone())
            .version(request.version())
            .body(request.body().try_clone()?)
            .ok()?;
        *copy.headers_mut() = request.headers().clone();
        *copy.extensions_mut() = request.extensions().clone();
        Some(copy)
    }
}

/// A request that changes nothing however often it is sent: a GET that is not a watch, a
/// question asked by creating a review (`SelfSubjectAccessReview`: nothing is stored), or a
/// server-side apply (the same apply twice leaves the object as one apply does).
fn is_read(request: &Request<Body>) -> bool {
    let path = request.uri().path();
    let question =
        path.ends_with("selfsubjectaccessreviews") || path.ends_with("selfsubjectreviews");
    let apply = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/apply-patch"));
    match *request.method() {
        Method::GET => !request
            .uri()
            .query()
            .unwrap_or_default()
            .split('&')
            .any(|pair| matches!(pair, "watch=true" | "watch=1")),
        Method::POST => question,
        Method::PATCH => apply,
        _ => false,
    }
}

/// `Retry-After` in seconds (the form API servers send), if within [`MAX_WAIT`].
fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds)).filter(|wait| *wait <= MAX_WAIT)
}

/// A client for `config` whose reads are asked again as above.
pub fn client(config: kube::Config) -> Result<kube::Client, kube::Error> {
    Ok(with_read_retry(kube::client::ClientBuilder::try_from(
        config,
    )?))
}

/// The client `builder` makes, its reads asked again as above. The retry needs a service it can
/// clone, hence the buffer in front of the stack.
pub fn with_read_retry<S, B>(builder: kube::client::ClientBuilder<S>) -> kube::Client
where
    S: tower::Service<Request<Body>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError> + Send + Sync,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    builder
        .with_layer(&BufferLayer::new(1024))
        .with_layer(&RetryLayer::new(ReadRetry::default()))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, uri: &str) -> Request<Body> {
        Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap()
    }

    fn answer(status: u16, retry_after: Option<&str>) -> Result<Response<()>, BoxError> {
        let mut response = Response::builder().status(status);
        if let Some(after) = retry_after {
            response = response.header("Retry-After", after);
        }
        Ok(response.body(()).unwrap())
    }

    fn copy(policy: &mut ReadRetry, request: &Request<Body>) -> Option<Request<Body>> {
        <ReadRetry as Policy<Request<Body>, Response<()>, BoxError>>::clone_request(policy, request)
    }

    #[tokio::test]
    async fn only_what_changes_nothing_when_repeated_is_asked_again_after_a_500() {
        let mut policy = ReadRetry::default();
        let mut list = request(Method::GET, "/api/v1/pods?limit=500");
        assert!(
            policy
                .retry(&mut list, &mut answer(500, Some("1")))
                .is_some()
        );
        assert!(copy(&mut policy, &list).is_some());
        // No Retry-After: the server did not say it is passing.
        assert!(policy.retry(&mut list, &mut answer(500, None)).is_none());
        // Too long a wait, or not a number.
        assert!(
            policy
                .retry(&mut list, &mut answer(500, Some("60")))
                .is_none()
        );
        assert!(
            policy
                .retry(&mut list, &mut answer(500, Some("soon")))
                .is_none()
        );
        // A question and a server-side apply change nothing when repeated.
        let mut review = request(
            Method::POST,
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        );
        assert!(
            policy
                .retry(&mut review, &mut answer(500, Some("1")))
                .is_some()
        );
        let mut apply = request(Method::PATCH, "/apis/apps/v1/namespaces/a/deployments/b");
        apply.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/apply-patch+yaml"),
        );
        assert!(
            policy
                .retry(&mut apply, &mut answer(500, Some("1")))
                .is_some()
        );
        // A write may have taken effect before the 500.
        let mut write = request(Method::PATCH, "/apis/apps/v1/namespaces/a/deployments/b");
        assert!(
            policy
                .retry(&mut write, &mut answer(500, Some("1")))
                .is_none()
        );
        assert!(copy(&mut policy, &write).is_none());
        // A watch is restarted by its watcher.
        let mut watch = request(Method::GET, "/api/v1/pods?watch=true&resourceVersion=5");
        assert!(
            policy
                .retry(&mut watch, &mut answer(500, Some("1")))
                .is_none()
        );
        // Other answers are kube-rs's (429, 503) or final.
        for status in [200, 404, 429, 503] {
            assert!(
                policy
                    .retry(&mut list, &mut answer(status, Some("1")))
                    .is_none()
            );
        }
    }

    #[tokio::test]
    async fn gives_up_after_the_limit() {
        let mut policy = ReadRetry::default();
        let mut list = request(Method::GET, "/api/v1/nodes");
        for _ in 0..MAX_RETRIES {
            assert!(
                policy
                    .retry(&mut list, &mut answer(500, Some("0")))
                    .is_some()
            );
        }
        assert!(
            policy
                .retry(&mut list, &mut answer(500, Some("0")))
                .is_none()
        );
    }
}
