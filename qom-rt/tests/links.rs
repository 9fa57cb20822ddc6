//! Link properties: set by path or typed, typed and type-checked targets,
//! and the weak semantics — a link never keeps its target alive, never
//! dangles, and cannot leak a cycle.
#![allow(missing_docs)]

mod common;
use common::*;
use qom_rt::prelude::*;
use qom_rt::{ChildEntryKind, Error, ListingKind};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// A link target that records its finalize.
#[derive(QomObject)]
#[qom(name = "link-dma")]
pub struct Dma {
    parent: ParentField<Object>,
    #[property]
    pub channel: Prop<String>,
}
impl ObjectImpl for Dma {
    fn finalize(&self) {
        log(format!("finalize dma {}", self.channel.get()));
    }
}

/// A subtype of the target type: accepted by `Link<Dma>`.
#[derive(QomObject)]
#[qom(name = "link-fast-dma")]
pub struct FastDma {
    parent: ParentField<Dma>,
}
impl ObjectImpl for FastDma {}

/// Holds links: to a `Dma`, and to any object.
#[derive(QomObject)]
#[qom(name = "link-disk")]
pub struct Disk {
    parent: ParentField<Object>,
    #[property(doc = "the DMA engine")]
    pub dma: Link<Dma>,
    #[property]
    pub peer: Link<Object>,
    #[property]
    pub name: Prop<String>,
}
impl ObjectImpl for Disk {
    fn finalize(&self) {
        log(format!("finalize disk {}", self.name.get()));
    }
}

/// Embeds link targets, and links to its own child and to itself.
#[derive(QomObject)]
#[qom(name = "link-soc")]
pub struct Soc {
    parent: ParentField<Object>,
    #[child(embedded)]
    pub dma: [Dma; 2],
    #[property]
    pub own_dma: Link<Dma>,
    #[property]
    pub me: Link<Object>,
}
impl ObjectImpl for Soc {
    fn finalize(&self) {
        log("finalize soc");
    }
}

/// Grows the process-wide link-target table (which never shrinks) to
/// hold `n` live targets, so that counting tests see only their own
/// allocations.
fn warm_up_link_table(n: usize) {
    let targets: Vec<_> = (0..n).map(|_| Owned::<Dma>::new()).collect();
    let disk = Owned::<Disk>::new();
    for t in &targets {
        disk.dma.set(&**t);
    }
    drop((targets, disk));
    take_log();
}

fn dma(channel: &str) -> Owned<Dma> {
    let d = Owned::<Dma>::new();
    d.channel.set(channel.into());
    d
}

#[test]
fn links_are_set_by_path_and_typed_and_read_back() {
    let top = qom_rt::container("/l-set").unwrap();
    let d = dma("a");
    top.add_child("dma0", d.clone()).unwrap();
    let disk = Owned::<Disk>::new();
    top.add_child("disk0", disk.clone()).unwrap();

    assert!(disk.dma.get().is_none(), "unset at birth");
    assert_eq!(disk.get_property("dma").unwrap(), "");

    disk.set_property("dma", "/l-set/dma0").unwrap();
    assert!(Owned::ptr_eq(&disk.dma.get().unwrap(), &d));
    assert_eq!(disk.get_property("dma").unwrap(), "/l-set/dma0");
    // Partial paths resolve too.
    disk.set_property("peer", "l-set/dma0").unwrap();
    assert_eq!(disk.get_property("peer").unwrap(), "/l-set/dma0");

    // Typed: `Option<Owned<T>>` in and out.
    let got: Option<Owned<Dma>> = disk.get_property_typed("dma").unwrap();
    assert!(Owned::ptr_eq(&got.unwrap(), &d));
    let other = dma("b");
    top.add_child("dma1", other.clone()).unwrap();
    disk.set_property_typed("dma", Some(other.clone())).unwrap();
    assert_eq!(disk.get_property("dma").unwrap(), "/l-set/dma1");
    disk.set_property_typed("dma", None::<Owned<Dma>>).unwrap();
    assert!(disk.dma.get().is_none());
    // The wrong typed value is refused.
    assert!(disk.set_property_typed("dma", Some(disk.clone())).is_err());
    assert!(
        disk.set_property_typed("dma", d.clone()).is_err(),
        "needs the Option"
    );
    assert!(disk
        .get_property_typed::<Option<Owned<Object>>>("dma")
        .is_err());

    // A subtype of the target type is accepted, by path and typed.
    let fast = Owned::<FastDma>::new();
    top.add_child("fast", fast.clone()).unwrap();
    disk.set_property("dma", "/l-set/fast").unwrap();
    assert_eq!(disk.dma.get().unwrap().type_name(), "link-fast-dma");
    disk.dma.set(&*fast);
    disk.dma.clear();
    disk.dma.set(&*d);
    assert_eq!(disk.dma.target_path().as_deref(), Some("/l-set/dma0"));

    // Listed as `link<T>` with its value and doc.
    let list = qom_rt::qom_list("/l-set/disk0").unwrap();
    let entry = list.iter().find(|e| e.name == "dma").unwrap();
    assert_eq!(entry.to_string(), "dma (link<link-dma>)");
    assert_eq!(entry.kind, ListingKind::Link);
    assert_eq!(entry.value.as_deref(), Some("/l-set/dma0"));
    assert_eq!(entry.doc, "the DMA engine");
    let peer = list.iter().find(|e| e.name == "peer").unwrap();
    assert_eq!(peer.type_name, "link<object>");
    for o in [
        d.upcast::<Object>(),
        other.upcast(),
        fast.upcast(),
        disk.upcast(),
    ] {
        o.unparent();
    }
    take_log();
}

