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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use syn::visit::Visit;

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
fn members(manifest: &str) -> Vec<String> {
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

/// One module: where it is, what it defines, and what it names.
#[derive(Debug, Default)]
struct Module {
    file: PathBuf,
    parent: Option<usize>,
    children: BTreeMap<String, usize>,
    /// Names the module defines itself.
    items: BTreeSet<String>,
    /// `use` bindings: the name in scope and the path it stands for, as written.
    uses: BTreeMap<String, Vec<String>>,
    /// `use path::*`: the paths, as written.
    globs: Vec<Vec<String>>,
    /// Paths of two segments or more named in code, and every `use` leaf, as written.
    named: Vec<Vec<String>>,
}

/// Where a path leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// A module itself (`use super::eks;`).
    Module(usize),
    /// Something defined in a module.
    Item(usize),
}

/// A crate's modules, from its root file.
#[derive(Debug)]
struct Tree {
    modules: Vec<Module>,
}

/// Files in a loop, and the arrows between them.
struct FileLoop {
    files: Vec<PathBuf>,
    arrows: Vec<(PathBuf, PathBuf, BTreeSet<String>)>,
}

impl Tree {
    fn load(root: &Path) -> Result<Tree> {
        let mut tree = Tree {
            modules: Vec::new(),
        };
        let dir = root
            .parent()
            .map(Path::to_path_buf)
            .context("a crate root has a folder")?;
        tree.load_file(root, None, &dir)?;
        Ok(tree)
    }

    fn files(&self) -> BTreeSet<PathBuf> {
        self.modules.iter().map(|m| m.file.clone()).collect()
    }

    /// Reads `file` as a new module under `parent`; `dir` is where its `mod x;` files are.
    fn load_file(&mut self, file: &Path, parent: Option<usize>, dir: &Path) -> Result<usize> {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let parsed =
            syn::parse_file(&text).with_context(|| format!("parsing {}", file.display()))?;
        self.load_items(&parsed.items, file, parent, dir)
    }

    fn load_items(
        &mut self,
        items: &[syn::Item],
        file: &Path,
        parent: Option<usize>,
        dir: &Path,
    ) -> Result<usize> {
        let index = self.modules.len();
        self.modules.push(Module {
            file: file.to_path_buf(),
            parent,
            ..Module::default()
        });
        for item in items {
            if is_test(item_attrs(item)) {
                continue;
            }
            match item {
                syn::Item::Mod(m) => {
                    let name = m.ident.to_string();
                    let child = match &m.content {
                        Some((_, inner)) => {
                            self.load_items(inner, file, Some(index), &dir.join(&name))?
                        }
                        None => {
                            let path = module_file(dir, &name, &m.attrs)?;
                            let child_dir = if path.file_name().is_some_and(|f| f == "mod.rs") {
                                path.parent().map(Path::to_path_buf).unwrap_or_default()
                            } else {
                                path.with_extension("")
                            };
                            self.load_file(&path, Some(index), &child_dir)?
                        }
                    };
                    self.modules[index].children.insert(name, child);
                }
                syn::Item::Use(u) => {
                    let mut leaves = Vec::new();
                    flatten(&u.tree, &mut Vec::new(), &mut leaves);
                    let module = &mut self.modules[index];
                    for leaf in leaves {
                        match leaf {
                            UseLeaf::Binding(name, path) => {
                                module.named.push(path.clone());
                                module.uses.insert(name, path);
                            }
                            UseLeaf::Glob(path) => module.globs.push(path),
                        }
                    }
                }
                other => {
                    if let Some(name) = item_name(other) {
                        self.modules[index].items.insert(name);
                    }
                    let mut paths = Paths::default();
                    paths.visit_item(other);
                    self.modules[index].named.extend(paths.found);
                }
            }
        }
        Ok(index)
    }

