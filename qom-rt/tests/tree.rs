//! The composition tree: field-named children, canonical paths, path
//! resolution, `info qom-tree` output, dynamic children and unparent.

mod common;
use common::*;
use qom_rt::prelude::*;
use qom_rt::{ChildEntryKind, Error};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Each test works under its own top-level container.
fn place(top: &str, name: &str) -> Owned<Board> {
    let parent = qom_rt::container(&format!("/{top}")).unwrap();
    let board = Owned::<Board>::new();
    parent.add_child(name, board.clone()).unwrap();
    board
}

#[test]
fn embedded_and_owned_children_have_field_names_and_paths() {
    let board = place("t-paths", "board0");
    assert_eq!(board.canonical_path().as_deref(), Some("/t-paths/board0"));
    assert_eq!(
        board.uart.canonical_path().as_deref(),
        Some("/t-paths/board0/uart")
    );
    assert_eq!(
        board.timers[2].canonical_path().as_deref(),
        Some("/t-paths/board0/timers[2]")
    );
    assert_eq!(
        board.base_leaf.canonical_path().as_deref(),
        Some("/t-paths/board0/base_leaf")
    );
    assert_eq!(
        board.companion.canonical_path().as_deref(),
        Some("/t-paths/board0/companion")
    );
    let found = qom_rt::resolve_path("/t-paths/board0/timers[1]").unwrap();
    assert!(std::ptr::eq(found.header(), board.timers[1].header()));
    let companion = qom_rt::resolve_path("/t-paths/board0/companion").unwrap();
    assert!(std::ptr::eq(companion.header(), board.companion.header()));
    board.unparent();
    assert_eq!(board.canonical_path(), None, "detached from the root");
    assert_eq!(board.uart.canonical_path(), None, "and its subtree with it");
    take_log();
}

#[test]
fn nested_embedded_children_resolve() {
    let parent = qom_rt::container("/t-nested").unwrap();
    let nested = Owned::<Nested>::new();
    parent.add_child("n", nested.clone()).unwrap();
    assert_eq!(
        nested.inner.timers[0].canonical_path().as_deref(),
        Some("/t-nested/n/inner/timers[0]")
    );
    let t = qom_rt::resolve_path("/t-nested/n/inner/timers[0]").unwrap();
    assert_eq!(t.type_name(), "test-leaf");
    // Relative resolution, `..` included.
    let sibling = nested.inner.uart.resolve("../timers[2]").unwrap();
    assert!(std::ptr::eq(
        sibling.header(),
        nested.inner.timers[2].header()
    ));
    nested.unparent();
    take_log();
}

#[test]
fn partial_paths_match_unique_suffixes() {
    let a = place("t-partial", "alpha");
    let b = place("t-partial", "beta");
    let uart = qom_rt::resolve_path("alpha/uart").unwrap();
    assert!(std::ptr::eq(uart.header(), a.uart.header()));
    match qom_rt::resolve_path("t-partial/alpha/timers[1]") {
        Ok(t) => assert!(std::ptr::eq(t.header(), a.timers[1].header())),
        Err(e) => panic!("{e}"),
    }
    match qom_rt::resolve_path("companion") {
        Err(Error::AmbiguousPath { candidates, .. }) => {
            assert!(
                candidates.contains(&"/t-partial/alpha/companion".to_string()),
                "{candidates:?}"
            );
            assert!(
                candidates.contains(&"/t-partial/beta/companion".to_string()),
                "{candidates:?}"
            );
        }
        other => panic!("expected ambiguity, got {other:?}"),
    }
    assert!(matches!(
        qom_rt::resolve_path("gamma/uart"),
        Err(Error::PathNotFound { .. })
    ));
    a.unparent();
    b.unparent();
    take_log();
}

#[test]
fn qom_tree_prints_like_hmp() {
    let board = place("t-print", "b");
    let text = qom_rt::qom_tree("/t-print").unwrap();
    assert_eq!(
        text,
        "/t-print (container)\n\
         \x20 /b (test-board)\n\
         \x20   /base_leaf (test-leaf)\n\
         \x20   /uart (test-leaf)\n\
         \x20   /timers[0] (test-leaf)\n\
         \x20   /timers[1] (test-leaf)\n\
         \x20   /timers[2] (test-leaf)\n\
         \x20   /companion (test-leaf)\n"
    );
    let kinds: Vec<_> = board
        .children()
        .into_iter()
        .map(|c| (c.name, c.kind))
        .collect();
    assert_eq!(kinds[1], ("uart".to_string(), ChildEntryKind::Embedded));
    assert_eq!(kinds[5], ("companion".to_string(), ChildEntryKind::Owned));
    board.unparent();
    take_log();
}

