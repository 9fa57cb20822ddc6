//! Properties: every value type round-trips from strings and typed values;
//! every kind of bad input is refused with an error naming the object,
//! property, value and what was expected, leaving the object unchanged;
//! the property guard refuses changes after "realize".
#![allow(missing_docs)]

use qom_rt::prelude::*;
use qom_rt::{Error, PropertyEnum, PropertyType};
use std::sync::atomic::{AtomicBool, Ordering};

qom_rt::property_enum! {
    /// A FIFO mode.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub enum Mode {
        #[default]
        Off,
        ReadOnly,
        Full = "full-duplex",
    }
}

qom_rt::property_enum! {
    /// An enum without `Default`: its property needs a default.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Parity { Even, Odd }
}

#[derive(QomObject)]
#[qom(name = "prop-all")]
pub struct AllTypes {
    parent: ParentField<Object>,
    #[property(doc = "a switch")]
    pub flag: Prop<bool>,
    #[property(default = 200)]
    pub byte: Prop<u8>,
    #[property(default = 0xffff)]
    pub half: Prop<u16>,
    #[property(default = 4)]
    pub word: Prop<u32>,
    #[property]
    pub quad: Prop<u64>,
    #[property]
    pub native: Prop<usize>,
    #[property(default = -8)]
    pub sbyte: Prop<i8>,
    #[property]
    pub shalf: Prop<i16>,
    #[property]
    pub sword: Prop<i32>,
    #[property]
    pub squad: Prop<i64>,
    #[property]
    pub snative: Prop<isize>,
    #[property(default = "hello", doc = "a label")]
    pub label: Prop<String>,
    #[property(default = Size::mib(16))]
    pub ram_size: Prop<Size>,
    #[property]
    pub mode: Prop<Mode>,
    #[property(default = Parity::Odd)]
    pub parity: Prop<Parity>,
    #[property(name = "renamed-thing", default = 7)]
    pub thing: Prop<u32>,
}
impl ObjectImpl for AllTypes {}

/// Inherits every property of `AllTypes` and adds one.
#[derive(QomObject)]
#[qom(name = "prop-derived")]
pub struct Derived {
    parent: ParentField<AllTypes>,
    #[property(default = true)]
    pub extra: Prop<bool>,
}
impl ObjectImpl for Derived {}

/// A device-like object whose properties lock at "realize".
#[derive(QomObject)]
#[qom(name = "prop-guarded", interfaces(PropertyGuard))]
pub struct Guarded {
    parent: ParentField<Object>,
    pub realized: AtomicBool,
    #[property(default = 9600)]
    pub speed: Prop<u32>,
    #[property]
    pub peer: Link<AllTypes>,
}
impl ObjectImpl for Guarded {}
impl PropertyGuard for Guarded {
    fn check_set(&self, _property: &str) -> Result<(), String> {
        if self.realized.load(Ordering::Acquire) {
            Err("the device is realized; properties are settable only before realize".into())
        } else {
            Ok(())
        }
    }
}

/// An object placed at `/{top}/dev`, so errors name its path.
fn placed<T: Instantiable>(top: &str) -> Owned<T> {
    let object = Owned::<T>::new();
    qom_rt::container(&format!("/{top}"))
        .unwrap()
        .add_child("dev", object.clone())
        .unwrap();
    object
}

#[test]
fn defaults_come_from_the_attribute_or_default() {
    let o = Owned::<AllTypes>::new();
    assert!(!o.flag.get());
    assert_eq!(o.byte.get(), 200);
    assert_eq!(o.half.get(), 0xffff);
    assert_eq!(o.word.get(), 4);
    assert_eq!(o.sbyte.get(), -8);
    assert_eq!(o.label.get(), "hello");
    assert_eq!(o.ram_size.get(), Size(16 << 20));
    assert_eq!(o.mode.get(), Mode::Off);
    assert_eq!(o.parity.get(), Parity::Odd);
    assert_eq!(o.thing.get(), 7);
    assert_eq!(o.get_property("ram-size").unwrap(), "16M");
    assert_eq!(o.get_property("mode").unwrap(), "off");
}

