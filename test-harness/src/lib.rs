//! What the workspace's integration tests share: the real `kubectl` run against a kubeconfig
//! (with its own discovery cache, so tests do not share one), and polling until something
//! holds or a deadline passes. The local cluster's tests and the console's tests both drive
//! clusters through these, instead of each keeping a copy.
//!
//! Every helper panics with what kubectl printed when the outcome is not the expected one: in
//! a test, that panic is the failure report.

#![allow(clippy::unwrap_used)] // A test helper's panic is the failure report.

pub mod registry;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The real kubectl, pointed at one kubeconfig.
#[derive(Clone, Debug)]
pub struct Kubectl {
    kubeconfig: PathBuf,
    cache_dir: PathBuf,
}

impl Kubectl {
    /// kubectl for `kubeconfig`, caching discovery in `cache_dir`.
    pub fn new(kubeconfig: impl Into<PathBuf>, cache_dir: impl Into<PathBuf>) -> Kubectl {
        Kubectl {
            kubeconfig: kubeconfig.into(),
            cache_dir: cache_dir.into(),
        }
    }

    /// The same cluster as another user: their kubeconfig, the same cache.
    pub fn as_user(&self, kubeconfig: impl Into<PathBuf>) -> Kubectl {
        Kubectl {
            kubeconfig: kubeconfig.into(),
            cache_dir: self.cache_dir.clone(),
        }
    }

    /// The kubeconfig it uses.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// A kubectl command with `args`, not yet run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("kubectl");
        command
            .env("KUBECONFIG", &self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache_dir)
            .args(args);
        command
    }

    /// Runs kubectl and returns its output, whatever the exit status.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run kubectl")
    }

    /// Runs kubectl with `input` on stdin.
    pub fn run_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kubectl");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("kubectl output")
    }

    /// Starts kubectl without waiting for it, stdout and stderr piped.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kubectl")
    }

    /// Runs kubectl, asserts success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        succeeded(args, self.run(args))
    }

    /// Runs kubectl with stdin, asserts success, returns stdout.
    pub fn ok_stdin(&self, args: &[&str], input: &str) -> String {
        succeeded(args, self.run_stdin(args, input))
    }

    /// Runs kubectl, asserts failure, returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        failed(args, self.run(args))
    }

    /// Runs kubectl with stdin, asserts failure, returns stderr.
    pub fn fails_stdin(&self, args: &[&str], input: &str) -> String {
        failed(args, self.run_stdin(args, input))
    }

    /// `kubectl ARGS -o json`, parsed.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&all)).expect("kubectl printed JSON")
    }
}

fn succeeded(args: &[&str], output: Output) -> String {
    assert!(
        output.status.success(),
        "kubectl {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn failed(args: &[&str], output: Output) -> String {
    assert!(
        !output.status.success(),
        "kubectl {args:?} should have failed:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A client for the tests' plain-HTTP calls. The workspace's reqwest carries rustls with no
/// crypto provider of its own (the registry reader brings rustls in; ring is the project's
/// provider everywhere), and a client cannot be built before a provider is installed.
pub fn http_client() -> reqwest::Client {
    http_client_builder().build().expect("an HTTP client")
}

/// As [`http_client`], for a client with settings of its own.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

/// Polls `check` every 200 ms until it returns `Some`, and returns that; panics naming `what`
/// after `seconds`.
pub fn wait_for<T>(seconds: u64, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {seconds} s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A port on 127.0.0.1 that nothing listens on (free when asked).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kubectl_that_cannot_reach_its_cluster_fails_and_says_why() {
        let dir = std::env::temp_dir().join(format!("harness-{}", free_port()));
        std::fs::create_dir_all(&dir).unwrap();
        let kubeconfig = dir.join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{}'}}}}]\ncontexts: [{{name: c, context: {{cluster: c, user: u}}}}]\ncurrent-context: c\nusers: [{{name: u, user: {{}}}}]\n",
                free_port()
            ),
        )
        .unwrap();
        let kubectl = Kubectl::new(&kubeconfig, dir.join("cache"));
        let error = kubectl.fails(&["get", "pods", "--request-timeout=5s"]);
        assert!(error.contains("127.0.0.1"), "{error}");
        assert_eq!(wait_for(1, "a number", || Some(3)), 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
