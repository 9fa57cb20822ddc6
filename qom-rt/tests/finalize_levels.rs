//! While a parent type's finalize hook runs, the subtype's fields are
//! already dropped and its embedded children finalized. The object is then,
//! as in a C++ base destructor, an instance of the parent type: a downcast
//! to the subtype fails and a virtual call reaches the parent type's
//! implementation, so safe code in the hook cannot read dropped state.
#![allow(missing_docs)]

use qom_rt::prelude::*;
use qom_rt::ClassFor;
use std::sync::Mutex;

/// What the hooks saw, in order.
static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn see(what: String) {
    SEEN.lock().unwrap().push(what);
}

fn take_seen() -> Vec<String> {
    std::mem::take(&mut SEEN.lock().unwrap())
}

/// Overridable behaviour of every `Base`.
pub trait BaseImpl: ObjectImpl + IsA<Base> {
    /// The subtype's override reads its own fields.
    fn describe(&self) -> String {
        "base".into()
    }
}

pub struct BaseClass {
    describe: fn(&Base) -> String,
}

impl<T: BaseImpl> ClassFor<T> for BaseClass {
    const CLASS: Self = BaseClass {
        describe: |base| base.downcast::<T>().map(T::describe).unwrap_or_default(),
    };
}

#[derive(QomObject)]
#[qom(name = "levels-base", class = BaseClass)]
pub struct Base {
    parent: ParentField<Object>,
}
impl BaseImpl for Base {}

impl Base {
    fn describe(&self) -> String {
        (self
            .class::<BaseClass>()
            .expect("every base has a class")
            .describe)(self)
    }
}

impl ObjectImpl for Base {
    fn finalize(&self) {
        see(format!(
            "base hook: type {}, downcast to middle {}, to leaf {}, describe {:?}",
            self.type_name(),
            self.downcast::<Middle>().is_some(),
            self.downcast::<Leaf>().is_some(),
            self.describe(),
        ));
    }
}

#[derive(QomObject)]
#[qom(name = "levels-middle")]
pub struct Middle {
    parent: ParentField<Base>,
    notes: Mutex<Vec<String>>,
}
impl BaseImpl for Middle {
    fn describe(&self) -> String {
        format!("middle {:?}", self.notes.lock().unwrap())
    }
}

impl ObjectImpl for Middle {
    fn init(&self) {
        self.notes.lock().unwrap().push("middle note".into());
    }
    fn finalize(&self) {
        see(format!(
            "middle hook: type {}, downcast to leaf {}, describe {:?}",
            self.type_name(),
            self.downcast::<Leaf>().is_some(),
            self.upcast::<Base>().describe(),
        ));
    }
}

#[derive(QomObject)]
#[qom(name = "levels-part")]
pub struct Part {
    parent: ParentField<Object>,
}
impl ObjectImpl for Part {}

#[derive(QomObject)]
#[qom(name = "levels-leaf")]
pub struct Leaf {
    parent: ParentField<Middle>,
    #[child(embedded)]
    part: Part,
    notes: Mutex<Vec<String>>,
}
impl BaseImpl for Leaf {
    fn describe(&self) -> String {
        format!("leaf {:?}", self.notes.lock().unwrap())
    }
}

impl ObjectImpl for Leaf {
    fn init(&self) {
        self.notes.lock().unwrap().push("leaf note".into());
    }
    fn finalize(&self) {
        see(format!(
            "leaf hook: type {}, describe {:?}",
            self.type_name(),
            self.upcast::<Base>().describe(),
        ));
    }
}

#[test]
fn each_parent_hook_sees_its_own_type() {
    let _serial = SERIAL.lock().unwrap();
    take_seen();
    drop(Owned::<Leaf>::new());
    assert_eq!(
        take_seen(),
        [
            "leaf hook: type levels-leaf, describe \"leaf [\\\"leaf note\\\"]\"",
            "middle hook: type levels-middle, downcast to leaf false, \
             describe \"middle [\\\"middle note\\\"]\"",
            "base hook: type levels-base, downcast to middle false, to leaf false, \
             describe \"base\"",
        ]
    );
}

#[test]
fn a_child_outliving_its_container_frees_it_with_the_most_derived_layout() {
    let _serial = SERIAL.lock().unwrap();
    let leaf = Owned::<Leaf>::new();
    let part = Owned::from(&leaf.part);
    drop(leaf);
    assert_eq!(take_seen().len(), 3, "the container finalized");
    // The container is finalized; its header names the most-derived type
    // again, whose layout the last storage release below deallocates
    // with (Miri checks the layout matches the allocation's).
    assert!(part.container::<Leaf>().is_none());
    assert!(part.container::<Base>().is_none());
    drop(part);
}

#[test]
fn the_type_is_the_most_derived_one_outside_finalize() {
    let _serial = SERIAL.lock().unwrap();
    let leaf = Owned::<Leaf>::new();
    let base: &Base = leaf.upcast();
    assert_eq!(base.type_name(), "levels-leaf");
    assert!(base.downcast::<Leaf>().is_some());
    assert_eq!(base.describe(), "leaf [\"leaf note\"]");
    drop(leaf);
    take_seen();
}

/// The tests share `SEEN`.
static SERIAL: Mutex<()> = Mutex::new(());
