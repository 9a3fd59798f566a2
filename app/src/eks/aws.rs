//! The AWS side of EKS: the configuration (the SDK's standard credential chain; nothing stored),
//! the region's clusters and their node groups, and a signed bearer token. Errors are said in
//! words an operator can act on, with the command that fixes them.

use std::time::SystemTime;

use aws_config::BehaviorVersion;
use aws_config::SdkConfig;
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_eks::Client;
use aws_smithy_http_client::tls;

use super::token::{self, EksToken};
use crate::model::eks::{AwsEmulator, AwsTarget};
use crate::model::eks::{EksCluster, EksNodeGroup, os_of_ami_type};
use crate::protocol::ActionError;

/// Why AWS could not be used, and what to do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    /// No region anywhere.
    #[error(
        "No AWS region is set: give one (--region us-west-2 on the command line, the Region field in the window) or set AWS_REGION."
    )]
    NoRegion,
    /// A region that cannot be one.
    #[error("{0:?} is not an AWS region name (they look like us-west-2 or eu-central-1).")]
    BadRegion(String),
    /// No credentials anywhere in the chain.
    #[error("No AWS credentials were found{}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, run `aws configure`, or `aws sso login{}`. ({detail})", profile_words(.profile), profile_flag(.profile))]
    NoCredentials {
        /// The profile asked for.
        profile: Option<String>,
        /// What the chain said.
        detail: String,
    },
    /// The credentials (or the SSO session behind them) have expired.
    #[error("The AWS credentials{} have expired: run `aws sso login{}` (SSO) or refresh them, then try again.", profile_words(.profile), profile_flag(.profile))]
    Expired {
        /// The profile asked for.
        profile: Option<String>,
    },
    /// AWS does not know these credentials.
    #[error("AWS refused the credentials{} ({detail}): check the access key, or that the profile is the right one.", profile_words(.profile))]
    Refused {
        /// The profile asked for.
        profile: Option<String>,
        /// The service's words.
        detail: String,
    },
    /// The identity may not do this.
    #[error(
        "Not allowed by IAM: {0}. Ask for the permission (see manifests/eks-console-policy.json)."
    )]
    AccessDenied(String),
    /// No such cluster in the region.
    #[error("There is no EKS cluster {cluster:?} in {region}. Clusters there: {available}.")]
    UnknownCluster {
        /// The name asked for.
        cluster: String,
        /// The region.
        region: String,
        /// What there is.
        available: String,
    },
    /// The EKS API (or the endpoint given for it) does not answer.
    #[error(
        "Cannot reach the EKS API in {region}: {detail}. Check the network, or AWS_ENDPOINT_URL if you set it."
    )]
    Unreachable {
        /// The region.
        region: String,
        /// The transport's words.
        detail: String,
    },
    /// A request that cannot be made as given (what is missing, and how to give it).
    #[error("{0}")]
    Invalid(String),
    /// Anything else EKS said.
    #[error("EKS: {0}")]
    Service(String),
    /// What another AWS API (EC2, ECR, Cost Explorer) said, or why it could not be reached.
    #[error("{service}: {words}")]
    Api {
        /// `EC2`, `ECR`, `Cost Explorer`.
        service: &'static str,
        /// Its words.
        words: String,
    },
}

impl From<AwsError> for ActionError {
    fn from(error: AwsError) -> ActionError {
        let message = error.to_string();
        match error {
            AwsError::NoRegion | AwsError::BadRegion(_) | AwsError::Invalid(_) => {
                ActionError::Invalid { message }
            }
            AwsError::NoCredentials { .. }
            | AwsError::Expired { .. }
            | AwsError::Refused { .. } => ActionError::Credentials { message },
            AwsError::AccessDenied(_) => ActionError::Forbidden {
                message,
                ask_for: Some("the IAM permissions in manifests/eks-console-policy.json".into()),
            },
            AwsError::UnknownCluster { .. } => ActionError::NotFound { message },
            AwsError::Unreachable { .. } => ActionError::ServerAway { message },
            AwsError::Service(_) | AwsError::Api { .. } => ActionError::Failed { message },
        }
    }
}

fn profile_words(profile: &Option<String>) -> String {
    profile
        .as_deref()
        .map(|p| format!(" of profile {p:?}"))
        .unwrap_or_default()
}

fn profile_flag(profile: &Option<String>) -> String {
    profile
        .as_deref()
        .map(|p| format!(" --profile {p}"))
        .unwrap_or_default()
}

/// The AWS configuration and clients for one region and profile.
#[derive(Clone, Debug)]
pub struct Aws {
    config: SdkConfig,
    /// The region in use.
    pub region: String,
    /// The profile asked for, if any.
    pub profile: Option<String>,
    eks: Client,
}

