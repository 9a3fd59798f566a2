//! `hybrid-console eks …` against moto server (an AWS API emulator) reached through
//! `AWS_ENDPOINT_URL`, and the bearer token judged by the EKS authenticator's rules and by
//! botocore's own signer.

#![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

mod support;

use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use base64::Engine;
use hybrid_console::eks::token;
use serde_json::Value;
use support::moto::Moto;

const REGION: &str = "us-west-2";

fn console(moto: &Moto, home: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hybrid-console"))
        .args(args)
        .env("HOME", home)
        .env_remove("KUBECONFIG")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run hybrid-console")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn clusters_are_listed_with_each_node_groups_os_and_scaling() {
    let moto = Moto::start();
    moto.hybrid_cluster(REGION, "hybrid");
    moto.python(
        REGION,
        "eks.create_cluster(name='legacy', version='1.32', roleArn='arn:aws:iam::123456789012:role/eks', resourcesVpcConfig={'subnetIds': ['subnet-1']})",
    );
    let home = tempfile::tempdir().unwrap();
    let out = console(&moto, home.path(), &["eks", "clusters", "--region", REGION]);
    assert!(out.status.success(), "{}", text(&out));
    let table = text(&out);
    assert!(table.contains("hybrid  ACTIVE  Kubernetes 1.33"), "{table}");
    assert!(
        table.contains("node group windows  Windows  WINDOWS_CORE_2022_x86_64  t3.large  min 0 / desired 2 / max 4  ACTIVE"),
        "{table}"
    );
    assert!(
        table.contains("node group linux  Linux  AL2023_x86_64_STANDARD  t3.medium"),
        "{table}"
    );
    assert!(table.contains("legacy  ACTIVE  Kubernetes 1.32"), "{table}");
    assert!(table.contains("no managed node groups"), "{table}");

    let out = console(
        &moto,
        home.path(),
        &["eks", "clusters", "--region", REGION, "-o", "json"],
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let hybrid = json
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "hybrid")
        .unwrap();
    let oses: Vec<(&str, &str)> = hybrid["nodeGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["name"].as_str().unwrap(), g["os"].as_str().unwrap()))
        .collect();
    assert_eq!(oses, [("linux", "linux"), ("windows", "windows")]);

    // Another region has its own clusters.
    let out = console(
        &moto,
        home.path(),
        &["eks", "clusters", "--region", "eu-west-1"],
    );
    assert_eq!(text(&out).trim(), "No EKS clusters in eu-west-1.");
}

#[test]
fn bad_input_is_named_with_what_fixes_it() {
    let moto = Moto::start();
    moto.hybrid_cluster(REGION, "hybrid");
    let home = tempfile::tempdir().unwrap();
    let fails = |args: &[&str], env: &[(&str, Option<&str>)], says: &str| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hybrid-console"));
        command
            .args(args)
            .env("HOME", home.path())
            .env_remove("KUBECONFIG")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION")
            .env("AWS_ENDPOINT_URL", &moto.url)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true");
        for (k, v) in env {
            match v {
                Some(v) => command.env(k, v),
                None => command.env_remove(k),
            };
        }
        let out = command.output().unwrap();
        let said = text(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {said}");
        assert!(said.contains(says), "{args:?}: {said}");
        assert!(
            !said.contains("DispatchFailure"),
            "a raw SDK error chain: {said}"
        );
    };
    fails(
        &["eks", "kubeconfig", "--cluster", "nope", "--region", REGION],
        &[],
        "There is no EKS cluster \"nope\" in us-west-2. Clusters there: hybrid.",
    );
    fails(
        &[
            "eks",
            "kubeconfig",
            "--cluster",
            "hybrid",
            "--region",
            "eu-west-1",
        ],
        &[],
        "There is no EKS cluster \"hybrid\" in eu-west-1. Clusters there: none.",
    );
    fails(
        &["eks", "clusters", "--region", "mars"],
        &[],
        "\"mars\" is not an AWS region name",
    );
    fails(
        &["eks", "clusters"],
        &[],
        "No AWS region is set: give one (--region us-west-2",
    );
    fails(
        &["eks", "clusters", "--region", REGION],
        &[("AWS_ACCESS_KEY_ID", None), ("AWS_SECRET_ACCESS_KEY", None)],
        "No AWS credentials were found",
    );
    fails(
        &["eks", "clusters", "--region", REGION, "--profile", "work"],
        &[("AWS_ACCESS_KEY_ID", None), ("AWS_SECRET_ACCESS_KEY", None)],
        "`aws sso login --profile work`",
    );
    fails(
        &["eks", "clusters", "--region", REGION],
        &[("AWS_ENDPOINT_URL", Some("http://127.0.0.1:9"))],
        "Cannot reach the EKS API in us-west-2",
    );
    // Credentials that have run out (a credential process says when), as an expired SSO
    // session or role session would.
    let process = home.path().join("expired-credentials");
    std::fs::write(
        &process,
        "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"ASIAEXPIRED\", \"SecretAccessKey\": \"s\", \"SessionToken\": \"t\", \"Expiration\": \"2020-01-01T00:00:00Z\"}'\n",
    )
    .unwrap();
    std::process::Command::new("chmod")
        .args(["+x", &process.to_string_lossy()])
        .status()
        .unwrap();
    let aws_config = home.path().join("aws-config");
    std::fs::write(
        &aws_config,
        format!(
            "[profile old]\nregion = {REGION}\ncredential_process = {}\n",
            process.display()
        ),
    )
    .unwrap();
    fails(
        &["eks", "clusters", "--profile", "old"],
        &[
            ("AWS_ACCESS_KEY_ID", None),
            ("AWS_SECRET_ACCESS_KEY", None),
            ("AWS_CONFIG_FILE", Some(&aws_config.to_string_lossy())),
        ],
        "have expired: run `aws sso login --profile old`",
    );
}

/// The rules the EKS authenticator applies, as local-cluster implements them from its
/// documentation (not from this client's code).
#[test]
fn the_token_passes_the_authenticators_rules_and_matches_botocores_signature() {
    let credentials = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
    let signed = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000); // 2023-11-14T22:13:20Z
    let t = token::token(&credentials, REGION, "hybrid", signed).unwrap();
    let verified = local_cluster::eks_auth::verify(&t.token, 1_700_000_000 + 30).unwrap();
    assert_eq!(verified.host, "sts.us-west-2.amazonaws.com");
    assert_eq!(verified.parameters["x-amz-expires"], "60");
    assert!(local_cluster::eks_auth::verify(&t.token, 1_700_000_000 + 16 * 60).is_err());
    assert!(t.token.len() <= local_cluster::eks_auth::MAX_TOKEN_BYTES);

    // A session token is carried and signed too.
    let session = Credentials::new(
        "ASIAEXAMPLE",
        "secret",
        Some("session/token+x=".into()),
        None,
        "test",
    );
    let with_session = token::token(&session, REGION, "hybrid", signed).unwrap();
    let verified = local_cluster::eks_auth::verify(&with_session.token, 1_700_000_000).unwrap();
    assert_eq!(
        verified.parameters["x-amz-security-token"],
        "session/token+x="
    );

    // botocore, the AWS CLI's signer, with the same credentials, time, region and header.
    let script = r#"
import datetime, botocore.session
from unittest import mock
import botocore.auth as auth
sts = botocore.session.get_session().create_client('sts', region_name='us-west-2', aws_access_key_id='AKIDEXAMPLE', aws_secret_access_key='secret', endpoint_url='https://sts.us-west-2.amazonaws.com')
sts.meta.events.register('before-sign.sts.GetCallerIdentity', lambda request, **kw: request.headers.__setitem__('x-k8s-aws-id', 'hybrid'))
fixed = datetime.datetime(2023, 11, 14, 22, 13, 20)
with mock.patch.object(auth, 'get_current_datetime', return_value=fixed, create=True), mock.patch('botocore.auth.datetime') as dt:
    dt.datetime.utcnow.return_value = fixed
    dt.datetime.now.return_value = fixed
    dt.datetime.strptime = datetime.datetime.strptime
    print(sts.generate_presigned_url('get_caller_identity', Params={}, ExpiresIn=60, HttpMethod='GET'))
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let botocore_url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let ours = String::from_utf8(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(t.token.strip_prefix(token::TOKEN_PREFIX).unwrap())
            .unwrap(),
    )
    .unwrap();
    let query = |url: &str| -> std::collections::BTreeMap<String, String> {
        serde_urlencoded::from_str(url.split_once('?').unwrap().1).unwrap()
    };
    assert_eq!(
        query(&ours),
        query(&botocore_url),
        "ours {ours}\nbotocore {botocore_url}"
    );
}

