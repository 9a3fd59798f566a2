//! A crate's modules as rustc finds them, what each defines and names, where each name leads
//! (through `use` bindings and re-exports to the defining module), and the loops among files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use syn::visit::Visit;

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
pub(super) struct Tree {
    modules: Vec<Module>,
}

/// Files in a loop, and the arrows between them.
pub(super) struct FileLoop {
    pub(super) files: Vec<PathBuf>,
    pub(super) arrows: Vec<(PathBuf, PathBuf, BTreeSet<String>)>,
}

impl Tree {
    pub(super) fn load(root: &Path) -> Result<Tree> {
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

    pub(super) fn files(&self) -> BTreeSet<PathBuf> {
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
    pub(super) fn loops(&self) -> Vec<FileLoop> {
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