#[test]
fn every_type_round_trips_through_strings() {
    let o = Owned::<AllTypes>::new();
    // (property, input, printed form)
    let cases: &[(&str, &str, &str)] = &[
        ("flag", "on", "on"),
        ("flag", "off", "off"),
        ("flag", "true", "on"),
        ("flag", "no", "off"),
        ("flag", "yes", "on"),
        ("flag", "false", "off"),
        ("byte", "0", "0"),
        ("byte", "255", "255"),
        ("byte", "0xff", "255"),
        ("half", "65535", "65535"),
        ("half", "0X10", "16"),
        ("word", "4294967295", "4294967295"),
        ("word", "0xdeadbeef", "3735928559"),
        ("quad", "18446744073709551615", "18446744073709551615"),
        ("quad", "0xffffffffffffffff", "18446744073709551615"),
        ("native", "12345", "12345"),
        ("sbyte", "-128", "-128"),
        ("sbyte", "127", "127"),
        ("sbyte", "-0x80", "-128"),
        ("shalf", "-32768", "-32768"),
        ("sword", "-2147483648", "-2147483648"),
        ("squad", "-9223372036854775808", "-9223372036854775808"),
        ("squad", "9223372036854775807", "9223372036854775807"),
        ("snative", "-5", "-5"),
        ("label", "", ""),
        (
            "label",
            "with spaces, commas = and ünïcode",
            "with spaces, commas = and ünïcode",
        ),
        ("ram-size", "512", "512"),
        ("ram-size", "64k", "64K"),
        ("ram-size", "1.5G", "1536M"),
        ("ram-size", "0x1000", "4K"),
        ("ram-size", "2T", "2T"),
        ("mode", "read-only", "read-only"),
        ("mode", "full-duplex", "full-duplex"),
        ("parity", "even", "even"),
        ("renamed-thing", "9", "9"),
    ];
    for (name, input, printed) in cases {
        o.set_property(name, input)
            .unwrap_or_else(|e| panic!("{name}={input}: {e}"));
        assert_eq!(o.get_property(name).unwrap(), *printed, "{name}={input}");
        // What was printed reads back to the same value.
        o.set_property(name, printed).unwrap();
        assert_eq!(o.get_property(name).unwrap(), *printed, "{name}={printed}");
    }
    assert_eq!(o.mode.get(), Mode::Full, "the last mode set");
    assert_eq!(o.thing.get(), 9);
}

#[test]
fn every_type_round_trips_typed() {
    fn round_trip<V: PartialEq + core::fmt::Debug + Clone + 'static>(
        o: &AllTypes,
        name: &str,
        value: V,
    ) {
        o.set_property_typed(name, value.clone())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(o.get_property_typed::<V>(name).unwrap(), value, "{name}");
    }
    let o = Owned::<AllTypes>::new();
    round_trip(&o, "flag", true);
    round_trip(&o, "byte", u8::MAX);
    round_trip(&o, "half", u16::MAX);
    round_trip(&o, "word", u32::MAX);
    round_trip(&o, "quad", u64::MAX);
    round_trip(&o, "native", usize::MAX);
    round_trip(&o, "sbyte", i8::MIN);
    round_trip(&o, "shalf", i16::MIN);
    round_trip(&o, "sword", i32::MIN);
    round_trip(&o, "squad", i64::MIN);
    round_trip(&o, "snative", isize::MIN);
    round_trip(&o, "label", String::from("typed"));
    round_trip(&o, "ram-size", Size::gib(3));
    round_trip(&o, "mode", Mode::Full);
    round_trip(&o, "parity", Parity::Even);
    round_trip(&o, "renamed-thing", 11u32);
    // The fields saw the typed writes.
    assert_eq!(o.word.get(), u32::MAX);
    assert_eq!(o.mode.get(), Mode::Full);
    assert_eq!(o.get_property("mode").unwrap(), "full-duplex");
    assert_eq!(o.get_property("ram-size").unwrap(), "3G");
}

