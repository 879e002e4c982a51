//! The shape of src/, checked from its `use` lines (part of `make check`): no import cycle
//! between modules, the layers' boundaries, no long file without its reason, and
//! docs/architecture.md naming exactly the modules that exist.
//!
//! A module is a file (`engine/filter.rs` is `engine::filter`, `engine/sink/mod.rs` is
//! `engine::sink`). It imports another when its code (not its comments, not its unit tests)
//! names it in a `use` or a `crate::` / `super::` / `self::` path. Declaring a child with
//! `mod` is not an import. This reads the source text, not the compiler's resolution: a path
//! that goes through a re-export counts for the module that re-exports.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

/// Files longer than this need a `//! Why this file is long:` line.
const LONG_FILE: usize = 600;

/// Module path (`engine::filter`; the crate root is "") → its source text.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let mut out = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).expect("under src").with_extension("");
        let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
            parts.pop();
        }
        // main.rs is the binary: a crate of its own over the library.
        if rel.to_string_lossy() == "main" {
            continue;
        }
        out.insert(parts.join("::"), std::fs::read_to_string(&file).expect("read"));
    }
    out
}

/// The code of a module: comments and the unit tests (from the first `#[cfg(test)]` module
/// on) left out.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod ").next().unwrap_or_default();
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        rest = rest[start..].find("*/").map_or("", |end| &rest[start + end + 2..]);
    }
    out.push_str(rest);
    out.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Expands a `use` tree (`a::{b, c::{d, e as f}}`) into paths.
fn expand(prefix: &[String], tree: &str, out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    if tree.is_empty() {
        return;
    }
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap_or_default();
        let mut full = prefix.to_vec();
        full.extend(path.split("::").map(str::trim).filter(|s| !s.is_empty()).map(String::from));
        out.push(full);
        return;
    };
    let mut head = prefix.to_vec();
    head.extend(tree[..open].split("::").map(str::trim).filter(|s| !s.is_empty()).map(String::from));
    let close = tree.rfind('}').filter(|&c| c > open).unwrap_or(tree.len());
    let inner = &tree[open + 1..close];
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                expand(&head, &inner[start..i], out);
                start = i + 1;
            }
            _ => {}
        }
    }
    expand(&head, &inner[start..], out);
}

/// The module a path names, from module `at`: the longest prefix that is a module.
fn resolve(modules: &BTreeMap<String, String>, at: &str, path: &[String]) -> Option<String> {
    let here: Vec<String> = if at.is_empty() {
        Vec::new()
    } else {
        at.split("::").map(String::from).collect()
    };
    let (mut base, mut rest) = match path.first().map(String::as_str) {
        Some("crate") => (Vec::new(), &path[1..]),
        Some("self") => (here.clone(), &path[1..]),
        Some("super") => (here.clone(), path),
        Some(first) if modules.contains_key(&[here.clone(), vec![first.to_string()]].concat().join("::")) => (here.clone(), path),
        _ => return None,
    };
    while rest.first().map(String::as_str) == Some("super") {
        base.pop();
        rest = &rest[1..];
    }
    base.extend(rest.iter().cloned());
    (0..=base.len())
        .rev()
        .map(|k| base[..k].join("::"))
        .find(|m| modules.contains_key(m))
}

/// Module → the modules it imports.
fn imports(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, text) in modules {
        let code = code(text);
        let mut paths = Vec::new();
        // `use` items: a line that starts with `use` (or `pub use`, `pub(crate) use`), to its `;`.
        let mut offset = 0;
        for line in code.split_inclusive('\n') {
            let item = line.trim_start();
            let item = item
                .strip_prefix("pub")
                .map_or(item, |r| r.trim_start_matches(|c| c != ' ').trim_start());
            if let Some(tree) = item.strip_prefix("use ") {
                let start = offset + (line.len() - tree.len());
                let end = code[start..].find(';').map_or(code.len(), |e| start + e);
                expand(&[], &code[start..end], &mut paths);
            }
            offset += line.len();
        }
        // Paths from the crate root (`crate::`), relative ones, and ones through a module
        // imported by name (`use crate::engine;` then `engine::sink::X`): the crate's
        // top-level modules.
        let tops: Vec<String> = modules
            .keys()
            .filter(|m| !m.is_empty() && !m.contains("::"))
            .map(|m| format!("{m}::"))
            .collect();
        for (i, _) in tops.iter().flat_map(|top| code.match_indices(top.as_str())).collect::<Vec<_>>() {
            if code[..i]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':' || c == '.')
            {
                continue;
            }
            let path: String = code[i..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let mut full = vec!["crate".to_string()];
            full.extend(path.split("::").filter(|s| !s.is_empty()).map(String::from));
            paths.push(full);
        }
        for root in ["crate::", "super::", "self::"] {
            for (i, _) in code.match_indices(root) {
                if code[..i]
                    .chars()
                    .last()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
                {
                    continue;
                }
                let path: String = code[i..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                paths.push(path.split("::").filter(|s| !s.is_empty()).map(String::from).collect());
            }
        }
        let entry = edges.entry(module.clone()).or_default();
        for path in paths {
            if let Some(target) = resolve(modules, module, &path).filter(|t| t != module) {
                entry.insert(target);
            }
        }
    }
    edges
}

