//! Property strings: any input either sets the property (and then reads
//! back as a value that parses to itself) or is refused leaving the
//! object unchanged. Never a panic. Each input sets a new object's
//! property, so inputs are independent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qom_rt::prelude::*;

#[derive(QomObject)]
#[qom(name = "fuzz-props")]
struct Props {
    parent: ParentField<Object>,
    #[property]
    a_u8: Prop<u8>,
    #[property]
    a_u16: Prop<u16>,
    #[property]
    a_u32: Prop<u32>,
    #[property]
    a_u64: Prop<u64>,
    #[property]
    a_i8: Prop<i8>,
    #[property]
    a_i64: Prop<i64>,
    #[property]
    a_bool: Prop<bool>,
    #[property]
    a_str: Prop<String>,
}
impl ObjectImpl for Props {}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (name, value) = text.split_once('=').unwrap_or(("a-u32", text));
    let object = Owned::<Props>::new();
    let before: Vec<_> = object.properties().iter().map(|p| object.get_property(p.name()).unwrap()).collect();
    match object.set_property(name, value) {
        Ok(()) => {
            let shown = object.get_property(name).unwrap();
            object.set_property(name, &shown).expect("a value read back parses");
            assert_eq!(object.get_property(name).unwrap(), shown);
        }
        Err(_) => {
            let after: Vec<_> = object.properties().iter().map(|p| object.get_property(p.name()).unwrap()).collect();
            assert_eq!(before, after, "a refused set changed something");
        }
    }
});