#[test]
fn bad_link_values_are_refused_and_leave_the_link_unchanged() {
    let top = qom_rt::container("/l-bad").unwrap();
    let d = dma("kept");
    top.add_child("dma0", d.clone()).unwrap();
    top.add_child("not-a-dma", Owned::<Leaf>::new()).unwrap();
    let disk = Owned::<Disk>::new();
    top.add_child("disk0", disk.clone()).unwrap();
    disk.set_property("dma", "/l-bad/dma0").unwrap();
    // Two objects named `twin`: a partial path to them is ambiguous.
    qom_rt::container("/l-bad/x/twin").unwrap();
    qom_rt::container("/l-bad/y/twin").unwrap();

    let cases = [
        (
            "/l-bad/not-a-dma",
            "the object at `/l-bad/not-a-dma` is a `test-leaf`",
        ),
        ("/l-bad/nothing", "there is no object at `/l-bad/nothing`"),
        (
            "nothing-anywhere",
            "there is no object at `nothing-anywhere`",
        ),
        (
            "twin",
            "is ambiguous: it matches /l-bad/x/twin, /l-bad/y/twin",
        ),
        ("", "an empty path is not a link target"),
        ("/l-bad/x", "the object at `/l-bad/x` is a `container`"),
    ];
    for (value, why) in cases {
        match disk.set_property("dma", value) {
            Err(Error::InvalidValue {
                object,
                property,
                value: v,
                expected,
            }) => {
                assert_eq!(object, "/l-bad/disk0");
                assert_eq!(property, "dma");
                assert_eq!(v, value);
                assert!(
                    expected.starts_with("a path to a `link-dma` object"),
                    "{expected}"
                );
                assert!(expected.contains(why), "{value:?}: {expected}");
            }
            other => panic!("{value:?}: {other:?}"),
        }
        assert!(Owned::ptr_eq(&disk.dma.get().unwrap(), &d), "unchanged");
    }
    let message = disk
        .set_property("dma", "/l-bad/nothing")
        .unwrap_err()
        .to_string();
    assert_eq!(
        message,
        "`/l-bad/disk0`: property `dma` does not accept `/l-bad/nothing`: expected a path \
         to a `link-dma` object; there is no object at `/l-bad/nothing`"
    );
    top.unparent();
    drop(top);
    drop((d, disk));
    take_log();
}

#[test]
fn a_link_is_weak_kept_while_referenced_and_cleared_when_the_target_goes() {
    let _g = serial();
    let top = qom_rt::container("/l-weak").unwrap();
    // Warm up the link table and the tree's side table.
    warm_up_link_table(64);
    {
        let d = dma("warm");
        top.add_child("dma0", d.clone()).unwrap();
        let disk = Owned::<Disk>::new();
        disk.set_property("dma", "/l-weak/dma0").unwrap();
        d.unparent();
    }
    take_log();
    let before = live_allocations();
    {
        let d = dma("target");
        top.add_child("dma0", d.clone()).unwrap();
        let disk = Owned::<Disk>::new();
        disk.name.set("d".into());
        disk.set_property("dma", "/l-weak/dma0").unwrap();
        assert_eq!(d.header().ref_count(), 2, "the link holds no reference");

        // Unparented while an outstanding reference (`d`) exists: the link
        // follows the object, still live but out of the tree.
        d.unparent();
        let target = disk.dma.get().expect("still referenced, so still linked");
        assert!(Owned::ptr_eq(&target, &d));
        assert_eq!(
            disk.get_property("dma").unwrap(),
            "",
            "no path: out of the tree"
        );
        drop(target);
        assert!(take_log().is_empty());

        // The last reference goes: the target finalizes and the link reads
        // `None` — no dangling, nothing kept alive.
        drop(d);
        assert_eq!(take_log(), ["finalize dma target"]);
        assert!(disk.dma.get().is_none());
        assert!(disk
            .get_property_typed::<Option<Owned<Dma>>>("dma")
            .unwrap()
            .is_none());
        assert_eq!(disk.get_property("dma").unwrap(), "");

        // A new object is never mistaken for the freed one, even at the
        // same address: epochs are not reused.
        let again = dma("again");
        assert!(disk.dma.get().is_none());
        drop(again);
        drop(disk);
    }
    take_log();
    assert_eq!(live_allocations(), before, "everything freed");
}

