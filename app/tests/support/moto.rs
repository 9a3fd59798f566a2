//! An AWS API emulator for the EKS tests: moto server (from PyPI), on a port of its own, with
//! fixtures made through boto3 (independent of the code under test).

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A running moto server.
pub struct Moto {
    child: Child,
    /// Its URL (`AWS_ENDPOINT_URL`).
    pub url: String,
}

impl Moto {
    /// Starts moto server on a free port and waits until it answers.
    pub fn start() -> Moto {
        Moto::start_with(&[])
    }

    /// Starts moto server enforcing IAM policies after its first `free_actions` requests (its
    /// `INITIAL_NO_AUTH_ACTION_COUNT`): those make the users and policies a test needs.
    #[allow(dead_code)] // Not every test binary uses it.
    pub fn start_enforcing_iam(free_actions: u32) -> Moto {
        Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", &free_actions.to_string())])
    }

    fn start_with(env: &[(&str, &str)]) -> Moto {
        let port = super::free_port();
        let child = Command::new("python3")
            .envs(env.iter().copied())
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start moto server (scripts/install-deps.sh installs it): {e}")
            });
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto server did not start on {url}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto { child, url }
    }

    /// Runs a Python script with boto3 clients `eks` and `sts` for `region` already made.
    pub fn python(&self, region: &str, script: &str) -> Output {
        let prelude = format!(
            "import boto3\nkw = dict(endpoint_url={url:?}, region_name={region:?}, aws_access_key_id='testing', aws_secret_access_key='testing')\neks = boto3.client('eks', **kw)\nsts = boto3.client('sts', **kw)\n",
            url = self.url
        );
        let output = Command::new("python3")
            .arg("-c")
            .arg(format!("{prelude}{script}"))
            .output()
            .expect("run python3");
        assert!(
            output.status.success(),
            "python failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// Queues what moto's Cost Explorer answers to `GetCostAndUsage`: one response per distinct
    /// request, in order (moto's `/moto-api/static/ce/cost-and-usage-results`).
    #[allow(dead_code)] // Not every test binary uses it.
    pub fn queue_cost_results(&self, responses: &serde_json::Value) {
        let body = serde_json::json!({ "results": responses }).to_string();
        self.python(
            "us-east-1",
            &format!(
                "import json, urllib.request\nrequest = urllib.request.Request({url:?} + '/moto-api/static/ce/cost-and-usage-results', data={body:?}.encode(), headers={{'Content-Type': 'application/json'}}, method='POST')\nassert urllib.request.urlopen(request).status == 201\n",
                url = self.url
            ),
        );
    }

    /// A cluster with a Windows and a Linux managed node group, as the talk starts.
    pub fn hybrid_cluster(&self, region: &str, name: &str) {
        self.python(
            region,
            &format!(
                "eks.create_cluster(name={name:?}, version='1.33', roleArn='arn:aws:iam::123456789012:role/eks', resourcesVpcConfig={{'subnetIds': ['subnet-1', 'subnet-2']}})
for group, ami, types, size in [('windows', 'WINDOWS_CORE_2022_x86_64', ['t3.large'], 2), ('linux', 'AL2023_x86_64_STANDARD', ['t3.medium'], 2)]:
    eks.create_nodegroup(clusterName={name:?}, nodegroupName=group, nodeRole='arn:aws:iam::123456789012:role/node', subnets=['subnet-1'], amiType=ami, instanceTypes=types, scalingConfig={{'minSize': 0, 'desiredSize': size, 'maxSize': 4}})
"
            ),
        );
    }
}

/// In a test re-run by [`Moto::run_test_in_aws_env`], the emulator's URL; `None` in the first run.
pub fn url_in_child() -> Option<String> {
    std::env::var("HYBRID_CONSOLE_TEST_MOTO").ok()
}

/// How an EKS test begins. In the child, the emulator's URL: go on with the test. In the first
/// run: starts the emulator, lets `prepare` create what the test needs, runs test `name` again
/// in a child whose AWS environment points at it, and answers `None`: the test is over.
pub fn in_aws_env(name: &str, region: &str, prepare: impl FnOnce(&Moto)) -> Option<String> {
    if let Some(url) = url_in_child() {
        return Some(url);
    }
    let moto = Moto::start();
    prepare(&moto);
    moto.run_test_in_aws_env(name, region);
    None
}

impl Moto {
    /// Runs test `name` again in a child process whose AWS environment points at this emulator
    /// (credentials, region, `AWS_ENDPOINT_URL`), for code that reads the environment the way the
    /// SDK does; a test cannot change its own process's environment safely.
    pub fn run_test_in_aws_env(&self, name: &str, region: &str) {
        run_again(
            name,
            &[
                ("HYBRID_CONSOLE_TEST_MOTO", self.url.as_str()),
                ("AWS_ENDPOINT_URL", self.url.as_str()),
                ("AWS_ACCESS_KEY_ID", "testing"),
                ("AWS_SECRET_ACCESS_KEY", "testing"),
                ("AWS_REGION", region),
                ("AWS_EC2_METADATA_DISABLED", "true"),
            ],
            &["AWS_PROFILE"],
        );
    }
}

/// Runs test `name` again in a child process of this test binary with `env` set and `unset`
/// removed. Fails when the child fails, and when it did not run exactly that one test: a test
/// renamed without its `NAME` would otherwise run nothing in the child and pass.
pub fn run_again(name: &str, env: &[(&str, &str)], unset: &[&str]) {
    // libtest names a test's thread after the test (unless it runs tests on the main thread).
    if let Some(thread) = std::thread::current().name().filter(|t| *t != "main") {
        assert_eq!(
            thread, name,
            "the test passes {name:?} as its own name, but it is {thread:?}: rename NAME with the test"
        );
    }
    let mut child = Command::new(std::env::current_exe().expect("the test binary"));
    child.args(["--exact", name, "--nocapture"]);
    for (key, value) in env {
        child.env(key, value);
    }
    for key in unset {
        child.env_remove(key);
    }
    let output = child.output().expect("run the test again");
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The child's words belong in this test's output.
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "the test failed in its child process"
    );
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "the child process ran no test named {name:?} (is NAME the test's name?)"
    );
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