    /// Where `path`, named in module `from`, leads; `None` outside the crate.
    fn resolve(&self, from: usize, path: &[String], depth: usize) -> Option<Target> {
        if depth > 32 {
            return None;
        }
        let mut at = from;
        let mut first = true;
        for (i, segment) in path.iter().enumerate() {
            let rest = &path[i + 1..];
            let module = &self.modules[at];
            match segment.as_str() {
                "crate" if first => at = 0,
                "super" => at = module.parent?,
                "self" => {}
                "Self" => return None,
                name => {
                    if let Some(&child) = module.children.get(name) {
                        at = child;
                    } else if module.items.contains(name) {
                        return Some(Target::Item(at));
                    } else if let Some(bound) = module.uses.get(name) {
                        let whole: Vec<String> = bound.iter().chain(rest).cloned().collect();
                        return self.resolve(at, &whole, depth + 1);
                    } else if let Some(found) = self.through_globs(at, &path[i..], depth) {
                        return Some(found);
                    } else if first {
                        // Another crate, the prelude, or a generic parameter.
                        return None;
                    } else {
                        // Made by a macro, or a variant: it is this module's.
                        return Some(Target::Item(at));
                    }
                }
            }
            first = false;
        }
        Some(Target::Module(at))
    }

    /// `path` looked up in the modules that `at` glob-imports.
    fn through_globs(&self, at: usize, path: &[String], depth: usize) -> Option<Target> {
        let name = path.first()?;
        for glob in &self.modules[at].globs {
            let Some(Target::Module(source)) = self.resolve(at, glob, depth + 1) else {
                continue;
            };
            let m = &self.modules[source];
            if m.children.contains_key(name) || m.items.contains(name) || m.uses.contains_key(name)
            {
                return self.resolve(source, path, depth + 1);
            }
        }
        None
    }

    /// Arrows between files, with the names that make them.
    fn arrows(&self) -> BTreeMap<(PathBuf, PathBuf), BTreeSet<String>> {
        let mut arrows: BTreeMap<(PathBuf, PathBuf), BTreeSet<String>> = BTreeMap::new();
        for (index, module) in self.modules.iter().enumerate() {
            let mut add = |target: usize, name: &str| {
                let to = &self.modules[target].file;
                if *to != module.file {
                    arrows
                        .entry((module.file.clone(), to.clone()))
                        .or_default()
                        .insert(name.to_owned());
                }
            };
            for path in &module.named {
                if let Some(Target::Item(target)) = self.resolve(index, path, 0) {
                    add(target, &shown(path));
                }
            }
            for glob in &module.globs {
                if let Some(Target::Module(target)) = self.resolve(index, glob, 0) {
                    add(target, "*");
                }
            }
        }
        arrows
    }

    /// Every loop of arrows (Tarjan's strongly connected components of more than one file).
    fn loops(&self) -> Vec<FileLoop> {
        let arrows = self.arrows();
        let files: Vec<PathBuf> = self.files().into_iter().collect();
        let index_of: BTreeMap<&PathBuf, usize> =
            files.iter().enumerate().map(|(i, f)| (f, i)).collect();
        let mut next: Vec<Vec<usize>> = vec![Vec::new(); files.len()];
        for (from, to) in arrows.keys() {
            if let (Some(&a), Some(&b)) = (index_of.get(from), index_of.get(to)) {
                next[a].push(b);
            }
        }
        strongly_connected(&next)
            .into_iter()
            .filter(|component| component.len() > 1)
            .map(|component| {
                let inside: BTreeSet<&PathBuf> = component.iter().map(|&i| &files[i]).collect();
                FileLoop {
                    files: inside.iter().map(|f| (*f).clone()).collect(),
                    arrows: arrows
                        .iter()
                        .filter(|((a, b), _)| inside.contains(a) && inside.contains(b))
                        .map(|((a, b), names)| (a.clone(), b.clone(), names.clone()))
                        .collect(),
                }
            })
            .collect()
    }
}

/// A path as a reader would name the thing: without `crate`, `super` and `self`.
fn shown(path: &[String]) -> String {
    let named: Vec<&str> = path
        .iter()
        .map(String::as_str)
        .skip_while(|s| matches!(*s, "crate" | "super" | "self"))
        .collect();
    named.join("::")
}

