//! Rooms: every source file of a crate is a room, and an import is an arrow from the file that
//! names something to the file that defines it. The check fails on a loop of arrows (files that
//! import each other, directly or round a circle) and on a long file with no reason given.
//!
//! Modules are found the way rustc finds them, from `src/lib.rs` and `src/main.rs` through
//! `mod` declarations (`#[cfg(test)]` modules left out: tests may look at what they test). A
//! name is followed through `use` bindings and re-exports to the module that defines it, so a
//! `mod.rs` that only hands its children's names on is not a room in a loop with them; a module
//! named without a name inside it (`use super::eks;`) draws no arrow of its own, the paths that
//! go through it do.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

mod tree;

use tree::Tree;

/// Files longer than this (before their tests) need a reason at their top.
pub const LONG_FILE: usize = 600;

/// What the check found in the whole workspace.
#[derive(Debug, Default)]
pub struct Report {
    /// Each loop: the crate, and the arrows between its files.
    pub loops: Vec<Loop>,
    /// Files over [`LONG_FILE`] lines without a `//! Long:` line, with their length.
    pub long_files: Vec<(PathBuf, usize)>,
    /// How many files were read.
    pub files: usize,
}

/// Files that import each other in a loop, with the arrows that close it.
#[derive(Debug)]
pub struct Loop {
    /// The files in the loop.
    pub files: Vec<PathBuf>,
    /// `from -> to: names` for every arrow inside the loop.
    pub arrows: Vec<(PathBuf, PathBuf, BTreeSet<String>)>,
}

impl Report {
    /// No loop and no unexplained long file.
    pub fn is_clean(&self) -> bool {
        self.loops.is_empty() && self.long_files.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for found in &self.loops {
            writeln!(f, "import loop between {} files:", found.files.len())?;
            for (from, to, names) in &found.arrows {
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                writeln!(
                    f,
                    "  {} -> {}: {}",
                    from.display(),
                    to.display(),
                    names.join(", ")
                )?;
            }
        }
        for (file, lines) in &self.long_files {
            writeln!(
                f,
                "{}: {lines} lines before its tests (more than {LONG_FILE}) and no `//! Long:` line saying why it is one room",
                file.display()
            )?;
        }
        if self.is_clean() {
            writeln!(
                f,
                "rooms: {} files, no import loop, no unexplained long file",
                self.files
            )?;
        }
        Ok(())
    }
}

/// Checks every crate listed in the workspace's `members`.
pub fn check_workspace(root: &Path) -> Result<Report> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))
        .with_context(|| format!("reading {}", root.join("Cargo.toml").display()))?;
    let mut report = Report::default();
    for member in members(&manifest) {
        check_crate(root, Path::new(&member), &mut report)?;
    }
    Ok(report)
}

/// The workspace's members, from `members = ["a", "b"]`.
pub fn members(manifest: &str) -> Vec<String> {
    let Some(start) = manifest.find("members") else {
        return Vec::new();
    };
    let rest = &manifest[start..];
    let (Some(open), Some(close)) = (rest.find('['), rest.find(']')) else {
        return Vec::new();
    };
    rest[open + 1..close]
        .split(',')
        .map(|m| m.trim().trim_matches('"').to_owned())
        .filter(|m| !m.is_empty())
        .collect()
}

/// Checks one crate (`dir` relative to `root`): its library and its binary are separate trees.
pub fn check_crate(root: &Path, dir: &Path, report: &mut Report) -> Result<()> {
    for entry in ["src/lib.rs", "src/main.rs"] {
        let file = root.join(dir).join(entry);
        if !file.exists() {
            continue;
        }
        let tree = Tree::load(&file)?;
        report.files += tree.files().len();
        let relative = |p: &Path| p.strip_prefix(root).unwrap_or(p).to_path_buf();
        for found in tree.loops() {
            report.loops.push(Loop {
                files: found.files.iter().map(|f| relative(f)).collect(),
                arrows: found
                    .arrows
                    .into_iter()
                    .map(|(a, b, n)| (relative(&a), relative(&b), n))
                    .collect(),
            });
        }
        for file in tree.files() {
            let text = std::fs::read_to_string(&file)?;
            let lines = lines_before_tests(&text);
            if lines > LONG_FILE && !text.lines().any(|l| l.starts_with("//! Long:")) {
                report.long_files.push((relative(&file), lines));
            }
        }
    }
    Ok(())
}