/// The strongly connected components of more than one module (Tarjan).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        let edges = s.edges;
        for w in edges.get(v).into_iter().flatten() {
            if !s.index.contains_key(w.as_str()) {
                visit(s, w);
                let low = s.low[v].min(s.low[w.as_str()]);
                s.low.insert(v, low);
            } else if s.stack.contains(&w.as_str()) {
                let low = s.low[v].min(s.index[w.as_str()]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                component.push(w.to_string());
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
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.found
}

fn within(module: &str, root: &str) -> bool {
    module == root || module.starts_with(&format!("{root}::"))
}

#[test]
fn no_import_cycle_between_modules() {
    let modules = modules();
    let found = cycles(&imports(&modules));
    assert!(
        found.is_empty(),
        "modules that import each other (directly or around a circle): {found:?}"
    );
}

/// The reader itself: a known circle is found, and a comment or a unit test is no import.
#[test]
fn the_reader_finds_a_circle_and_ignores_comments() {
    let modules: BTreeMap<String, String> = [
        ("a", "use crate::b::X;\n/// [`crate::c`]\n"),
        ("b", "use super::{c::{self, Y as Z}};\n"),
        (
            "c",
            "fn f() { crate::a::g() }\n#[cfg(test)]\nmod tests {\n    use crate::d::T;\n}\n",
        ),
        ("d", "// use crate::a;\n/* crate::b */\n"),
        ("e", "use crate::d;\nfn f() { d::g(); }\n"),
    ]
    .into_iter()
    .map(|(m, t)| (m.to_string(), t.to_string()))
    .collect();
    let edges = imports(&modules);
    assert_eq!(edges["a"], BTreeSet::from(["b".to_string()]));
    assert_eq!(edges["b"], BTreeSet::from(["c".to_string()]));
    assert_eq!(edges["c"], BTreeSet::from(["a".to_string()]));
    assert!(edges["d"].is_empty(), "comments are no imports: {:?}", edges["d"]);
    assert_eq!(edges["e"], BTreeSet::from(["d".to_string()]));
    assert_eq!(cycles(&edges), vec![vec!["a".to_string(), "b".to_string(), "c".to_string()]]);
}

/// The layers: `api` (the resource's types) imports nothing else of the crate, nor does the
/// vocabulary (`engine::event`); sources and
/// sinks never import each other; the operator's controller imports neither. (`precheck` and
/// `verify` still reach into the MySQL source and the sinks: issue 13's sink boundary.)
#[test]
fn layers_keep_their_boundaries() {
    let modules = modules();
    let edges = imports(&modules);
    let mut broken = Vec::new();
    for (from, targets) in &edges {
        for to in targets {
            let rule = if within(from, "api") && !within(to, "api") {
                Some("api imports only api")
            } else if from == "engine::event" {
                Some("the vocabulary imports nothing")
            } else if within(from, "engine::source") && within(to, "engine::sink")
                || within(from, "engine::sink") && within(to, "engine::source")
            {
                Some("sources and sinks do not import each other")
            } else if within(from, "controller") && (within(to, "engine::sink") || within(to, "engine::source")) {
                Some("the controller imports no source or sink")
            } else {
                None
            };
            if let Some(rule) = rule {
                broken.push(format!("{from} -> {to} ({rule})"));
            }
        }
    }
    assert!(broken.is_empty(), "{broken:#?}");
}

#[test]
fn long_files_say_why() {
    let unexplained: Vec<String> = modules()
        .into_iter()
        .filter(|(_, text)| text.lines().count() > LONG_FILE && !text.lines().any(|l| l.starts_with("//! Why this file is long:")))
        .map(|(module, text)| format!("{module} ({} lines)", text.lines().count()))
        .collect();
    assert!(
        unexplained.is_empty(),
        "files over {LONG_FILE} lines without a `//! Why this file is long:` line: {unexplained:?}"
    );
}

/// docs/architecture.md's module map names every module of src/, and only those.
#[test]
fn architecture_doc_names_every_module() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md")).expect("docs/architecture.md");
    let map = doc
        .split("## Module map")
        .nth(1)
        .expect("a `## Module map` section")
        .split("\n## ")
        .next()
        .unwrap_or_default();
    // Each entry: "- `engine::filter` — what it owns".
    let named: BTreeSet<String> = map
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("- `"))
        .filter_map(|l| l.split('`').next())
        .map(String::from)
        .collect();
    let existing: BTreeSet<String> = modules().into_keys().filter(|m| !m.is_empty()).collect();
    let missing: Vec<_> = existing.difference(&named).collect();
    let stale: Vec<_> = named.difference(&existing).collect();
    assert!(missing.is_empty(), "modules docs/architecture.md does not name: {missing:?}");
    assert!(stale.is_empty(), "modules docs/architecture.md names that do not exist: {stale:?}");
}
