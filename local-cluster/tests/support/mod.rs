//! Runs the real `local-cluster` binary and drives it with the real kubectl.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// A running `local-cluster up`, stopped (SIGTERM) when dropped.
pub struct Cluster {
    child: Child,
    /// `https://127.0.0.1:PORT`
    pub url: String,
    /// The kubeconfig it wrote.
    pub kubeconfig: PathBuf,
    dir: tempfile::TempDir,
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

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("kubectl");
        command
            .env("KUBECONFIG", &self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.dir.path().join("kube-cache"))
            .args(args);
        command
    }

    /// Runs kubectl and returns its output, whatever the exit status.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run kubectl")
    }

    /// Starts kubectl without waiting for it, its output piped.
    pub fn spawn_kubectl(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kubectl")
    }

    /// Runs kubectl with `input` on stdin.
    pub fn kubectl_stdin(&self, args: &[&str], input: &str) -> Output {
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

    /// Runs kubectl, asserts success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.kubectl(args);
        assert!(
            output.status.success(),
            "kubectl {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs kubectl with stdin, asserts success, returns stdout.
    pub fn ok_stdin(&self, args: &[&str], input: &str) -> String {
        let output = self.kubectl_stdin(args, input);
        assert!(
            output.status.success(),
            "kubectl {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs kubectl, asserts failure, returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let output = self.kubectl(args);
        assert!(
            !output.status.success(),
            "kubectl {args:?} should have failed"
        );
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    /// Runs kubectl with stdin, asserts failure, returns stderr.
    pub fn fails_stdin(&self, args: &[&str], input: &str) -> String {
        let output = self.kubectl_stdin(args, input);
        assert!(
            !output.status.success(),
            "kubectl {args:?} should have failed"
        );
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    /// `kubectl ... -o json` parsed.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&all)).expect("kubectl printed JSON")
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
        let deadline = std::time::Instant::now() + Duration::from_secs(seconds);
        loop {
            if let Some(value) = check(self) {
                return value;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out after {seconds} s waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
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
