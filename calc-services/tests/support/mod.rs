//! Starts real `calc-services` processes on ephemeral loopback ports for the integration tests.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// A running calculator process, killed when dropped.
pub struct Service {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    logs: mpsc::Receiver<String>,
}

impl Service {
    /// Starts `calc-services <role>` with `env` on a free loopback port and waits until it listens.
    pub fn start(role: &str, env: &[(&str, &str)]) -> Service {
        let mut command = Command::new(env!("CARGO_BIN_EXE_calc-services"));
        command
            .arg(role)
            .env_clear()
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("spawn calc-services");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Owned from here on, so a failed wait below still kills the process.
        let mut service = Service {
            child,
            url: String::new(),
            logs: rx,
        };
        loop {
            let line = service
                .logs
                .recv_timeout(Duration::from_secs(20))
                .expect("calc-services printed its listening line");
            if line.contains("listening") {
                let address = line
                    .split_whitespace()
                    .find_map(|field| field.strip_prefix("address="))
                    .expect("listening line names the address");
                service.url = format!("http://{address}");
                return service;
            }
        }
    }

    /// The process id, for signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`TERM`, `STOP`, `CONT`, `KILL`) with the system's `kill`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit and returns whether it exited successfully.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> Option<bool> {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.success());
            }
            thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Log lines printed so far (after the listening line).
    pub fn drain_logs(&self) -> Vec<String> {
        self.logs.try_iter().collect()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GETs `url` and returns the status and the raw body text.
pub async fn get(url: &str) -> (u16, String) {
    let response = test_harness::http_client()
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

/// GETs `url` and parses the body as JSON.
pub async fn get_json(url: &str) -> (u16, serde_json::Value) {
    let (status, body) = get(url).await;
    let json = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("{url} answered non-JSON {body:?}: {e}"));
    (status, json)
}