impl Aws {
    /// Loads the SDK's configuration for `target` (environment, profiles, SSO, web identity,
    /// instance roles; `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_EKS` honoured), or the
    /// emulator's endpoint, region and keys.
    pub async fn load(target: &AwsTarget) -> Result<Aws, AwsError> {
        // The SDK's HTTPS client on rustls with ring, like every other client of the console.
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
        if let Some(emulator) = &target.emulator {
            loader = loader
                .region(aws_config::Region::new(emulator.region.clone()))
                .endpoint_url(&emulator.endpoint)
                .credentials_provider(aws_credential_types::Credentials::new(
                    AwsEmulator::ACCESS_KEY_ID,
                    AwsEmulator::SECRET_ACCESS_KEY,
                    None,
                    None,
                    "emulator",
                ));
        } else {
            if let Some(region) = &target.region {
                loader = loader.region(aws_config::Region::new(region.clone()));
            }
            if let Some(profile) = &target.profile {
                loader = loader.profile_name(profile);
            }
        }
        let config = loader.load().await;
        let region = config
            .region()
            .map(|r| r.to_string())
            .ok_or(AwsError::NoRegion)?;
        if !crate::model::eks::is_region_name(&region) {
            return Err(AwsError::BadRegion(region));
        }
        let eks = Client::new(&config);
        let aws = Aws {
            config,
            region,
            profile: target.profile.clone(),
            eks,
        };
        // Credentials are checked up front: missing or expired ones are said plainly before any
        // call fails with them.
        aws.credentials().await?;
        Ok(aws)
    }

    /// The endpoint configured for every service (`AWS_ENDPOINT_URL`, a profile's
    /// `endpoint_url`), if any.
    pub fn endpoint_url(&self) -> Option<&str> {
        self.config.endpoint_url()
    }

    /// The EKS client.
    pub fn eks(&self) -> &Client {
        &self.eks
    }

    /// The current credentials, from the chain.
    pub async fn credentials(&self) -> Result<aws_credential_types::Credentials, AwsError> {
        let provider =
            self.config
                .credentials_provider()
                .ok_or_else(|| AwsError::NoCredentials {
                    profile: self.profile.clone(),
                    detail: "no credential provider is configured".into(),
                })?;
        let credentials = provider.provide_credentials().await.map_err(|e| {
            self.classify(&aws_smithy_types::error::display::DisplayErrorContext(e).to_string())
        })?;
        if credentials
            .expiry()
            .is_some_and(|expiry| expiry <= SystemTime::now())
        {
            return Err(AwsError::Expired {
                profile: self.profile.clone(),
            });
        }
        Ok(credentials)
    }

    /// A bearer token for `cluster`, signed now.
    pub async fn token(&self, cluster: &str) -> Result<EksToken, AwsError> {
        let credentials = self.credentials().await?;
        token::token(&credentials, &self.region, cluster, SystemTime::now())
            .map_err(|e| AwsError::Service(e.to_string()))
    }

    /// Turns an SDK error's text into what an operator can act on.
    pub fn classify(&self, text: &str) -> AwsError {
        let lower = text.to_lowercase();
        let profile = self.profile.clone();
        if lower.contains("expiredtoken")
            || lower.contains("token has expired")
            || lower.contains("token is expired")
            || lower.contains("session has expired")
            || lower.contains("sso session")
        {
            AwsError::Expired { profile }
        } else if lower.contains("no credentials")
            || lower.contains("credentialsnotloaded")
            || lower.contains("loading credentials")
            || lower.contains("load credentials")
            || lower.contains("could not find credentials")
        {
            AwsError::NoCredentials {
                profile,
                detail: "no source in the chain had any: environment, profile, SSO, web identity, container or instance metadata".into(),
            }
        } else if lower.contains("unrecognizedclient")
            || lower.contains("invalidclienttokenid")
            || lower.contains("signaturedoesnotmatch")
            || lower.contains("security token included in the request is invalid")
        {
            AwsError::Refused {
                profile,
                detail: first_line(text),
            }
        } else if lower.contains("accessdenied") || lower.contains("not authorized") {
            AwsError::AccessDenied(first_line(text))
        } else if lower.contains("dispatch failure")
            || lower.contains("connection refused")
            || lower.contains("dns error")
            || lower.contains("timeout")
            || lower.contains("timed out")
            || lower.contains("io error")
        {
            AwsError::Unreachable {
                region: self.region.clone(),
                detail: first_line(text),
            }
        } else {
            AwsError::Service(first_line(text))
        }
    }