#[test]
fn links_cannot_leak_a_cycle() {
    let _g = serial();
    warm_up_link_table(64);
    let before = live_allocations();
    {
        let a = Owned::<Disk>::new();
        a.name.set("a".into());
        let b = Owned::<Disk>::new();
        b.name.set("b".into());
        a.peer.set(&*b);
        b.peer.set(&*a);
        a.peer.set(&*a); // and a self-link
        a.peer.set(&*b);
        // A container linking to its own embedded child and to itself.
        let soc = Owned::<Soc>::new();
        soc.own_dma.set(&soc.dma[1]);
        soc.me.set(&*soc);
        assert_eq!(soc.header().ref_count(), 1);
        assert!(soc.me.get().is_some());
        drop((a, b, soc));
        let mut log = take_log();
        log.sort();
        assert_eq!(
            log,
            [
                "finalize disk a",
                "finalize disk b",
                "finalize dma ",
                "finalize dma ",
                "finalize soc"
            ]
        );
    }
    assert_eq!(live_allocations(), before, "the cycles were freed");
}

#[test]
fn a_link_to_an_embedded_child_ends_with_its_container() {
    let _g = serial();
    let soc = Owned::<Soc>::new();
    soc.dma[0].channel.set("inner".into());
    let disk = Owned::<Disk>::new();
    disk.dma.set(&soc.dma[0]);
    let via_link = disk.dma.get().unwrap();
    assert!(std::ptr::eq(via_link.header(), soc.dma[0].header()));
    drop(via_link);

    // Someone keeps the embedded child itself alive past its container.
    let kept = Owned::from(&soc.dma[0]);
    drop(soc);
    assert_eq!(take_log(), ["finalize soc", "finalize dma "]);
    // The child's memory lives, but its container finalized: the link no
    // longer hands it out (as `container()` does not hand out the
    // container).
    assert!(disk.dma.get().is_none());
    assert_eq!(kept.channel.get(), "inner");
    drop(kept);
    assert_eq!(take_log(), ["finalize dma inner"]);
    assert!(disk.dma.get().is_none());
}

#[test]
fn links_are_upgraded_while_their_targets_die_on_other_threads() {
    let _g = serial();
    let rounds = if cfg!(miri) { 3 } else { 200 };
    for _ in 0..rounds {
        let soc = Owned::<Soc>::new();
        let d = dma("racing");
        let disk = Owned::<Disk>::new();
        disk.dma.set(&*d);
        disk.peer.set(&soc.dma[1]);
        std::thread::scope(|s| {
            let disk = &disk;
            let reader = s.spawn(move || {
                for _ in 0..4 {
                    // Either the live target or `None`, never a dead one.
                    if let Some(t) = disk.dma.get() {
                        assert_eq!(t.channel.get(), "racing");
                    }
                    if let Some(t) = disk.peer.get() {
                        assert_eq!(t.type_name(), "link-dma");
                    }
                }
            });
            s.spawn(move || drop((d, soc)));
            reader.join().unwrap();
        });
        assert!(disk.dma.get().is_none());
        assert!(disk.peer.get().is_none());
    }
    take_log();
}

#[test]
fn qom_list_shows_children_links_and_properties() {
    let top = qom_rt::container("/l-list").unwrap();
    let board = Owned::<Board>::new();
    top.add_child("board", board.clone()).unwrap();
    board.add_child("extra", Owned::<Leaf>::new()).unwrap();
    let list = qom_rt::qom_list("/l-list/board").unwrap();
    assert_eq!(
        qom_rt::format_qom_list(&list),
        "type (string)\n\
         base_leaf (child<test-leaf>)\n\
         uart (child<test-leaf>)\n\
         timers[0] (child<test-leaf>)\n\
         timers[1] (child<test-leaf>)\n\
         timers[2] (child<test-leaf>)\n\
         companion (child<test-leaf>)\n\
         extra (child<test-leaf>)\n\
         num-ports (uint32)\n"
    );
    assert_eq!(list[0].value.as_deref(), Some("test-board"));
    assert_eq!(list[2].kind, ListingKind::Child(ChildEntryKind::Embedded));
    assert_eq!(list[6].kind, ListingKind::Child(ChildEntryKind::Owned));
    assert_eq!(list[7].kind, ListingKind::Child(ChildEntryKind::Dynamic));
    assert_eq!(list[8].value.as_deref(), Some("4"));
    assert_eq!(list[8].doc, "number of ports");
    assert_eq!(list[8].kind, ListingKind::Value);
    // Partial paths and errors.
    assert_eq!(qom_rt::qom_list("l-list/board/uart").unwrap().len(), 1);
    assert!(matches!(
        qom_rt::qom_list("/l-list/nothing"),
        Err(Error::PathNotFound { .. })
    ));
    board.unparent();
    take_log();
}
