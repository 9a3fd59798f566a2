//! Runs the real `local-cluster` binary and drives it with the real kubectl (the workspace's
//! shared [`test_harness::Kubectl`]: a `Cluster` derefs to it, so `cluster.ok(..)`,
//! `cluster.fails(..)`, `cluster.json(..)` and `cluster.spawn(..)` run kubectl against it).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::ops::Deref;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use test_harness::Kubectl;

/// A running `local-cluster up`, stopped (SIGTERM) when dropped.
pub struct Cluster {
    child: Child,
    /// `https://127.0.0.1:PORT`
    pub url: String,
    /// The kubeconfig it wrote.
    pub kubeconfig: PathBuf,
    kubectl: Kubectl,
    dir: tempfile::TempDir,
}

impl Deref for Cluster {
    type Target = Kubectl;

    fn deref(&self) -> &Kubectl {
        &self.kubectl
    }
}

impl Cluster {
    /// Starts a cluster with 2 Windows and 2 Linux nodes.
    pub fn start() -> Cluster {
        Cluster::start_with(&[])
    }

    /// Starts a cluster with extra `up` arguments.
    pub fn start_with(args: &[&str]) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig = dir.path().join("kubeconfig");
        let mut child = Command::new(env!("CARGO_BIN_EXE_local-cluster"))
            .arg("up")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn local-cluster");
        let stdout = child.stdout.take().expect("stdout");
        let mut cluster = Cluster {
            child,
            url: String::new(),
            kubectl: Kubectl::new(&kubeconfig, dir.path().join("kube-cache")),
            kubeconfig,
            dir,
        };
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let line = line.expect("read stdout");
            if let Some(url) = line.strip_prefix("local cluster up at ") {
                cluster.url = url.trim().to_owned();
                break;
            }
        }
        assert!(
            !cluster.url.is_empty(),
            "local-cluster did not report its URL"
        );
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        cluster
    }

    /// A path inside the test's temporary directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A kube-rs client from the kubeconfig.
    pub async fn client(&self) -> kube::Client {
        let kubeconfig =
            kube::config::Kubeconfig::read_from(&self.kubeconfig).expect("read kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .expect("kube config");
        kube::Client::try_from(config).expect("kube client")
    }

    /// A kube-rs client that shows every answer as it comes (no retries of its own).
    pub async fn raw_client(&self) -> kube::Client {
        let kubeconfig =
            kube::config::Kubeconfig::read_from(&self.kubeconfig).expect("read kubeconfig");
        let mut config = kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .expect("kube config");
        config.default_retry = false;
        kube::Client::try_from(config).expect("kube client")
    }

    /// Sends SIGTERM and waits for the process to exit; returns whether it exited cleanly.
    pub fn stop(&mut self) -> bool {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..200 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Polls `check` (with kubectl available through `self`) until it returns `Some`, or panics
    /// after `seconds` with `what`.
    pub fn wait_for<T>(
        &self,
        seconds: u64,
        what: &str,
        mut check: impl FnMut(&Cluster) -> Option<T>,
    ) -> T {
        test_harness::wait_for(seconds, what, || check(self))
    }

    /// PIDs of the processes this cluster started (its children).
    pub fn children(&self) -> Vec<u32> {
        let output = Command::new("pgrep")
            .arg("-P")
            .arg(self.child.id().to_string())
            .output()
            .expect("run pgrep");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Sends a signal by name with the system's `kill`.
    pub fn signal(&self, name: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status();
    }

    /// Waits for the process to exit; returns whether it exited successfully.
    pub fn wait_exit(&mut self, seconds: u64) -> Option<bool> {
        for _ in 0..seconds * 20 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.success());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            self.stop();
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
