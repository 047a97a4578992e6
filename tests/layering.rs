//! The house rules that a reader cannot keep by eye, checked on every file of the runtime and the
//! macros (`syn` parses them; nothing is matched as text):
//!
//! - the runtime's modules form layers, written once in `docs/ARCHITECTURE.md` (its `layers`
//!   block): a file may use its own layer and those below it, never one above;
//! - no two files depend on each other, however indirectly (no cycle between files), in the
//!   runtime or in the macros.
//!
//! A file depends on another when it names, in a `use` declaration or in any path (types,
//! expressions, patterns, macro arguments), an item that the other defines: `crate::…`,
//! `super::…`, `self::…`, or a child module declared in the file. A path that names an item
//! re-exported by `use` is followed to the item's own file, so a module that only re-exports
//! (`http/mod.rs`) is not taken for the item's home. The crate roots (`lib.rs`) declare and
//! re-export everything and are left out. `#[cfg(test)]` modules may use anything.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// One source file: its module path and what it names.
struct File {
    /// `["http", "session"]` for `http/session.rs`; `["http"]` for `http/mod.rs`.
    module: Vec<String>,
    /// Every path it names that may point into the crate, as written (`crate::x::Y`).
    paths: Vec<Vec<String>>,
    /// Its `use` aliases: the name it binds, and the path it stands for.
    aliases: HashMap<String, Vec<String>>,
    /// Its child modules declared by `mod name;`.
    children: BTreeSet<String>,
}

fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut module: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
        module.pop();
    }
    module
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
    })
}

/// The paths of a `use` tree, each ending with the name it binds (`as` renames).
fn use_paths(
    tree: &syn::UseTree,
    prefix: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, Option<String>)>,
) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            use_paths(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let name = n.ident.to_string();
            if name == "self" {
                out.push((prefix.clone(), prefix.last().cloned()));
            } else {
                let mut path = prefix.clone();
                path.push(name.clone());
                out.push((path, Some(name)));
            }
        }
        syn::UseTree::Rename(r) => {
            let mut path = prefix.clone();
            path.push(r.ident.to_string());
            out.push((path, Some(r.rename.to_string())));
        }
        syn::UseTree::Glob(_) => out.push((prefix.clone(), None)),
        syn::UseTree::Group(g) => {
            for tree in &g.items {
                use_paths(tree, prefix, out);
            }
        }
    }
}

/// Collects what a file names, outside its `#[cfg(test)]` items.
#[derive(Default)]
struct Collector {
    paths: Vec<Vec<String>>,
    aliases: HashMap<String, Vec<String>>,
    children: BTreeSet<String>,
    depth: usize,
}

impl Collector {
    fn macro_paths(&mut self, tokens: proc_macro2::TokenStream) {
        // `crate :: a :: b` and `super :: …` sequences inside macro arguments (`tracing::info!`,
        // `matches!`): paths all the same.
        let mut flat = Vec::new();
        flatten(tokens, &mut flat);
        let mut i = 0;
        while i < flat.len() {
            if matches!(flat[i].as_str(), "crate" | "super") {
                let mut path = vec![flat[i].clone()];
                let mut j = i + 1;
                while j + 1 < flat.len() && flat[j] == "::" {
                    path.push(flat[j + 1].clone());
                    j += 2;
                }
                if path.len() > 1 {
                    self.paths.push(path);
                }
                i = j;
            } else {
                i += 1;
            }
        }
    }
}

