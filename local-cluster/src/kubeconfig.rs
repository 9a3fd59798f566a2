//! The kubeconfig that points kubectl, kube-rs and the Python client at the local cluster.

use std::path::Path;

use serde_json::json;

/// The context (and cluster) name written to the kubeconfig.
pub const CONTEXT: &str = "local-hybrid";

/// A kubeconfig with one cluster, one user (bearer token) and one context, `local-hybrid`.
pub fn render(server: &str, ca_data: &str, token: &str) -> String {
    render_for(server, ca_data, token, &format!("{CONTEXT}-admin"))
}

/// The same for the user `user` with its own token.
pub fn render_for(server: &str, ca_data: &str, token: &str, user: &str) -> String {
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": CONTEXT, "cluster": {"server": server, "certificate-authority-data": ca_data}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": user, "namespace": "default"}}],
        "current-context": CONTEXT,
    });
    serde_yaml::to_string(&config).unwrap_or_default()
}

/// Writes `contents` to `path`, readable by the owner only (it holds a credential).
pub fn write(path: &Path, contents: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let temporary = path.with_extension("tmp");
    // Created owner-only, not narrowed afterwards: no moment where others may read the token.
    let _ = std::fs::remove_file(&temporary);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary)?;
    std::io::Write::write_all(&mut file, contents.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_kubeconfig_is_readable_by_its_owner_only_and_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("kubeconfig");
        super::write(&path, "first").unwrap();
        super::write(&path, "second").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!path.with_extension("tmp").exists());
    }
}