#[test]
fn add_child_rejects_bad_names_duplicates_and_cycles() {
    let top = qom_rt::container("/t-errors").unwrap();
    let board = place("t-errors", "b");
    let other = Owned::<Board>::new();
    assert!(matches!(
        top.add_child("b", other.clone()),
        Err(Error::DuplicateChild { .. })
    ));
    assert!(matches!(
        top.add_child("", other.clone()),
        Err(Error::InvalidName { .. })
    ));
    assert!(matches!(
        top.add_child("a/b", other.clone()),
        Err(Error::InvalidName { .. })
    ));
    // Clashes with a declared child's name.
    assert!(matches!(
        board.add_child("uart", other.clone()),
        Err(Error::DuplicateChild { .. })
    ));
    // Already parented: embedded children and attached objects.
    let uart = Owned::from(&board.uart);
    assert!(matches!(
        top.add_child("u", uart),
        Err(Error::AlreadyParented { .. })
    ));
    assert!(matches!(
        top.add_child("again", board.clone()),
        Err(Error::AlreadyParented { .. })
    ));
    // Cycles: an object under its own descendant.
    let lone = Owned::<qom_rt::Container>::new();
    let inner = Owned::<Board>::new();
    lone.add_child("inner", inner.clone()).unwrap();
    assert!(matches!(
        inner.add_child("lone", lone.clone()),
        Err(Error::Cycle { .. })
    ));
    assert!(matches!(
        inner.uart.add_child("lone", lone.clone()),
        Err(Error::Cycle { .. })
    ));
    assert!(matches!(
        lone.add_child("self", lone.clone()),
        Err(Error::Cycle { .. })
    ));
    board.unparent();
    drop(other);
    take_log();
}

#[test]
fn unparent_with_an_outstanding_reference_finalizes_at_the_last_one() {
    let _g = serial();
    let board = place("t-unparent", "b");
    let parent = qom_rt::container("/t-unparent").unwrap();
    let extra = board.clone();
    drop(board);
    take_log();
    extra.unparent();
    assert!(take_log().is_empty(), "still referenced by `extra`");
    drop(extra);
    let log = take_log();
    assert_eq!(log.first().map(String::as_str), Some("finalize board"));
    assert!(parent.children().is_empty());
}

#[test]
fn dynamic_children_are_released_when_their_parent_finalizes() {
    let _g = serial();
    let before = live_allocations();
    let board = Owned::<Board>::new();
    let extra = Owned::<Leaf>::new();
    extra.tag.set("extra".into());
    board.add_child("extra", extra.clone()).unwrap();
    assert_eq!(extra.canonical_path(), None, "the board itself is detached");
    drop(extra);
    take_log();
    drop(board);
    let log = take_log();
    assert!(log.contains(&"finalize leaf extra".to_string()), "{log:?}");
    drop(log);
    assert_eq!(live_allocations(), before, "nothing leaked");
}

#[test]
fn container_creates_missing_components() {
    let c = qom_rt::container("/t-made/a/b").unwrap();
    assert_eq!(c.canonical_path().as_deref(), Some("/t-made/a/b"));
    assert_eq!(c.type_name(), "container");
    let again = qom_rt::container("/t-made/a/b").unwrap();
    assert!(Owned::ptr_eq(&c, &again));
    assert!(qom_rt::container("relative").is_err());
}

fn build_print_and_tear_down(containers: usize) -> usize {
    let top = Owned::<qom_rt::Container>::new();
    for i in 0..containers {
        // 17 objects each: a container and 16 embedded children.
        top.add_child(&format!("s{i}"), Owned::<Sixteen>::new())
            .unwrap();
    }
    qom_rt::root().add_child("t-big", top.clone()).unwrap();
    let lines = qom_rt::qom_tree("/t-big").unwrap().lines().count();
    top.unparent();
    lines
}

#[test]
#[cfg_attr(miri, ignore = "100,000 objects are too slow under Miri")]
fn a_hundred_thousand_objects_build_print_and_tear_down() {
    let _g = serial();
    // A first round grows the tree's side table to its working size.
    build_print_and_tear_down(6_000);
    let before = live_allocations();
    let lines = build_print_and_tear_down(6_000);
    assert_eq!(lines, 1 + 6_000 * 17, "every object printed once");
    assert_eq!(live_allocations(), before, "torn down to baseline");
}

