//! The portability check: the console is an egui app, and egui and every one of its
//! dependencies build for macOS and Windows too, so the workspace's code must not reach for
//! Unix-only or Linux-only APIs (`std::os::unix`, `std::os::linux`, `nix`, `libc`,
//! `tokio::signal::unix`) except under a `#[cfg(unix)]`-style attribute, or in the rooms allowed
//! to be Unix-only: the local cluster's process runtime (`local-cluster/src/kubelet`). This
//! machine has no other Rust target installed, so the check reads the sources (with `syn`)
//! instead of compiling for another target.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use quote::ToTokens;
use syn::visit::Visit;

/// Paths that exist only on Unix (or only on Linux).
const UNIX_ONLY: &[&str] = &[
    "std::os::unix",
    "std::os::linux",
    "nix",
    "libc",
    "tokio::signal::unix",
];

/// Rooms whose code may be Unix-only throughout.
const UNIX_ROOMS: &[&str] = &["local-cluster/src/kubelet"];

/// What the check found.
#[derive(Default)]
pub struct Report {
    /// Files read.
    pub files: usize,
    /// `file: path` of each unguarded use.
    pub unguarded: Vec<String>,
}

impl Report {
    /// Whether nothing was found.
    pub fn is_clean(&self) -> bool {
        self.unguarded.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for use_ in &self.unguarded {
            writeln!(
                f,
                "not portable: {use_} (put it under #[cfg(unix)] with a fallback, or in a Unix-only room)"
            )?;
        }
        writeln!(
            f,
            "portable: {} files, {} Unix-only use(s) outside #[cfg(unix)]",
            self.files,
            self.unguarded.len()
        )
    }
}

/// Checks the `src/` of every member named in the workspace's manifest.
pub fn check_workspace(root: &Path, members: &[String]) -> Result<Report> {
    let mut report = Report::default();
    for member in members {
        let mut files = Vec::new();
        rust_files(&root.join(member).join("src"), &mut files)?;
        for file in files {
            let relative = file.strip_prefix(root).unwrap_or(&file).to_path_buf();
            let shown = relative.to_string_lossy().into_owned();
            report.files += 1;
            if UNIX_ROOMS.iter().any(|room| shown.starts_with(room)) {
                continue;
            }
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let syntax =
                syn::parse_file(&text).with_context(|| format!("parsing {}", file.display()))?;
            let mut finder = Finder::default();
            finder.visit_file(&syntax);
            report
                .unguarded
                .extend(finder.found.into_iter().map(|p| format!("{shown}: {p}")));
        }
    }
    Ok(report)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// Whether `attrs` hold a `cfg` that keeps the item to Unix (`unix`, `target_os = "linux"`,
/// `target_family = "unix"`, `not(windows)`).
fn unix_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg") && {
            let words = a.meta.to_token_stream().to_string();
            words.contains("unix") || words.contains("linux") || words.contains("not (windows)")
        }
    })
}

fn path_text(path: &syn::Path) -> String {
    path.segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

fn is_unix_only(path: &str) -> bool {
    UNIX_ONLY
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}::")))
}

/// Every `use` and path of a Unix-only API not under a Unix `cfg`.
#[derive(Default)]
struct Finder {
    guarded: usize,
    found: Vec<String>,
}

impl Finder {
    fn guarded<F: FnOnce(&mut Self)>(&mut self, attrs: &[syn::Attribute], inner: F) {
        let unix = unix_only(attrs);
        self.guarded += usize::from(unix);
        inner(self);
        self.guarded -= usize::from(unix);
    }

    fn note(&mut self, path: String) {
        if self.guarded == 0 && is_unix_only(&path) && !self.found.contains(&path) {
            self.found.push(path);
        }
    }
}