/// Lines before the first `#[cfg(test)]`, as a reader meets the file's own code.
fn lines_before_tests(text: &str) -> usize {
    text.lines()
        .take_while(|l| !l.trim_start().starts_with("#[cfg(test)]"))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `files` (path, text) under a fresh folder and checks it as one crate.
    fn check(files: &[(&str, &str)]) -> Report {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("rooms-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (path, text) in files {
            let path = dir.join("demo").join(path);
            std::fs::create_dir_all(path.parent().expect("a folder")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        let mut report = Report::default();
        check_crate(&dir, Path::new("demo"), &mut report).expect("checked");
        let _ = std::fs::remove_dir_all(&dir);
        report
    }

    #[test]
    fn two_files_naming_each_other_are_a_loop_named_with_the_names() {
        let report = check(&[
            ("src/lib.rs", "mod a;\nmod b;\n"),
            ("src/a.rs", "use crate::b::Bee;\npub struct Ay;\n"),
            (
                "src/b.rs",
                "pub struct Bee;\nfn f() -> crate::a::Ay { crate::a::Ay }\n",
            ),
        ]);
        assert_eq!(report.loops.len(), 1, "{report}");
        let text = report.to_string();
        assert!(text.contains("src/a.rs -> demo/src/b.rs: b::Bee"), "{text}");
        assert!(text.contains("src/b.rs -> demo/src/a.rs: a::Ay"), "{text}");
    }

    #[test]
    fn a_name_handed_on_by_a_parent_leads_to_the_file_that_defines_it() {
        // mod.rs re-exports a child's name; a sibling takes it from the parent: the arrow goes
        // to the child, and the parent (which only hands names on) is in no loop.
        let report = check(&[
            ("src/lib.rs", "mod feature;\n"),
            (
                "src/feature/mod.rs",
                "mod desk;\nmod steps;\npub use steps::Step;\npub fn run() { desk::go() }\n",
            ),
            (
                "src/feature/desk.rs",
                "use super::Step;\npub fn go() { let _ = Step; }\n",
            ),
            ("src/feature/steps.rs", "pub struct Step;\n"),
        ]);
        assert!(report.is_clean(), "{report}");
    }

    #[test]
    fn a_child_using_what_its_parent_defines_while_the_parent_calls_it_is_a_loop() {
        let report = check(&[
            ("src/lib.rs", "mod backend;\n"),
            (
                "src/backend/mod.rs",
                "mod session;\npub struct Event;\npub fn start() { session::run() }\n",
            ),
            (
                "src/backend/session.rs",
                "pub fn run() { let _ = super::Event; }\n",
            ),
        ]);
        assert_eq!(report.loops.len(), 1, "{report}");
    }

    #[test]
    fn test_modules_and_paths_inside_macros_are_read_as_the_compiler_would() {
        // A test module may look back at what it tests; `format!`'s arguments are code.
        let report = check(&[
            ("src/lib.rs", "mod a;\nmod b;\n#[cfg(test)]\nmod tests;\n"),
            (
                "src/a.rs",
                "pub fn a() -> String { format!(\"{}\", crate::b::B) }\n",
            ),
            (
                "src/b.rs",
                "pub const B: u8 = 1;\n#[cfg(test)]\nmod t { use crate::a::a; }\n",
            ),
            ("src/tests.rs", "use crate::a::a;\n"),
        ]);
        assert!(report.is_clean(), "{report}");
        let report = check(&[
            ("src/lib.rs", "mod a;\nmod b;\n"),
            (
                "src/a.rs",
                "pub fn a() -> String { format!(\"{}\", crate::b::B) }\n",
            ),
            (
                "src/b.rs",
                "pub const B: u8 = 1;\nfn f() { crate::a::a(); }\n",
            ),
        ]);
        assert_eq!(report.loops.len(), 1, "{report}");
    }

    #[test]
    fn a_long_file_needs_a_reason_at_its_top() {
        let body = "fn f() {}\n".repeat(LONG_FILE + 1);
        let report = check(&[("src/lib.rs", &body)]);
        assert_eq!(report.long_files.len(), 1, "{report}");
        let explained = format!("//! Long: one table, read top to bottom.\n{body}");
        assert!(check(&[("src/lib.rs", &explained)]).is_clean());
        let tests_after = format!("fn f() {{}}\n#[cfg(test)]\nmod tests {{\n{body}}}\n");
        assert!(check(&[("src/lib.rs", &tests_after)]).is_clean());
    }
}