#[test]
fn qom_list_and_graph_of_nested_embedded_children() {
    let parent = qom_rt::container("/t-list").unwrap();
    let nested = Owned::<Nested>::new();
    parent.add_child("n", nested.clone()).unwrap();
    let list = qom_rt::qom_list("/t-list/n").unwrap();
    assert_eq!(
        qom_rt::format_qom_list(&list),
        "type (string)\ninner (child<test-board>)\n"
    );
    let inner = qom_rt::qom_list("/t-list/n/inner").unwrap();
    let names: Vec<_> = inner.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        names,
        [
            "type (string)",
            "base_leaf (child<test-leaf>)",
            "uart (child<test-leaf>)",
            "timers[0] (child<test-leaf>)",
            "timers[1] (child<test-leaf>)",
            "timers[2] (child<test-leaf>)",
            "companion (child<test-leaf>)",
            "num-ports (uint32)",
        ]
    );
    // A partial path into a nested array.
    let t = qom_rt::resolve_path("n/inner/timers[2]").unwrap();
    assert!(std::ptr::eq(t.header(), nested.inner.timers[2].header()));
    assert_eq!(qom_rt::qom_list("inner/timers[2]").unwrap().len(), 1);
    // Storage edges go to the direct container, which holds the storage
    // reference of its own container in turn.
    let dot = qom_rt::graph_dot("/t-list/n").unwrap();
    for edge in [
        r#""/t-list/n" -> "/t-list/n/inner" [class=embedded"#,
        r#""/t-list/n/inner" -> "/t-list/n" [class=storage"#,
        r#""/t-list/n/inner" -> "/t-list/n/inner/timers[2]" [class=embedded"#,
        r#""/t-list/n/inner/timers[2]" -> "/t-list/n/inner" [class=storage"#,
        r#""/t-list/n/inner" -> "/t-list/n/inner/companion" [class=owned"#,
    ] {
        assert!(dot.contains(edge), "{edge} missing from\n{dot}");
    }
    // One per declared child: inner, base_leaf, uart, 3 timers, companion.
    assert_eq!(dot.matches("class=storage").count(), 7, "{dot}");
    nested.unparent();
    take_log();
}

#[test]
fn array_element_names_match_exactly() {
    let board = place("t-exact", "b");
    for found in [
        "/t-exact/b/timers[0]",
        "/t-exact/b/timers[2]",
        "b/timers[1]",
    ] {
        assert!(qom_rt::resolve_path(found).is_ok(), "{found}");
    }
    for missing in [
        "/t-exact/b/timers[01]",
        "/t-exact/b/timers[+1]",
        "/t-exact/b/timers[3]",
        "/t-exact/b/timers[]",
        "/t-exact/b/timers",
        "/t-exact/b/timers[1",
        "/t-exact/b/timers1]",
        "/t-exact/b/uart[0]",
    ] {
        assert!(
            matches!(
                qom_rt::resolve_path(missing),
                Err(Error::PathNotFound { .. })
            ),
            "{missing}"
        );
    }
    board.unparent();
    take_log();
}

#[test]
fn dot_is_the_object_and_dotdot_stops_at_the_root_only() {
    let board = place("t-dots", "b");
    let same = board.resolve(".").unwrap();
    assert!(std::ptr::eq(same.header(), board.header()));
    let uart = board.resolve("./uart/.").unwrap();
    assert!(std::ptr::eq(uart.header(), board.uart.header()));
    // `..` of the root is the root, as in a file system.
    let root = qom_rt::resolve_path("/..").unwrap();
    assert!(Owned::ptr_eq(&root, &qom_rt::root()));
    assert_eq!(
        qom_rt::resolve_path("/../t-dots/b/uart")
            .unwrap()
            .type_name(),
        "test-leaf"
    );
    // A detached object has no parent: `..` is an error, not itself.
    let detached = Owned::<Leaf>::new();
    match detached.resolve("..") {
        Err(Error::PathUnreachable { reason, .. }) => {
            assert!(reason.contains("has no parent"), "{reason}")
        }
        other => panic!(
            "`..` of a detached object: {:?}",
            other.map(|o| o.type_name())
        ),
    }
    board.unparent();
    take_log();
}

#[test]
fn a_name_nobody_has_is_not_found_and_a_dynamic_child_is() {
    let board = place("t-child", "b");
    board.add_child("extra", Owned::<Leaf>::new()).unwrap();
    assert_eq!(board.resolve("extra").unwrap().type_name(), "test-leaf");
    assert!(matches!(
        board.resolve("nobody"),
        Err(Error::PathNotFound { .. })
    ));
    board.unparent();
    take_log();
}
