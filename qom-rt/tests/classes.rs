//! Classes (virtual methods, class constants) and interfaces across a
//! three-level hierarchy.
#![allow(missing_docs)]

use qom_rt::prelude::*;
use qom_rt::ClassFor;
use std::sync::Mutex;

/// Overridable behaviour of every `Gadget`.
#[diagnostic::on_unimplemented(message = "`{Self}` is a gadget: implement `GadgetImpl` for it")]
pub trait GadgetImpl: ObjectImpl {
    /// Required class constant.
    const MODEL: &'static str;
    /// Optional class constant.
    const HOTPLUGGABLE: bool = true;
    /// Overridable; the default inherits the parent type's override.
    fn activate(&self, log: &mut Vec<String>)
    where
        Self: IsA<Gadget>,
    {
        match qom_rt::parent_class::<Self, GadgetClass>() {
            Some(parent) => (parent.activate)(self.upcast(), log),
            None => log.push("gadget".into()),
        }
    }
}

/// The gadget class: a virtual method and two constants.
pub struct GadgetClass {
    activate: fn(&Gadget, &mut Vec<String>),
    pub model: &'static str,
    pub hotpluggable: bool,
}

impl<T: GadgetImpl + IsA<Gadget>> ClassFor<T> for GadgetClass {
    const CLASS: Self = GadgetClass {
        activate: activate::<T>,
        model: T::MODEL,
        hotpluggable: T::HOTPLUGGABLE,
    };
}

fn activate<T: GadgetImpl + IsA<Gadget>>(g: &Gadget, log: &mut Vec<String>) {
    if let Some(this) = g.downcast::<T>() {
        this.activate(log);
    }
}

#[derive(QomObject)]
#[qom(name = "test-gadget", abstract, class = GadgetClass)]
pub struct Gadget {
    parent: ParentField<Object>,
}
impl ObjectImpl for Gadget {}
impl GadgetImpl for Gadget {
    const MODEL: &'static str = "abstract gadget";
}

impl Gadget {
    /// Dispatches to the most-derived override.
    pub fn activate(&self, log: &mut Vec<String>) {
        let class = self
            .class::<GadgetClass>()
            .expect("every concrete gadget has a class");
        (class.activate)(self, log)
    }
}

#[qom_rt::interface]
pub trait Blinker {
    fn blink(&self) -> &'static str;
}

#[qom_rt::interface]
pub trait Beeper {
    fn beep(&self) -> u32;
}

#[derive(QomObject)]
#[qom(name = "test-lamp", interfaces(Blinker))]
pub struct Lamp {
    parent: ParentField<Gadget>,
}
impl ObjectImpl for Lamp {}
impl GadgetImpl for Lamp {
    const MODEL: &'static str = "lamp";
    fn activate(&self, log: &mut Vec<String>) {
        log.push("lamp".into());
    }
}
impl Blinker for Lamp {
    fn blink(&self) -> &'static str {
        "lamp blinks"
    }
}

#[derive(QomObject)]
#[qom(name = "test-smart-lamp", interfaces(Beeper))]
pub struct SmartLamp {
    parent: ParentField<Lamp>,
}
impl ObjectImpl for SmartLamp {}
impl GadgetImpl for SmartLamp {
    const MODEL: &'static str = "smart-lamp";
    const HOTPLUGGABLE: bool = false;
    fn activate(&self, log: &mut Vec<String>) {
        // The parent's implementation, called explicitly.
        <Lamp as GadgetImpl>::activate(&self.parent, log);
        log.push("smart-lamp".into());
    }
}
impl Beeper for SmartLamp {
    fn beep(&self) -> u32 {
        3
    }
}

#[derive(QomObject)]
#[qom(name = "test-ultra-lamp", interfaces(Blinker, Beeper))]
pub struct UltraLamp {
    parent: ParentField<SmartLamp>,
}
impl ObjectImpl for UltraLamp {}
impl GadgetImpl for UltraLamp {
    const MODEL: &'static str = "ultra-lamp";
    fn activate(&self, log: &mut Vec<String>) {
        <SmartLamp as GadgetImpl>::activate(&self.parent, log);
        log.push("ultra-lamp".into());
    }
}
impl Blinker for UltraLamp {
    fn blink(&self) -> &'static str {
        "ultra blinks"
    }
}
impl Beeper for UltraLamp {
    fn beep(&self) -> u32 {
        7
    }
}

#[derive(QomObject)]
#[qom(name = "test-plain-gadget")]
pub struct PlainGadget {
    parent: ParentField<Gadget>,
}
impl ObjectImpl for PlainGadget {}
impl GadgetImpl for PlainGadget {
    const MODEL: &'static str = "plain";
}