#[test]
fn token_prints_an_exec_credential_and_kubeconfig_writes_a_context_that_uses_it() {
    let moto = Moto::start();
    moto.hybrid_cluster(REGION, "hybrid");
    let home = tempfile::tempdir().unwrap();
    let out = console(
        &moto,
        home.path(),
        &["eks", "token", "--cluster", "hybrid", "--region", REGION],
    );
    assert!(out.status.success(), "{}", text(&out));
    let exec: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(exec["kind"], "ExecCredential");
    assert_eq!(exec["apiVersion"], "client.authentication.k8s.io/v1beta1");
    let token = exec["status"]["token"].as_str().unwrap();
    let now = jiff::Timestamp::now().as_second();
    local_cluster::eks_auth::verify(token, now).unwrap();
    let expires: jiff::Timestamp = exec["status"]["expirationTimestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let lifetime = expires.as_second() - now;
    assert!((13 * 60..=14 * 60).contains(&lifetime), "{lifetime}");

    // A kubeconfig that already has another context keeps it.
    let kubeconfig = home.path().join("config");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster: {server: 'https://other:443'}\ncontexts:\n- name: other\n  context: {cluster: other, user: other}\nusers:\n- name: other\n  user: {token: x}\ncurrent-context: other\n",
    )
    .unwrap();
    let path = kubeconfig.to_string_lossy().into_owned();
    let out = console(
        &moto,
        home.path(),
        &[
            "eks",
            "kubeconfig",
            "--cluster",
            "hybrid",
            "--region",
            REGION,
            "--kubeconfig",
            &path,
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let kubectl = test_harness::Kubectl::new(&kubeconfig, home.path().join("kube-cache"));
    let view = |args: &[&str]| kubectl.ok(args);
    let current = view(&["config", "current-context"]);
    assert_eq!(
        current.trim(),
        "arn:aws:eks:us-west-2:123456789012:cluster/hybrid"
    );
    let contexts = view(&["config", "get-contexts", "-o", "name"]);
    assert!(contexts.contains("other"), "{contexts}");
    let user: Value = serde_json::from_str(&view(&[
        "config",
        "view",
        "--raw",
        "-o",
        "jsonpath={.users[?(@.name==\"arn:aws:eks:us-west-2:123456789012:cluster/hybrid\")].user.exec}",
    ]))
    .unwrap();
    assert_eq!(
        user["args"],
        serde_json::json!([
            "eks",
            "token",
            "--cluster",
            "hybrid",
            "--region",
            "us-west-2"
        ])
    );
    // The command kubectl will run prints a token the authenticator accepts.
    let out = Command::new(user["command"].as_str().unwrap())
        .args(
            user["args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap()),
        )
        .env("HOME", home.path())
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .unwrap();
    let exec: Value = serde_json::from_slice(&out.stdout).unwrap();
    local_cluster::eks_auth::verify(exec["status"]["token"].as_str().unwrap(), now).unwrap();
    let mode = std::fs::metadata(&kubeconfig).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );
}

/// The console connects to a cluster with the tokens it signs: the local cluster stands in for
/// EKS cluster `hybrid`, checking each token by the authenticator's rules and asking STS (moto)
/// whose it is. The AWS SDK reads its endpoint and credentials from the environment, so the
/// test runs again in a child process with that environment.
#[test]
fn the_console_and_kubectl_reach_a_cluster_with_the_consoles_own_eks_tokens() {
    const NAME: &str = "the_console_and_kubectl_reach_a_cluster_with_the_consoles_own_eks_tokens";
    let Some(moto_url) = support::moto::in_aws_env(NAME, REGION, |moto| {
        moto.hybrid_cluster(REGION, "hybrid");
    }) else {
        return;
    };
    // moto's STS says the caller is this user; the cluster makes it an admin, as EKS's access
    // entry for the cluster creator does.
    let caller = "arn:aws:sts::123456789012:user/moto";
    let cluster = support::TestCluster::start_eks(local_cluster::eks_auth::EksIdentity {
        cluster: "hybrid".into(),
        sts_endpoint: Some(moto_url.clone()),
        admins: vec![caller.into()],
    });
    let (endpoint, ca) = cluster.endpoint_and_ca();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let aws = hybrid_console::eks::Aws::load(&hybrid_console::model::eks::AwsTarget::default())
            .await
            .unwrap();
        let access = hybrid_console::eks::ClusterAccess {
            arn: "arn:aws:eks:us-west-2:123456789012:cluster/hybrid".into(),
            endpoint: endpoint.clone(),
            certificate_authority: ca.clone(),
        };
        let connection =
            hybrid_console::eks::connect::open(std::sync::Arc::new(aws), "hybrid", &access)
                .await
                .unwrap();
        let nodes = kube::Api::<k8s_openapi::api::core::v1::Node>::all(connection.api.clone())
            .list(&Default::default())
            .await
            .unwrap();
        assert_eq!(nodes.items.len(), 4);
    });
    // kubectl, through a context `eks kubeconfig` wrote, with the endpoint pointed at the
    // stand-in: the exec plugin is this console.
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = home.path().join("config");
    let path = kubeconfig.to_string_lossy().into_owned();
    let out = Command::new(env!("CARGO_BIN_EXE_hybrid-console"))
        .args([
            "eks",
            "kubeconfig",
            "--cluster",
            "hybrid",
            "--kubeconfig",
            &path,
        ])
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let mut config: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&kubeconfig).unwrap()).unwrap();
    config["clusters"][0]["cluster"]["server"] = endpoint.into();
    config["clusters"][0]["cluster"]["certificate-authority-data"] = ca.into();
    std::fs::write(&kubeconfig, serde_yaml::to_string(&config).unwrap()).unwrap();
    // The exec plugin (this console) finds its AWS settings under HOME.
    let runner = test_harness::Kubectl::new(&kubeconfig, home.path().join("kube-cache"));
    let kubectl = |args: &[&str]| {
        let out = runner
            .command(args)
            .env("HOME", home.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "kubectl {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(kubectl(&["get", "nodes", "-o", "name"]).lines().count(), 4);
    let whoami = kubectl(&[
        "auth",
        "whoami",
        "-o",
        "jsonpath={.status.userInfo.username}",
    ]);
    assert_eq!(whoami, caller);
}