/// The full paths a `use` tree names (`a::{b, c::d}` → `a::b`, `a::c::d`).
fn use_paths(prefix: &str, tree: &syn::UseTree, out: &mut Vec<String>) {
    let join = |name: &str| {
        if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}::{name}")
        }
    };
    match tree {
        syn::UseTree::Path(p) => use_paths(&join(&p.ident.to_string()), &p.tree, out),
        syn::UseTree::Name(n) => out.push(join(&n.ident.to_string())),
        syn::UseTree::Rename(r) => out.push(join(&r.ident.to_string())),
        syn::UseTree::Glob(_) => out.push(prefix.to_owned()),
        syn::UseTree::Group(g) => g.items.iter().for_each(|t| use_paths(prefix, t, out)),
    }
}

impl<'ast> Visit<'ast> for Finder {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs: &[syn::Attribute] = match item {
            syn::Item::Const(i) => &i.attrs,
            syn::Item::Enum(i) => &i.attrs,
            syn::Item::Fn(i) => &i.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Mod(i) => &i.attrs,
            syn::Item::Static(i) => &i.attrs,
            syn::Item::Struct(i) => &i.attrs,
            syn::Item::Trait(i) => &i.attrs,
            syn::Item::Type(i) => &i.attrs,
            syn::Item::Use(i) => &i.attrs,
            _ => &[],
        };
        self.guarded(attrs, |me| syn::visit::visit_item(me, item));
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let mut paths = Vec::new();
        use_paths("", &item.tree, &mut paths);
        for path in paths {
            self.note(path);
        }
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        self.guarded(&item.attrs, |me| syn::visit::visit_impl_item_fn(me, item));
    }

    fn visit_stmt(&mut self, stmt: &'ast syn::Stmt) {
        let attrs: &[syn::Attribute] = match stmt {
            syn::Stmt::Local(l) => &l.attrs,
            syn::Stmt::Macro(m) => &m.attrs,
            syn::Stmt::Expr(e, _) => expr_attrs(e),
            syn::Stmt::Item(_) => &[],
        };
        self.guarded(attrs, |me| syn::visit::visit_stmt(me, stmt));
    }

    fn visit_expr(&mut self, expr: &'ast syn::Expr) {
        self.guarded(expr_attrs(expr), |me| syn::visit::visit_expr(me, expr));
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        self.note(path_text(path));
        syn::visit::visit_path(self, path);
    }
}

fn expr_attrs(expr: &syn::Expr) -> &[syn::Attribute] {
    match expr {
        syn::Expr::Block(b) => &b.attrs,
        syn::Expr::Call(c) => &c.attrs,
        syn::Expr::MethodCall(m) => &m.attrs,
        syn::Expr::Path(p) => &p.attrs,
        syn::Expr::Macro(m) => &m.attrs,
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(source: &str) -> Vec<String> {
        let mut finder = Finder::default();
        finder.visit_file(&syn::parse_file(source).expect("parses"));
        finder.found
    }

    #[test]
    fn unix_only_paths_need_a_unix_cfg() {
        assert_eq!(
            found("use std::os::unix::fs::PermissionsExt; fn f() {}"),
            ["std::os::unix::fs::PermissionsExt"]
        );
        assert_eq!(
            found("fn f() { nix::unistd::getpid(); }"),
            ["nix::unistd::getpid"]
        );
        assert!(found("#[cfg(unix)] use std::os::unix::fs::PermissionsExt;").is_empty());
        assert!(
            found("fn f() { #[cfg(unix)] { use std::os::unix::fs::OpenOptionsExt; } }").is_empty()
        );
        assert!(
            found("fn f(o: &mut O) { #[cfg(unix)] std::os::unix::fs::OpenOptionsExt::mode(o, 0o600); }")
                .is_empty()
        );
        assert!(found("#[cfg(target_os = \"linux\")] mod l { use libc::c_int; }").is_empty());
        assert!(found("use std::fs::File; fn f() { tokio::signal::ctrl_c(); }").is_empty());
    }
}