fn flatten(tokens: proc_macro2::TokenStream, out: &mut Vec<String>) {
    let mut tokens = tokens.into_iter().peekable();
    while let Some(token) = tokens.next() {
        match token {
            proc_macro2::TokenTree::Group(g) => {
                out.push("(".into());
                flatten(g.stream(), out);
                out.push(")".into());
            }
            proc_macro2::TokenTree::Ident(i) => out.push(i.to_string()),
            proc_macro2::TokenTree::Punct(p) => {
                if p.as_char() == ':'
                    && p.spacing() == proc_macro2::Spacing::Joint
                    && matches!(tokens.peek(), Some(proc_macro2::TokenTree::Punct(q)) if q.as_char() == ':')
                {
                    tokens.next();
                    out.push("::".into());
                } else {
                    out.push(p.to_string());
                }
            }
            proc_macro2::TokenTree::Literal(_) => out.push("lit".into()),
        }
    }
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if is_cfg_test(&item.attrs) {
            return;
        }
        if item.content.is_none() && self.depth == 0 {
            self.children.insert(item.ident.to_string());
        }
        self.depth += 1;
        syn::visit::visit_item_mod(self, item);
        self.depth -= 1;
    }

    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        if !is_cfg_test(&item.attrs) {
            syn::visit::visit_item_fn(self, item);
        }
    }

    fn visit_item_impl(&mut self, item: &'ast syn::ItemImpl) {
        if !is_cfg_test(&item.attrs) {
            syn::visit::visit_item_impl(self, item);
        }
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        if is_cfg_test(&item.attrs) {
            return;
        }
        let mut found = Vec::new();
        use_paths(&item.tree, &mut Vec::new(), &mut found);
        for (path, name) in found {
            if let Some(name) = name.filter(|_| self.depth == 0) {
                self.aliases.insert(name, path.clone());
            }
            self.paths.push(path);
        }
    }

    // `pub(super)` and `pub(in crate::x)` name where an item is visible, not what it uses.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    fn visit_path(&mut self, path: &'ast syn::Path) {
        self.paths
            .push(path.segments.iter().map(|s| s.ident.to_string()).collect());
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.macro_paths(mac.tokens.clone());
        syn::visit::visit_macro(self, mac);
    }
}

/// Every file of the crate at `src`, by its module path.
fn crate_files(src: &Path) -> BTreeMap<Vec<String>, File> {
    let mut paths = Vec::new();
    rust_files(src, &mut paths);
    let mut files = BTreeMap::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let syntax = syn::parse_file(&text)
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
        let mut collector = Collector::default();
        collector.visit_file(&syntax);
        let module = module_of(src, &path);
        files.insert(
            module.clone(),
            File {
                module,
                paths: collector.paths,
                aliases: collector.aliases,
                children: collector.children,
            },
        );
    }
    files
}

/// A path as written in `file`, made absolute (from the crate root); `None` when it does not
/// point into the crate (another crate's, a local name, a generic).
fn absolute(file: &File, path: &[String]) -> Option<Vec<String>> {
    let first = path.first()?;
    let (mut base, rest) = match first.as_str() {
        "crate" => (Vec::new(), &path[1..]),
        "self" => (file.module.clone(), &path[1..]),
        "super" => {
            let mut base = file.module.clone();
            let mut rest = path;
            while rest.first().is_some_and(|s| s == "super") {
                base.pop()?;
                rest = &rest[1..];
            }
            (base, rest)
        }
        child if file.children.contains(child) => (file.module.clone(), path),
        _ => return None,
    };
    base.extend(rest.iter().cloned());
    Some(base)
}

/// The file that defines what `path` (absolute) names, following `use` re-exports.
fn home(files: &BTreeMap<Vec<String>, File>, path: &[String], hops: usize) -> Option<Vec<String>> {
    // The longest prefix that is a module file.
    let k = (0..=path.len())
        .rev()
        .find(|&k| files.contains_key(&path[..k]))?;
    let file = &files[&path[..k]];
    if hops < 8
        && let Some(name) = path.get(k)
        && let Some(alias) = file.aliases.get(name)
        && let Some(mut target) = absolute(file, alias)
    {
        target.extend(path[k + 1..].iter().cloned());
        if target != path {
            return home(files, &target, hops + 1).or(Some(file.module.clone()));
        }
    }
    Some(file.module.clone())
}

/// Every file's dependencies on the crate's other files (the root left out).
fn dependencies(
    files: &BTreeMap<Vec<String>, File>,
) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let mut graph = BTreeMap::new();
    for (module, file) in files {
        if module.is_empty() {
            continue;
        }
        let mut targets = BTreeSet::new();
        for path in &file.paths {
            let Some(path) = absolute(file, path) else {
                continue;
            };
            if let Some(target) = home(files, &path, 0)
                && !target.is_empty()
                && target != *module
            {
                targets.insert(target);
            }
        }
        graph.insert(module.clone(), targets);
    }
    graph
}

