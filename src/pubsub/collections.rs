//! XEP-0248 collection graph resolution, pure: which collections contain
//! a node and how deep, and whether a new association would close a cycle.
//! The graph is given as a lookup of each node's parents
//! (`pubsub#collection`), the only relation Herald stores: children are
//! derived from it, so the two can never disagree.

use std::collections::{BTreeMap, VecDeque};

/// Every collection above `node`, each with its smallest depth (1: a
/// direct parent). Breadth-first with a visited set, so a cycle that is
/// somehow in stored data ends the walk instead of looping.
pub(crate) fn ancestors<'a, F>(node: &str, parents: F) -> BTreeMap<String, u32>
where
    F: Fn(&str) -> Option<&'a [String]>,
{
    let mut depth: BTreeMap<String, u32> = BTreeMap::new();
    let mut queue: VecDeque<(String, u32)> = VecDeque::new();
    queue.push_back((node.to_owned(), 0));
    while let Some((at, d)) = queue.pop_front() {
        for p in parents(&at).unwrap_or(&[]) {
            if p == node || depth.contains_key(p) {
                continue;
            }
            depth.insert(p.clone(), d + 1);
            queue.push_back((p.clone(), d + 1));
        }
    }
    depth
}

/// Whether giving `node` these parents would make a cycle (XEP-0248 §5.2
/// "Creating a Cycle"): a parent that is the node itself or lies below it.
pub(crate) fn would_cycle<'a, F>(node: &str, new_parents: &[String], parents: F) -> bool
where
    F: Fn(&str) -> Option<&'a [String]> + Copy,
{
    new_parents
        .iter()
        .any(|p| p == node || ancestors(p, parents).contains_key(node))
}

/// How far below a collection a subscription reaches
/// (`pubsub#subscription_depth`).
pub(crate) fn within(depth: u32, limit: Option<u32>) -> bool {
    limit.is_none_or(|max| depth <= max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn graph(edges: &[(&str, &[&str])]) -> HashMap<String, Vec<String>> {
        edges
            .iter()
            .map(|(n, ps)| (n.to_string(), ps.iter().map(|p| p.to_string()).collect()))
            .collect()
    }

    fn up(g: &HashMap<String, Vec<String>>, n: &str) -> BTreeMap<String, u32> {
        ancestors(n, |x| g.get(x).map(Vec::as_slice))
    }

    #[test]
    fn depths_are_the_shortest_path_and_a_leaf_may_have_several_parents() {
        let g = graph(&[
            ("leaf", &["a", "b"]),
            ("a", &["root"]),
            ("b", &["mid"]),
            ("mid", &["root"]),
        ]);
        let got = up(&g, "leaf");
        let want: BTreeMap<String, u32> = [("a", 1), ("b", 1), ("mid", 2), ("root", 2)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        assert_eq!(got, want);
        assert!(up(&g, "root").is_empty());
    }

    #[test]
    fn a_stored_cycle_ends_the_walk() {
        let g = graph(&[("a", &["b"]), ("b", &["a"])]);
        let got = up(&g, "a");
        assert_eq!(got.len(), 1);
        assert_eq!(got.get("b"), Some(&1));
    }

    #[test]
    fn cycles_are_refused() {
        let g = graph(&[("leaf", &["a"]), ("a", &["root"])]);
        let look = |x: &str| g.get(x).map(Vec::as_slice);
        assert!(would_cycle("root", &["leaf".into()], look));
        assert!(would_cycle("a", &["a".into()], look));
        assert!(!would_cycle("leaf", &["root".into()], look));
        assert!(!would_cycle("other", &["a".into()], look));
    }

    #[test]
    fn depth_limits() {
        assert!(within(1, Some(1)));
        assert!(!within(2, Some(1)));
        assert!(within(7, None));
    }
}