/// Does not override `activate`: inherits `Lamp`'s.
#[derive(QomObject)]
#[qom(name = "test-dim-lamp")]
pub struct DimLamp {
    parent: ParentField<Lamp>,
}
impl ObjectImpl for DimLamp {}
impl GadgetImpl for DimLamp {
    const MODEL: &'static str = "dim-lamp";
}

#[test]
fn a_subtype_without_an_override_inherits_its_parents() {
    let dim = Owned::<DimLamp>::new();
    let mut log = Vec::new();
    dim.upcast::<Gadget>().activate(&mut log);
    assert_eq!(log, ["lamp"]);
    // And the parent's interfaces.
    assert_eq!(
        dim.interface::<dyn Blinker>().map(|b| b.blink()),
        Some("lamp blinks")
    );
}

#[test]
fn dispatch_reaches_the_most_derived_override_through_base_references() {
    let ultra = Owned::<UltraLamp>::new();
    let mut log = Vec::new();
    let gadget: &Gadget = ultra.upcast();
    gadget.activate(&mut log);
    assert_eq!(
        log,
        ["lamp", "smart-lamp", "ultra-lamp"],
        "parent calls chain in order"
    );

    // Through `&Object`: the class is found from the dynamic type alone,
    // with the object viewed as the class's owner.
    let object: &Object = ultra.upcast();
    let (class, gadget) = object.dispatch::<GadgetClass>().unwrap();
    assert_eq!(class.model, "ultra-lamp");
    assert!(core::ptr::eq(gadget, ultra.upcast::<Gadget>()));
    let mut log = Vec::new();
    (class.activate)(gadget, &mut log);
    assert_eq!(log.len(), 3);
    let container = Owned::<qom_rt::Container>::new();
    assert!(
        container.dispatch::<GadgetClass>().is_none(),
        "not a gadget"
    );

    // A type that does not override gets the default body.
    let plain = Owned::<PlainGadget>::new();
    let mut log = Vec::new();
    plain.activate(&mut log);
    assert_eq!(log, ["gadget"]);
}

#[test]
fn class_constants_are_per_type_and_overridable() {
    let lamp = Owned::<Lamp>::new().into_object();
    let smart = Owned::<SmartLamp>::new().into_object();
    let lamp_class = lamp.class::<GadgetClass>().unwrap();
    let smart_class = smart.class::<GadgetClass>().unwrap();
    assert_eq!((lamp_class.model, lamp_class.hotpluggable), ("lamp", true));
    assert_eq!(
        (smart_class.model, smart_class.hotpluggable),
        ("smart-lamp", false)
    );
    // Not a gadget: no gadget class.
    let container = Owned::<qom_rt::Container>::new();
    assert!(container.class::<GadgetClass>().is_none());
}

#[test]
fn interfaces_are_found_and_inherited() {
    let lamp = Owned::<Lamp>::new().into_object();
    let smart = Owned::<SmartLamp>::new().into_object();
    let ultra = Owned::<UltraLamp>::new().into_object();
    assert_eq!(
        lamp.interface::<dyn Blinker>().map(|b| b.blink()),
        Some("lamp blinks")
    );
    assert!(lamp.interface::<dyn Beeper>().is_none(), "miss");
    // Inherited from Lamp; own Beeper.
    assert_eq!(
        smart.interface::<dyn Blinker>().map(|b| b.blink()),
        Some("lamp blinks")
    );
    assert_eq!(smart.interface::<dyn Beeper>().map(|b| b.beep()), Some(3));
    // Both overridden.
    assert_eq!(
        ultra.interface::<dyn Blinker>().map(|b| b.blink()),
        Some("ultra blinks")
    );
    assert_eq!(ultra.interface::<dyn Beeper>().map(|b| b.beep()), Some(7));
}

#[test]
fn type_listings_show_interfaces() {
    let smart = qom_rt::type_by_name("test-smart-lamp").unwrap();
    let mut names = smart.interfaces();
    names.sort_unstable();
    assert_eq!(names, ["Beeper", "Blinker"]);
    assert!(qom_rt::type_by_name("test-plain-gadget")
        .unwrap()
        .interfaces()
        .is_empty());
}

static SHARED: Mutex<()> = Mutex::new(());

#[test]
fn class_lookup_is_shared_across_threads() {
    let _g = SHARED.lock().unwrap();
    let lamp = Owned::<UltraLamp>::new();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| assert_eq!(lamp.class::<GadgetClass>().unwrap().model, "ultra-lamp"));
        }
    });
}