/// The strongly connected components of more than one file (Tarjan).
fn cycles(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<Vec<String>>> {
    struct Tarjan<'g> {
        graph: &'g BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: HashMap<&'g [String], usize>,
        low: HashMap<&'g [String], usize>,
        stack: Vec<&'g [String]>,
        found: Vec<Vec<Vec<String>>>,
    }
    impl<'g> Tarjan<'g> {
        fn visit(&mut self, v: &'g [String]) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            for w in self.graph.get(v).into_iter().flatten() {
                let w = w.as_slice();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.stack.contains(&w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    component.push(w.to_vec());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut tarjan = Tarjan {
        graph,
        index: HashMap::new(),
        low: HashMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !tarjan.index.contains_key(v.as_slice()) {
            tarjan.visit(v);
        }
    }
    tarjan.found
}

/// The layers of `docs/ARCHITECTURE.md`: each top-level module of the runtime and its rank
/// (higher may use lower).
fn layers() -> HashMap<String, (usize, String)> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("docs/ARCHITECTURE.md")).unwrap();
    let block = text
        .split("```layers\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/ARCHITECTURE.md has a ```layers block");
    let lines: Vec<&str> = block.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut layers = HashMap::new();
    for (i, line) in lines.iter().enumerate() {
        let (name, modules) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("a layer line is `name: modules…`: {line:?}"));
        // The first line is the top layer.
        let rank = lines.len() - i;
        for module in modules.split_whitespace() {
            let previous = layers.insert(module.to_owned(), (rank, name.trim().to_owned()));
            assert!(previous.is_none(), "{module} is in two layers");
        }
    }
    layers
}

/// Every dependency that points up a layer.
fn upward(
    graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
    layers: &HashMap<String, (usize, String)>,
) -> Vec<String> {
    let mut wrong = Vec::new();
    for (from, targets) in graph {
        for to in targets {
            let (Some((up, up_name)), Some((down, down_name))) =
                (layers.get(&to[0]), layers.get(&from[0]))
            else {
                continue;
            };
            if up > down {
                wrong.push(format!(
                    "{} ({down_name}) uses {} ({up_name}), a layer above it",
                    name(from),
                    name(to)
                ));
            }
        }
    }
    wrong
}

fn name(module: &[String]) -> String {
    module.join("::")
}

#[test]
fn the_runtime_depends_only_downwards_and_in_no_cycle() {
    let src = Path::new(ROOT).join("runtime/src");
    let files = crate_files(&src);
    let graph = dependencies(&files);
    let layers = layers();
    let mut wrong = Vec::new();
    for module in files.keys().filter(|m| !m.is_empty()) {
        if !layers.contains_key(&module[0]) {
            wrong.push(format!(
                "{}: the module `{}` is in no layer of docs/ARCHITECTURE.md",
                name(module),
                module[0]
            ));
        }
    }
    wrong.extend(upward(&graph, &layers));
    for cycle in cycles(&graph) {
        let names: Vec<String> = cycle.iter().map(|m| name(m)).collect();
        wrong.push(format!("a cycle between files: {}", names.join(" <-> ")));
    }
    // The check sees what it must: a crate this size has hundreds of dependencies.
    let edges: usize = graph.values().map(BTreeSet::len).sum();
    assert!(
        edges > 100,
        "only {edges} dependencies found: the parser misses paths"
    );
    assert!(
        wrong.is_empty(),
        "the house is not in order:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_macros_have_no_cycle_between_files() {
    let src = Path::new(ROOT).join("macros/src");
    let graph = dependencies(&crate_files(&src));
    let found: Vec<String> = cycles(&graph)
        .iter()
        .map(|c| c.iter().map(|m| name(m)).collect::<Vec<_>>().join(" <-> "))
        .collect();
    assert!(found.is_empty(), "cycles between files: {found:?}");
}

/// Every string literal of a file outside `#[cfg(test)]` items.
#[derive(Default)]
struct Literals(Vec<String>);

impl<'ast> Visit<'ast> for Literals {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if !is_cfg_test(&item.attrs) {
            syn::visit::visit_item_mod(self, item);
        }
    }

    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        if !is_cfg_test(&item.attrs) {
            syn::visit::visit_item_fn(self, item);
        }
    }

    fn visit_lit_str(&mut self, lit: &'ast syn::LitStr) {
        self.0.push(lit.value());
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        // `json!({ "method": "…" })` and the like: the literals among the macro's tokens.
        fn walk(tokens: proc_macro2::TokenStream, out: &mut Vec<String>) {
            for token in tokens {
                match token {
                    proc_macro2::TokenTree::Group(g) => walk(g.stream(), out),
                    proc_macro2::TokenTree::Literal(l) => {
                        if let Ok(lit) = syn::parse_str::<syn::LitStr>(&l.to_string()) {
                            out.push(lit.value());
                        }
                    }
                    _ => {}
                }
            }
        }
        walk(mac.tokens.clone(), &mut self.0);
        syn::visit::visit_macro(self, mac);
    }
}

