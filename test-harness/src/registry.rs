//! A real container registry for the image tests: Debian's `docker-registry` (the reference
//! registry server, distribution), on a port of its own with its storage in a temporary
//! directory, filled by a Python script that speaks the registry's HTTP API (independent of the
//! code under test). Images are manifests and configs only: no layer needs to be real to say
//! which platforms an image has.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running registry.
pub struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`, as image references name it.
    pub host: String,
    /// `user:password` when it asks for one (htpasswd, basic authentication).
    login: Option<String>,
    _dir: tempfile::TempDir,
}

/// Pushes one image (`image`: a manifest and its config) or an image index (`index`: one
/// manifest per platform), each platform `{"os": …, "version": …}`.
const PUSH: &str = r#"import hashlib, json, sys, urllib.request
import base64, os
base, name, tag, kind = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
platforms = json.loads(sys.argv[5])
AUTH = {'Authorization': 'Basic ' + base64.b64encode(os.environ['REGISTRY_LOGIN'].encode()).decode()} if os.environ.get('REGISTRY_LOGIN') else {}
def put(url, data, media):
    urllib.request.urlopen(urllib.request.Request(url, data=data, method='PUT', headers=dict(AUTH, **{'Content-Type': media})))
def blob(data):
    digest = 'sha256:' + hashlib.sha256(data).hexdigest()
    location = urllib.request.urlopen(urllib.request.Request(f'{base}/v2/{name}/blobs/uploads/', method='POST', headers=AUTH)).headers['Location']
    if location.startswith('/'):
        location = base + location
    put(location + ('&' if '?' in location else '?') + 'digest=' + digest, data, 'application/octet-stream')
    return digest, len(data)
def manifest(reference, body, media):
    put(f'{base}/v2/{name}/manifests/{reference}', body, media)
    return 'sha256:' + hashlib.sha256(body).hexdigest(), len(body)
IMAGE = 'application/vnd.oci.image.manifest.v1+json'
def platform(p):
    out = {'architecture': 'amd64', 'os': p['os']}
    if p.get('version'):
        out['os.version'] = p['version']
    return out
def image(p):
    config = dict(platform(p), rootfs={'type': 'layers', 'diff_ids': []})
    digest, size = blob(json.dumps(config).encode())
    return json.dumps({'schemaVersion': 2, 'mediaType': IMAGE, 'config': {'mediaType': 'application/vnd.oci.image.config.v1+json', 'digest': digest, 'size': size}, 'layers': []}).encode()
if kind == 'index':
    entries = []
    for p in platforms:
        body = image(p)
        digest, size = manifest('sha256:' + hashlib.sha256(body).hexdigest(), body, IMAGE)
        entries.append({'mediaType': IMAGE, 'digest': digest, 'size': size, 'platform': platform(p)})
    manifest(tag, json.dumps({'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.index.v1+json', 'manifests': entries}).encode(), 'application/vnd.oci.image.index.v1+json')
else:
    manifest(tag, image(platforms[0]), IMAGE)
"#;

impl Registry {
    /// Starts the registry on a free port and waits until it answers.
    pub fn start() -> Registry {
        Registry::start_with(None)
    }

    /// A registry that answers only `user` with `password` (htpasswd, as a private registry).
    pub fn start_private(user: &str, password: &str) -> Registry {
        Registry::start_with(Some((user, password)))
    }

    fn start_with(login: Option<(&str, &str)>) -> Registry {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = crate::free_port();
        let host = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        let mut yaml = format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {host}\nlog:\n  level: error\n",
            dir.path().join("data").display()
        );
        if let Some((user, password)) = login {
            let htpasswd = dir.path().join("htpasswd");
            let line = Command::new("htpasswd")
                .args(["-Bbn", user, password])
                .output()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot run htpasswd (scripts/install-deps.sh installs apache2-utils): {e}"
                    )
                });
            assert!(line.status.success(), "htpasswd failed");
            std::fs::write(&htpasswd, &line.stdout).expect("write htpasswd");
            yaml.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        std::fs::write(&config, yaml).expect("write the registry's config");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start docker-registry (scripts/install-deps.sh installs it): {e}")
            });
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the registry did not start on {host}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Registry {
            child,
            host,
            login: login.map(|(user, password)| format!("{user}:{password}")),
            _dir: dir,
        }
    }

    /// Pushes `name:tag` as one manifest of `platform` (`("windows", Some("10.0.17763.1"))`).
    pub fn push_image(&self, name: &str, tag: &str, platform: (&str, Option<&str>)) {
        self.push(name, tag, "image", &[platform]);
    }

    /// Pushes `name:tag` as an image index with one manifest per platform.
    pub fn push_index(&self, name: &str, tag: &str, platforms: &[(&str, Option<&str>)]) {
        self.push(name, tag, "index", platforms);
    }

    fn push(&self, name: &str, tag: &str, kind: &str, platforms: &[(&str, Option<&str>)]) {
        let platforms: Vec<serde_json::Value> = platforms
            .iter()
            .map(|(os, version)| serde_json::json!({"os": os, "version": version}))
            .collect();
        let mut push = Command::new("python3");
        if let Some(login) = &self.login {
            push.env("REGISTRY_LOGIN", login);
        }
        let output = push
            .arg("-c")
            .arg(PUSH)
            .arg(format!("http://{}", self.host))
            .args([name, tag, kind])
            .arg(serde_json::Value::from(platforms).to_string())
            .output()
            .expect("run python3");
        assert!(
            output.status.success(),
            "pushing {name}:{tag} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
