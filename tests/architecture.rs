//! The shape of the code, checked: no two source files import each other (directly or around a
//! loop), no layer imports one above it (cli → app → jobs → models → ops → envs → data → runs),
//! and the dashboard never touches a tensor library. A change that breaks the layering fails
//! here, with the files named.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, top first; a file may import its own layer and those below it.
const LAYERS: [&str; 8] = [
    "cli", "app", "jobs", "models", "ops", "envs", "data", "runs",
];

/// A module path (`["jobs", "driver"]`) for each source file, relative to `src/`.
fn modules(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).expect("under src");
            let mut module: Vec<String> = rel
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if module.last().is_some_and(|m| m == "mod") {
                module.pop();
            }
            if module == ["lib"] || module == ["main"] {
                module.clear();
            }
            out.insert(module, rel.to_path_buf());
        }
    }
    out
}

/// The code of a file without its unit tests (they may reach anywhere).
fn without_tests(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |i| &text[..i])
}

/// Every `crate::a::b` / `super::a` / `self::a` path in `text`, with `use …::{x, y::z}` groups
/// expanded, as module-path segments.
fn paths(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for (root, at) in ["crate::", "super::", "self::"]
        .iter()
        .flat_map(|root| text.match_indices(root).map(move |(i, _)| (*root, i)))
    {
        // `foo_crate::` or `my_self::` are other names.
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &text[at + root.len()..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':' || c == '{'))
            .unwrap_or(rest.len());
        let head = &rest[..end];
        let root = root.trim_end_matches("::").to_string();
        match head.find('{') {
            Some(brace) => {
                let base: Vec<String> = split(&head[..brace]);
                let close = rest.find('}').unwrap_or(rest.len());
                for item in rest[brace + 1..close].split(',') {
                    let item = item.split(" as ").next().unwrap_or("").trim();
                    let mut full = base.clone();
                    if !item.is_empty() && item != "self" {
                        full.extend(split(item));
                    }
                    out.push((root.clone(), full));
                }
            }
            None => out.push((root, split(head))),
        }
    }
    out
}

fn split(path: &str) -> Vec<String> {
    path.split("::")
        .map(str::trim)
        .filter(|s| !s.is_empty() && !s.contains('{'))
        .map(str::to_string)
        .collect()
}

/// The file a module path lands in: the longest prefix that is a file.
fn resolve(files: &BTreeMap<Vec<String>, PathBuf>, mut path: Vec<String>) -> Option<&PathBuf> {
    while !path.is_empty() {
        if let Some(file) = files.get(&path) {
            return Some(file);
        }
        path.pop();
    }
    None
}

/// File → files it imports.
fn graph(src: &Path) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let files = modules(src);
    let mut edges: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for (module, file) in &files {
        let text = std::fs::read_to_string(src.join(file)).expect("a readable source file");
        let is_mod = file.ends_with("mod.rs") || module.is_empty();
        let targets = edges.entry(file.clone()).or_default();
        for (root, path) in paths(without_tests(&text)) {
            let base: Vec<String> = match root.as_str() {
                "crate" => Vec::new(),
                "super" => module[..module.len().saturating_sub(1)].to_vec(),
                // `self::` inside a leaf file names its own items.
                _ if !is_mod => continue,
                _ => module.clone(),
            };
            let full: Vec<String> = base.into_iter().chain(path).collect();
            if let Some(target) = resolve(&files, full) {
                if target != file {
                    targets.insert(target.clone());
                }
            }
        }
    }
    edges
}

/// Strongly connected components of more than one file (Tarjan).
fn cycles(edges: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<Vec<PathBuf>> {
    struct State<'a> {
        edges: &'a BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        index: BTreeMap<&'a PathBuf, usize>,
        low: BTreeMap<&'a PathBuf, usize>,
        stack: Vec<&'a PathBuf>,
        next: usize,
        found: Vec<Vec<PathBuf>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a PathBuf) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        for w in s.edges.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.stack.contains(&w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut state = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !state.index.contains_key(v) {
            visit(&mut state, v);
        }
    }
    state.found
}

fn layer(file: &Path) -> Option<usize> {
    let first = file.components().next()?.as_os_str().to_string_lossy();
    let name = first.trim_end_matches(".rs");
    LAYERS.iter().position(|l| *l == name)
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_source_file_imports_another_that_imports_it_back() {
    let found = cycles(&graph(&src()));
    assert!(found.is_empty(), "import cycles: {found:#?}");
}

#[test]
fn no_layer_imports_a_layer_above_it() {
    let mut upward = Vec::new();
    for (from, targets) in graph(&src()) {
        for to in targets {
            if let (Some(a), Some(b)) = (layer(&from), layer(&to)) {
                if b < a {
                    upward.push(format!("{} -> {}", from.display(), to.display()));
                }
            }
        }
    }
    assert!(upward.is_empty(), "upward imports: {upward:#?}");
}

#[test]
fn the_dashboard_never_touches_a_tensor() {
    let app = src().join("app");
    let files = modules(&src());
    let mut offenders = Vec::new();
    for file in files.values().filter(|f| f.starts_with("app")) {
        let text = std::fs::read_to_string(src().join(file)).expect("readable");
        if text.contains("candle_core") || text.contains("candle_nn") {
            offenders.push(file.clone());
        }
    }
    assert!(app.is_dir());
    assert!(
        offenders.is_empty(),
        "the app layer uses candle: {offenders:?}"
    );
}

#[test]
fn the_checks_see_a_cycle_and_an_upward_import_when_there_is_one() {
    // A tiny crate laid out like ours, with one cycle and one upward import, so these checks
    // are known to fail when the layering breaks.
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path();
    for (file, text) in [
        ("lib.rs", "pub mod app;\npub mod runs;\n"),
        ("app/mod.rs", "pub mod a;\npub mod b;\n"),
        ("app/a.rs", "use super::b::B;\npub struct A;\n"),
        ("app/b.rs", "use crate::app::a::A;\npub struct B;\n"),
        ("runs/mod.rs", "use crate::app::{a::A, b};\n"),
    ] {
        let path = src.join(file);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    let edges = graph(src);
    assert_eq!(
        cycles(&edges),
        vec![vec![PathBuf::from("app/a.rs"), PathBuf::from("app/b.rs")]]
    );
    let runs = &edges[&PathBuf::from("runs/mod.rs")];
    assert!(runs.contains(&PathBuf::from("app/a.rs")) && runs.contains(&PathBuf::from("app/b.rs")));
    assert!(layer(Path::new("app/a.rs")) < layer(Path::new("runs/mod.rs")));
}
