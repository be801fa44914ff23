//! The module layout stays acyclic: no source file of `src/` reaches, through its `use
//! crate::…` / `super::…` paths, a file that reaches it back. Data flows one way (README,
//! "Layout"); a cycle would mean two modules that can only be understood together.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, as module paths (`network::torch`) → file.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix(src).unwrap().with_extension("");
                let mut parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if parts
                    .last()
                    .is_some_and(|l| l == "mod" || l == "lib" || l == "main")
                {
                    parts.pop();
                }
                out.insert(parts.join("::"), p);
            }
        }
    }
    out
}

/// The module a path like `crate::a::b::Item` names: the longest prefix that is a module.
fn resolve(path: &[String], mods: &BTreeMap<String, PathBuf>) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| mods.contains_key(m))
}

/// The modules `text` (the source of module `me`) refers to, re-exports of child modules in a
/// `mod.rs` left out (a parent naming its children is not a dependency of theirs on it).
fn references(me: &str, text: &str, mods: &BTreeMap<String, PathBuf>) -> BTreeSet<String> {
    let me_parts: Vec<String> = if me.is_empty() {
        Vec::new()
    } else {
        me.split("::").map(String::from).collect()
    };
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        for (i, _) in code
            .match_indices("crate::")
            .chain(code.match_indices("super::"))
        {
            let rest = &code[i..];
            let mut parts: Vec<String> = Vec::new();
            let mut base: Vec<String> = Vec::new();
            for (k, seg) in rest.split("::").enumerate() {
                let seg: String = seg
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if seg.is_empty() {
                    break;
                }
                match (k, seg.as_str()) {
                    (0, "crate") => {}
                    (0, "super") => base = me_parts[..me_parts.len().saturating_sub(1)].to_vec(),
                    (_, "super") if parts.is_empty() => {
                        base.pop();
                    }
                    _ => parts.push(seg),
                }
            }
            let mut full = base;
            full.extend(parts);
            if let Some(m) = resolve(&full, mods)
                && m != me
                && !(m.starts_with(me)
                    && !me.is_empty()
                    && code.trim_start().starts_with("pub use"))
            {
                found.insert(m);
            }
        }
    }
    found
}

#[test]
fn no_import_cycles_between_source_files() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut mods = modules(&src);
    // main.rs is a separate crate using the library through `pruningamr::`.
    mods.retain(|_, p| !p.ends_with("main.rs"));
    assert!(mods.len() > 20, "found only {} modules", mods.len());
    let graph: BTreeMap<String, BTreeSet<String>> = mods
        .iter()
        .map(|(m, p)| {
            let text = std::fs::read_to_string(p).unwrap();
            (m.clone(), references(m, &text, &mods))
        })
        .collect();
    // Depth-first search for a back edge; report the cycle.
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(m.to_string(), 1);
        stack.push(m.to_string());
        for n in &graph[m] {
            match state.get(n.as_str()).copied().unwrap_or(0) {
                1 => {
                    let start = stack.iter().position(|s| s == n).unwrap();
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(n.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(n, graph, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(m.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for m in graph.keys() {
        if state.get(m.as_str()).copied().unwrap_or(0) == 0
            && let Some(cycle) = visit(m, &graph, &mut state, &mut Vec::new())
        {
            panic!("import cycle between source files: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn the_cycle_finder_sees_a_cycle() {
    let mut mods = BTreeMap::new();
    for m in ["a", "b", "c"] {
        mods.insert(m.to_string(), PathBuf::from(format!("{m}.rs")));
    }
    assert_eq!(
        references("a", "use crate::b::Thing;\nuse super::c;", &mods),
        BTreeSet::from(["b".to_string(), "c".to_string()])
    );
    assert!(references("a", "// use crate::b::Thing;", &mods).is_empty());
}
