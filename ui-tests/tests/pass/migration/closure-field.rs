// The fix for `closure-field`: the backend is not state; the destination
// connects its own.
use qom_rt::migration::MigrationHooks;
use qom_rt::prelude::*;
use std::sync::atomic::AtomicU32;
use std::sync::Mutex;

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
    #[migrate]
    control: AtomicU32,
    backend: Mutex<Option<Box<dyn Fn(u8) + Send + Sync>>>,
}
impl ObjectImpl for Pl011 {}
impl MigrationHooks for Pl011 {}

fn main() {
    let uart = Owned::<Pl011>::new();
    *uart.backend.lock().unwrap() = Some(Box::new(|_| {}));
    let stream = qom_rt::migration::save(&uart).unwrap();
    qom_rt::migration::load(&Owned::<Pl011>::new(), &stream).unwrap();
}