/// Tarjan's algorithm, iterative (a deep module tree must not overflow the stack).
fn strongly_connected(next: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = next.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut counter = 0;
    let mut components = Vec::new();
    for start in 0..n {
        if index[start] != usize::MAX {
            continue;
        }
        // (node, position in its successor list)
        let mut work = vec![(start, 0usize)];
        while let Some(&mut (v, ref mut pos)) = work.last_mut() {
            if *pos == 0 && index[v] == usize::MAX {
                index[v] = counter;
                low[v] = counter;
                counter += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(&w) = next[v].get(*pos) {
                *pos += 1;
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                components.push(component);
            }
        }
    }
    components
}

/// The file of `mod name;` declared with `dir` as its folder.
fn module_file(dir: &Path, name: &str, attrs: &[syn::Attribute]) -> Result<PathBuf> {
    for attr in attrs {
        if attr.path().is_ident("path")
            && let syn::Meta::NameValue(nv) = &attr.meta
            && let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) = &nv.value
        {
            return Ok(dir.join(s.value()));
        }
    }
    let flat = dir.join(format!("{name}.rs"));
    if flat.exists() {
        return Ok(flat);
    }
    let nested = dir.join(name).join("mod.rs");
    if nested.exists() {
        return Ok(nested);
    }
    bail!("module {name} of {} has no file", dir.display())
}

enum UseLeaf {
    Binding(String, Vec<String>),
    Glob(Vec<String>),
}

fn flatten(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<UseLeaf>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            flatten(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let name = n.ident.to_string();
            if name == "self" {
                if let Some(last) = prefix.last() {
                    out.push(UseLeaf::Binding(last.clone(), prefix.clone()));
                }
            } else {
                let mut path = prefix.clone();
                path.push(name.clone());
                out.push(UseLeaf::Binding(name, path));
            }
        }
        syn::UseTree::Rename(r) => {
            let mut path = prefix.clone();
            if r.ident != "self" {
                path.push(r.ident.to_string());
            }
            let binding = r.rename.to_string();
            if binding != "_" {
                out.push(UseLeaf::Binding(binding, path));
            } else {
                out.push(UseLeaf::Binding(String::new(), path));
            }
        }
        syn::UseTree::Glob(_) => out.push(UseLeaf::Glob(prefix.clone())),
        syn::UseTree::Group(g) => {
            for tree in &g.items {
                flatten(tree, prefix, out);
            }
        }
    }
}

/// Collects paths of two segments or more (and `use` leaves inside bodies), skipping tests.
#[derive(Default)]
struct Paths {
    found: Vec<Vec<String>>,
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {}

    fn visit_item(&mut self, item: &'ast syn::Item) {
        if !is_test(item_attrs(item)) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        if !is_test(&f.attrs) {
            syn::visit::visit_impl_item_fn(self, f);
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let mut leaves = Vec::new();
        flatten(&u.tree, &mut Vec::new(), &mut leaves);
        for leaf in leaves {
            match leaf {
                UseLeaf::Binding(_, path) | UseLeaf::Glob(path) => self.found.push(path),
            }
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.segments.len() >= 2 && path.leading_colon.is_none() {
            self.found
                .push(path.segments.iter().map(|s| s.ident.to_string()).collect());
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        // Macro bodies are tokens; the common ones hold expressions (`format!`, `matches!`,
        // `tokio::select!` arms are not parsed and are left out).
        if let Ok(args) = mac.parse_body_with(
            syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated,
        ) {
            for expr in &args {
                self.visit_expr(expr);
            }
        }
        self.visit_path(&mac.path);
    }
}

fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
    })
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    match item {
        syn::Item::Const(i) => &i.attrs,
        syn::Item::Enum(i) => &i.attrs,
        syn::Item::Fn(i) => &i.attrs,
        syn::Item::Impl(i) => &i.attrs,
        syn::Item::Macro(i) => &i.attrs,
        syn::Item::Mod(i) => &i.attrs,
        syn::Item::Static(i) => &i.attrs,
        syn::Item::Struct(i) => &i.attrs,
        syn::Item::Trait(i) => &i.attrs,
        syn::Item::Type(i) => &i.attrs,
        syn::Item::Union(i) => &i.attrs,
        syn::Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

fn item_name(item: &syn::Item) -> Option<String> {
    let ident = match item {
        syn::Item::Const(i) => &i.ident,
        syn::Item::Enum(i) => &i.ident,
        syn::Item::Fn(i) => &i.sig.ident,
        syn::Item::Macro(i) => i.ident.as_ref()?,
        syn::Item::Static(i) => &i.ident,
        syn::Item::Struct(i) => &i.ident,
        syn::Item::Trait(i) => &i.ident,
        syn::Item::TraitAlias(i) => &i.ident,
        syn::Item::Type(i) => &i.ident,
        syn::Item::Union(i) => &i.ident,
        _ => return None,
    };
    Some(ident.to_string())
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