#[test]
fn properties_are_inherited_and_listed_parent_first() {
    let d = Owned::<Derived>::new();
    let names: Vec<_> = d.properties().iter().map(|p| p.name()).collect();
    assert_eq!(names.first(), Some(&"flag"));
    assert_eq!(names.last(), Some(&"extra"));
    assert_eq!(names.len(), 17);
    // Inherited ones are settable on the subtype.
    d.set_property("word", "99").unwrap();
    assert_eq!(d.word.get(), 99);
    d.set_property("extra", "off").unwrap();
    assert!(!d.extra.get());

    let info = qom_rt::type_by_name("prop-all").unwrap().own_properties();
    let by_name = |n: &str| info.iter().find(|p| p.name() == n).unwrap();
    assert_eq!(by_name("flag").type_name(), "bool");
    assert_eq!(by_name("flag").doc(), "a switch");
    assert_eq!(by_name("byte").type_name(), "uint8");
    assert_eq!(by_name("shalf").type_name(), "int16");
    assert_eq!(by_name("label").type_name(), "string");
    assert_eq!(by_name("label").default_text(), "hello");
    assert_eq!(by_name("ram-size").type_name(), "size");
    assert_eq!(by_name("ram-size").default_text(), "Size::mib(16)");
    assert_eq!(by_name("sbyte").default_text(), "-8");
    assert_eq!(by_name("mode").type_name(), "Mode");
    assert_eq!(by_name("mode").rust_type(), core::any::type_name::<Mode>());
    assert_eq!(by_name("parity").default_text(), "Parity::Odd");
    assert_eq!(Mode::VARIANTS, ["off", "read-only", "full-duplex"]);
    assert_eq!(Mode::TYPE_NAME, "Mode");
    // The object's type is a read-only property.
    assert_eq!(d.get_property("type").unwrap(), "prop-derived");
}