/// Method names are parsed once, into `protocol::Method`: no other module spells one as a
/// string to match or send, so a method cannot be matched in one place and misspelt in another.
#[test]
fn method_names_are_spelt_only_in_the_protocol_module() {
    let src = Path::new(ROOT).join("runtime/src");
    let method_file = std::fs::read_to_string(src.join("protocol/method.rs")).unwrap();
    // The names on the wire, as the protocol module declares them (`Variant = "name",`).
    let names: BTreeSet<String> = method_file
        .lines()
        .filter_map(|line| {
            let (_, name) = line.trim().split_once(" = \"")?;
            Some(name.strip_suffix("\",")?.to_owned())
        })
        .collect();
    assert!(names.len() > 15, "method names not found: {names:?}");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut spelt = Vec::new();
    for file in files {
        if file.starts_with(src.join("protocol")) {
            continue;
        }
        let syntax = syn::parse_file(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let mut literals = Literals::default();
        literals.visit_file(&syntax);
        for literal in literals.0.iter().filter(|l| names.contains(*l)) {
            spelt.push(format!("{}: \"{literal}\"", file.display()));
        }
    }
    assert!(
        spelt.is_empty(),
        "method names spelt outside protocol/:\n{}",
        spelt.join("\n")
    );
}

/// The checker itself: an upward path, a cycle, a re-export followed to its home.
#[test]
fn the_checker_sees_upward_paths_cycles_and_follows_re_exports() {
    let dir = std::env::temp_dir().join(format!("scopegate-layering-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("outer")).unwrap();
    let write = |path: &str, text: &str| std::fs::write(dir.join(path), text).unwrap();
    write("lib.rs", "mod outer; mod low; mod high;");
    write("outer/mod.rs", "mod a; mod b; pub use a::A;");
    write(
        "outer/a.rs",
        "pub struct A; fn f() -> super::b::B { todo!() }",
    );
    write(
        "outer/b.rs",
        "pub struct B; fn g() { let _ = crate::outer::A; }",
    );
    write(
        "low.rs",
        "pub fn low() { tracing::info!(x = ?crate::high::H); }",
    );
    write(
        "high.rs",
        "pub struct H; pub fn high() { crate::low::low() }",
    );
    let graph = dependencies(&crate_files(&dir));
    let deps = |m: &[&str]| -> BTreeSet<String> {
        graph[&m.iter().map(|s| s.to_string()).collect::<Vec<_>>()]
            .iter()
            .map(|t| name(t))
            .collect()
    };
    // `crate::outer::A` is followed through `outer/mod.rs`'s `pub use` to `outer/a.rs`.
    assert_eq!(
        deps(&["outer", "b"]),
        BTreeSet::from(["outer::a".to_owned()])
    );
    assert_eq!(
        deps(&["outer", "a"]),
        BTreeSet::from(["outer::b".to_owned()])
    );
    // A path inside a macro's arguments counts.
    assert_eq!(deps(&["low"]), BTreeSet::from(["high".to_owned()]));
    let found = cycles(&graph);
    assert_eq!(found.len(), 2, "{found:?}");
    // With `high` above `low`, only `low`'s use of `high` points up.
    let layers = HashMap::from([
        ("high".to_owned(), (2, "top".to_owned())),
        ("low".to_owned(), (1, "bottom".to_owned())),
        ("outer".to_owned(), (1, "bottom".to_owned())),
    ]);
    assert_eq!(
        upward(&graph, &layers),
        ["low (bottom) uses high (top), a layer above it"]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
