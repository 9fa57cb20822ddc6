// The fix for `parent-field-impostor`: the parent field is the runtime's
// own `ParentField` (from the prelude), which embeds the parent in place.
use qom_rt::prelude::*;
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(QomObject)]
#[qom(name = "impostor")]
pub struct Impostor {
    parent: ParentField<Object>,
    data: AtomicU32,
}
impl ObjectImpl for Impostor {}

fn main() {
    let object = Owned::<Impostor>::new();
    assert_eq!(object.data.load(Ordering::Relaxed), 0);
    assert_eq!(object.type_name(), "impostor");
}