/// Checks an `InvalidValue` error's fields, message, and that nothing
/// changed.
fn assert_rejected(o: &AllTypes, path: &str, name: &str, value: &str, expected_contains: &str) {
    let before = o.get_property(name).unwrap();
    let err = o.set_property(name, value).unwrap_err();
    match &err {
        Error::InvalidValue {
            object,
            property,
            value: v,
            expected,
        } => {
            assert_eq!(object, path);
            assert_eq!(property, name);
            assert_eq!(v, value);
            assert!(
                expected.contains(expected_contains),
                "{name}={value}: expected {expected:?} to mention {expected_contains:?}"
            );
        }
        other => panic!("{name}={value}: {other:?}"),
    }
    let message = err.to_string();
    for part in [path, name, value] {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
    assert_eq!(o.get_property(name).unwrap(), before, "{name} changed");
}

#[test]
fn bad_values_are_refused_and_leave_the_object_unchanged() {
    let o = placed::<AllTypes>("p-bad");
    let path = "/p-bad/dev";
    // Out of range, per width.
    assert_rejected(&o, path, "byte", "256", "between 0 and 255");
    assert_rejected(&o, path, "byte", "-1", "between 0 and 255");
    assert_rejected(&o, path, "byte", "0x100", "between 0 and 255");
    assert_rejected(&o, path, "sbyte", "128", "between -128 and 127");
    assert_rejected(&o, path, "sbyte", "-129", "between -128 and 127");
    assert_rejected(&o, path, "half", "65536", "between 0 and 65535");
    assert_rejected(&o, path, "word", "4294967296", "between 0 and 4294967295");
    assert_rejected(
        &o,
        path,
        "quad",
        "18446744073709551616",
        "18446744073709551615",
    );
    assert_rejected(&o, path, "quad", "-1", "between 0 and");
    assert_rejected(
        &o,
        path,
        "squad",
        "9223372036854775808",
        "9223372036854775807",
    );
    // Not a number.
    for bad in [
        "abc", "12abc", "1.5", "0x", "0xg", "1e3", "--1", "0x-1", " ",
    ] {
        assert_rejected(&o, path, "word", bad, "an integer");
    }
    // Empty strings for numbers, sizes and enums.
    assert_rejected(&o, path, "word", "", "an integer between 0 and 4294967295");
    assert_rejected(&o, path, "ram-size", "", "a size in bytes");
    assert_rejected(
        &o,
        path,
        "mode",
        "",
        "one of `off`, `read-only`, `full-duplex`",
    );
    // Unknown enum variants list the choices (exact match, like QAPI).
    assert_rejected(
        &o,
        path,
        "mode",
        "on",
        "one of `off`, `read-only`, `full-duplex`",
    );
    assert_rejected(&o, path, "mode", "Read-Only", "one of `off`, `read-only`");
    assert_rejected(&o, path, "parity", "none", "one of `even`, `odd`");
    // Sizes.
    for bad in ["4X", "-1", "1.", "0x10K", "16E", "0.1K", "1 K", "K"] {
        assert_rejected(&o, path, "ram-size", bad, "a size in bytes");
    }
    // Booleans.
    assert_rejected(
        &o,
        path,
        "flag",
        "maybe",
        "one of on, off, true, false, yes, no",
    );
    assert_rejected(&o, path, "flag", "", "one of on, off");
    assert_rejected(&o, path, "flag", "ON", "one of on, off");
    o.unparent();
}

#[test]
fn unknown_properties_suggest_the_closest_names() {
    let o = placed::<AllTypes>("p-unknown");
    for (wrong, suggested) in [
        ("wrod", "word"),
        ("ram_size", "ram-size"),
        ("lable", "label"),
    ] {
        match o.set_property(wrong, "1") {
            Err(Error::UnknownProperty {
                object,
                property,
                suggestions,
            }) => {
                assert_eq!(object, "/p-unknown/dev");
                assert_eq!(property, wrong);
                assert!(
                    suggestions.contains(&suggested.to_string()),
                    "{suggestions:?}"
                );
            }
            other => panic!("{wrong}: {other:?}"),
        }
        assert!(matches!(
            o.get_property(wrong),
            Err(Error::UnknownProperty { .. })
        ));
        assert!(matches!(
            o.set_property_typed(wrong, 1u32),
            Err(Error::UnknownProperty { .. })
        ));
    }
    let err = o.set_property("zzzzzzzz", "1").unwrap_err().to_string();
    assert_eq!(err, "`/p-unknown/dev` has no property `zzzzzzzz`");
    // `type` is read-only.
    assert!(matches!(
        o.set_property("type", "other"),
        Err(Error::PropertyLocked { .. })
    ));
    // A detached object is named by its type.
    let lone = Owned::<AllTypes>::new();
    let err = lone.set_property("wrod", "1").unwrap_err().to_string();
    assert!(
        err.starts_with("`<detached prop-all>` has no property `wrod`"),
        "{err}"
    );
    o.unparent();
}

#[test]
fn typed_access_checks_the_type() {
    let o = placed::<AllTypes>("p-typed");
    // An unsuffixed literal is an `i32`: refused, naming both types.
    match o.set_property_typed("word", 8) {
        Err(Error::InvalidValue {
            object,
            property,
            value,
            expected,
        }) => {
            assert_eq!(object, "/p-typed/dev");
            assert_eq!(property, "word");
            assert_eq!(value, "a value of type `i32`");
            assert_eq!(expected, "a `u32` (the property is a uint32)");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(o.word.get(), 4, "unchanged");
    assert!(o.get_property_typed::<u64>("word").is_err());
    assert!(o.get_property_typed::<String>("mode").is_err());
    assert!(o
        .set_property_typed("label", "a &str, not a String")
        .is_err());
    assert!(o.set_property_typed("ram-size", 4096u64).is_err());
    assert_eq!(o.label.get(), "hello");
    assert_eq!(o.ram_size.get(), Size::mib(16));
    o.unparent();
}

#[test]
fn the_guard_refuses_changes_after_realize() {
    let target = placed::<AllTypes>("p-guard-target");
    let dev = placed::<Guarded>("p-guard");
    // Before realize: every kind of set works.
    dev.set_property("speed", "115200").unwrap();
    dev.set_property_typed("speed", 57_600u32).unwrap();
    dev.set_property("peer", "/p-guard-target/dev").unwrap();
    dev.set_property_typed("peer", None::<Owned<AllTypes>>)
        .unwrap();
    assert!(dev.peer.get().is_none());

    dev.realized.store(true, Ordering::Release);
    type Attempt<'a> = Box<dyn Fn() -> qom_rt::Result<()> + 'a>;
    let attempts: [(&str, Attempt); 4] = [
        ("speed", Box::new(|| dev.set_property("speed", "300"))),
        (
            "speed",
            Box::new(|| dev.set_property_typed("speed", 300u32)),
        ),
        (
            "peer",
            Box::new(|| dev.set_property("peer", "/p-guard-target/dev")),
        ),
        (
            "peer",
            Box::new(|| dev.set_property_typed("peer", Some(target.clone()))),
        ),
    ];
    for (name, attempt) in attempts {
        match attempt() {
            Err(Error::PropertyLocked {
                object,
                property,
                reason,
            }) => {
                assert_eq!(object, "/p-guard/dev");
                assert_eq!(property, name);
                assert!(reason.contains("only before realize"), "{reason}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    let message = dev.set_property("speed", "1").unwrap_err().to_string();
    assert_eq!(
        message,
        "`/p-guard/dev`: property `speed` cannot be set: the device is realized; \
         properties are settable only before realize"
    );
    assert_eq!(dev.speed.get(), 57_600, "unchanged");
    assert!(dev.peer.get().is_none(), "unchanged");
    // Reading is not guarded; an unknown name is still reported as such.
    assert_eq!(dev.get_property("speed").unwrap(), "57600");
    assert!(matches!(
        dev.set_property("sped", "1"),
        Err(Error::UnknownProperty { .. })
    ));
    dev.unparent();
    target.unparent();
}

#[test]
fn properties_are_set_and_read_from_several_threads() {
    let o = Owned::<AllTypes>::new();
    std::thread::scope(|s| {
        for t in 0..2u32 {
            let o = &o;
            s.spawn(move || {
                for i in 0..10u32 {
                    o.set_property("word", &(t * 100 + i).to_string()).unwrap();
                    let v: u32 = o.get_property("word").unwrap().parse().unwrap();
                    assert!(v < 200);
                    o.set_property_typed("label", format!("thread {t}"))
                        .unwrap();
                }
            });
        }
    });
    assert!(o.label.get().starts_with("thread "));
}

mod computed {
    use qom_rt::prelude::*;
    use qom_rt::{ComputedProperties, ComputedProperty, Error};

    /// A base with one computed property; its subtype keeps it and adds
    /// one of its own, and a computed name taken by a field is hidden.
    #[derive(QomObject)]
    #[qom(name = "computed-base", interfaces(ComputedProperties))]
    struct Base {
        parent: ParentField<Object>,
        #[property(default = 2)]
        width: Prop<u8>,
    }
    impl ObjectImpl for Base {}
    impl ComputedProperties for Base {
        fn computed_properties(&self) -> Vec<ComputedProperty> {
            vec![
                ComputedProperty::new("bits", "width in bits", u32::from(self.width.get()) * 8),
                // Hidden by the field of that name.
                ComputedProperty::new("width", "", false),
            ]
        }
    }

    #[derive(QomObject)]
    #[qom(name = "computed-sub", interfaces(ComputedProperties))]
    struct Sub {
        parent: ParentField<Base>,
    }
    impl ObjectImpl for Sub {}
    impl ComputedProperties for Sub {
        fn computed_properties(&self) -> Vec<ComputedProperty> {
            let mut all = self.parent.computed_properties();
            let bus = format!("{}/bus", self.canonical_path().unwrap_or_default());
            all.push(ComputedProperty::with_type(
                "parent_bus",
                "link<bus>",
                "",
                bus,
            ));
            all
        }
    }

    #[test]
    fn computed_properties_read_list_and_refuse_sets() {
        let s = Owned::<Sub>::new();
        qom_rt::container("/computed-props")
            .unwrap()
            .add_child("s", s.clone())
            .unwrap();
        s.parent.width.set(4);
        assert_eq!(s.get_property("bits").unwrap(), "32");
        assert_eq!(
            s.get_property("width").unwrap(),
            "4",
            "the field hides the computed one"
        );
        assert_eq!(
            s.get_property("parent_bus").unwrap(),
            "/computed-props/s/bus"
        );
        let list: Vec<_> = qom_rt::list_object(&*s)
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            list,
            [
                "type (string)",
                "width (uint8)",
                "bits (uint32)",
                "parent_bus (link<bus>)"
            ]
        );
        for (name, value) in [("bits", "8"), ("parent_bus", "/")] {
            let err = s.set_property(name, value).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("`/computed-props/s`: property `{name}` is read-only")
            );
        }
        assert!(matches!(
            s.set_property_typed("bits", 8u32),
            Err(Error::ReadOnlyProperty { .. })
        ));
        let typed = s.get_property_typed::<u32>("bits").unwrap_err();
        assert!(
            typed
                .to_string()
                .contains("the property is computed (a uint32)"),
            "{typed}"
        );
        let unknown = s.get_property("bitz").unwrap_err();
        assert!(
            unknown.to_string().contains("did you mean `bits`"),
            "{unknown}"
        );
        assert_eq!(
            s.get_property("bits").unwrap(),
            "32",
            "unchanged by the refused sets"
        );
        s.unparent();
    }
}