    /// The names of the region's clusters.
    pub async fn cluster_names(&self) -> Result<Vec<String>, AwsError> {
        let mut names = Vec::new();
        let mut pages = self.eks.list_clusters().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.sdk_error(e))?;
            names.extend(page.clusters().iter().cloned());
        }
        names.sort();
        Ok(names)
    }

    pub(super) fn sdk_error<E>(&self, error: aws_sdk_eks::error::SdkError<E>) -> AwsError
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        self.classify(&aws_smithy_types::error::display::DisplayErrorContext(error).to_string())
    }

    /// One cluster with its node groups; an unknown name is told with the ones there are.
    pub async fn cluster(&self, name: &str) -> Result<(EksCluster, ClusterAccess), AwsError> {
        let described = match self.eks.describe_cluster().name(name).send().await {
            Ok(d) => d,
            Err(e) => {
                let text = aws_smithy_types::error::display::DisplayErrorContext(&e).to_string();
                if text.contains("ResourceNotFoundException") {
                    let available = self.cluster_names().await.unwrap_or_default();
                    return Err(AwsError::UnknownCluster {
                        cluster: name.to_owned(),
                        region: self.region.clone(),
                        available: if available.is_empty() {
                            "none".into()
                        } else {
                            available.join(", ")
                        },
                    });
                }
                return Err(self.classify(&text));
            }
        };
        let cluster = described.cluster().ok_or_else(|| {
            AwsError::Service(format!("DescribeCluster {name} returned no cluster"))
        })?;
        let mut groups = Vec::new();
        let mut pages = self
            .eks
            .list_nodegroups()
            .cluster_name(name)
            .into_paginator()
            .send();
        let mut group_names = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.sdk_error(e))?;
            group_names.extend(page.nodegroups().iter().cloned());
        }
        group_names.sort();
        for group in group_names {
            let described = self
                .eks
                .describe_nodegroup()
                .cluster_name(name)
                .nodegroup_name(&group)
                .send()
                .await
                .map_err(|e| self.sdk_error(e))?;
            if let Some(g) = described.nodegroup() {
                groups.push(node_group(g));
            }
        }
        let access = ClusterAccess {
            arn: cluster.arn().unwrap_or(name).to_owned(),
            endpoint: cluster.endpoint().unwrap_or_default().to_owned(),
            certificate_authority: cluster
                .certificate_authority()
                .and_then(|c| c.data())
                .unwrap_or_default()
                .to_owned(),
        };
        // EC2's facts of the groups' instance types: what their Windows nodes hold, their
        // generation. Not having them is said where they are used, never fatal.
        let mut types: Vec<String> = groups
            .iter()
            .flat_map(|g: &EksNodeGroup| g.instance_types.iter().cloned())
            .collect();
        types.sort();
        types.dedup();
        let instance_types = self.instance_types(&types).await;
        Ok((
            EksCluster {
                name: name.to_owned(),
                region: self.region.clone(),
                version: cluster.version().unwrap_or_default().to_owned(),
                platform_version: cluster.platform_version().unwrap_or_default().to_owned(),
                status: cluster
                    .status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                endpoint: access.endpoint.clone(),
                node_groups: groups,
                subnets: cluster
                    .resources_vpc_config()
                    .map(|v| v.subnet_ids().to_vec())
                    .unwrap_or_default(),
                instance_types,
            },
            access,
        ))
    }

    /// Every cluster of the region, with its node groups.
    pub async fn clusters(&self) -> Result<Vec<EksCluster>, AwsError> {
        let mut clusters = Vec::new();
        for name in self.cluster_names().await? {
            clusters.push(self.cluster(&name).await?.0);
        }
        Ok(clusters)
    }
}

/// How to reach a cluster's API server: its URL and the CA that signed its certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterAccess {
    /// The cluster's ARN (kubeconfig entries are named by it, as `aws eks update-kubeconfig` does).
    pub arn: String,
    /// `https://….eks.amazonaws.com`.
    pub endpoint: String,
    /// Base64 PEM, as a kubeconfig's `certificate-authority-data`.
    pub certificate_authority: String,
}

/// The words of an SDK error without the debug dump the SDK appends to them.
fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    let words = line.split(" (").next().unwrap_or(line).trim();
    words.chars().take(300).collect()
}

fn node_group(g: &aws_sdk_eks::types::Nodegroup) -> EksNodeGroup {
    let ami_type = g
        .ami_type()
        .map(|a| a.as_str().to_owned())
        .unwrap_or_default();
    let scaling = g.scaling_config();
    EksNodeGroup {
        name: g.nodegroup_name().unwrap_or_default().to_owned(),
        os: os_of_ami_type(&ami_type),
        ami_type,
        instance_types: g.instance_types().to_vec(),
        min: scaling.and_then(|s| s.min_size()).unwrap_or(0),
        desired: scaling.and_then(|s| s.desired_size()).unwrap_or(0),
        max: scaling.and_then(|s| s.max_size()).unwrap_or(0),
        status: g
            .status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        health_issues: g
            .health()
            .map(|h| {
                h.issues()
                    .iter()
                    .map(|i| {
                        format!(
                            "{}: {}",
                            i.code().map(|c| c.as_str()).unwrap_or_default(),
                            i.message().unwrap_or_default()
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}
