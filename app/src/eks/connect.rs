//! Connecting to an EKS cluster with no kubeconfig and no `aws` CLI: the API server's URL and CA
//! from `DescribeCluster`, and every request carrying a bearer token the console signs itself,
//! signed again before the authenticator would stop accepting it.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use std::sync::RwLock;

use http::HeaderValue;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use super::{Aws, ClusterAccess, EksToken};
use crate::cluster::connection::{self, ConnectError, Connection, FreshToken};

/// A token is signed again this long before the console stops using it.
const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// When to sign the next token, given the one in hand.
pub fn renew_at(token: &EksToken) -> SystemTime {
    token.expires_at - RENEW_BEFORE
}

fn bearer(token: &EksToken) -> Result<HeaderValue, ConnectError> {
    HeaderValue::from_str(&format!("Bearer {}", token.token))
        .map_err(|e| ConnectError::Other(format!("the EKS token is not a header value: {e}")))
}

/// Signs the first token, then keeps the header fresh in the background for as long as a
/// client holds it.
async fn token_header(aws: Arc<Aws>, cluster: &str) -> Result<FreshToken, ConnectError> {
    let sign = |aws: Arc<Aws>, cluster: String| async move {
        aws.token(&cluster)
            .await
            .map_err(|e| ConnectError::Credentials {
                plugin: "of AWS (EKS token)".into(),
                detail: e.to_string(),
            })
    };
    let first = sign(aws.clone(), cluster.to_owned()).await?;
    let header = Arc::new(RwLock::new(bearer(&first)?));
    let renewed = header.clone();
    let cluster = cluster.to_owned();
    let renewer = tokio::spawn(async move {
        let mut next = renew_at(&first);
        loop {
            let wait = next.duration_since(SystemTime::now()).unwrap_or_default();
            tokio::time::sleep(wait).await;
            match sign(aws.clone(), cluster.clone())
                .await
                .and_then(|t| Ok((bearer(&t)?, t)))
            {
                Ok((value, token)) => {
                    if let Ok(mut current) = renewed.write() {
                        *current = value;
                    }
                    next = renew_at(&token);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not renew the EKS token; retrying in 10 s");
                    next = SystemTime::now() + Duration::from_secs(10);
                }
            }
        }
    });
    // The renewer stops with the last client holding the token.
    Ok(FreshToken::new(header, renewer))
}

/// The CA certificates of a kubeconfig-style `certificate-authority-data` (base64 PEM).
fn certificates(data: &str) -> Result<Vec<Vec<u8>>, ConnectError> {
    use base64::Engine;
    let pem = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| ConnectError::Other(format!("the cluster's CA is not base64: {e}")))?;
    let certs: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(&pem)
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<_, _>>()
        .map_err(|e| ConnectError::Other(format!("the cluster's CA is not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(ConnectError::Other(
            "the cluster's CA holds no certificate".into(),
        ));
    }
    Ok(certs)
}

/// Connects to `cluster` at `access`, authenticating with EKS tokens from `aws`.
pub async fn open(
    aws: Arc<Aws>,
    cluster: &str,
    access: &ClusterAccess,
) -> Result<Connection, ConnectError> {
    let ca = certificates(&access.certificate_authority)?;
    let token = token_header(aws, cluster).await?;
    connection::with_token(access.endpoint.clone(), ca, token).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_renewed_a_minute_before_the_console_stops_using_it() {
        let signed = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let token = EksToken {
            token: "k8s-aws-v1.a".into(),
            signed_at: signed,
            expires_at: signed + super::super::token::TOKEN_LIFETIME,
        };
        // Signed again 13 minutes in: 2 minutes before the authenticator would refuse it.
        assert_eq!(renew_at(&token), signed + Duration::from_secs(13 * 60));
    }

    #[test]
    fn the_cluster_ca_is_base64_pem() {
        assert!(
            certificates("not base64!")
                .unwrap_err()
                .to_string()
                .contains("not base64")
        );
        use base64::Engine;
        let empty = base64::engine::general_purpose::STANDARD.encode("no certificate here");
        assert!(
            certificates(&empty)
                .unwrap_err()
                .to_string()
                .contains("no certificate")
        );
    }
}
