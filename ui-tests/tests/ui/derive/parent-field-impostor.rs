use qom_rt::prelude::*;
use std::sync::atomic::AtomicU32;

// A type of one's own spelt `ParentField`: the derive must not trust the
// name, since the runtime reads the object header through this field.
type ParentField<P> = Box<P>;

#[derive(QomObject)]
#[qom(name = "impostor")]
pub struct Impostor {
    parent: ParentField<Object>,
    data: AtomicU32,
}
impl ObjectImpl for Impostor {}

fn main() {}
