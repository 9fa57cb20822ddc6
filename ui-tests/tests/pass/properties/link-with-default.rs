// The fix for `link-with-default`: a link starts unset; set it once the
// target exists.
use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Dma {
    parent: ParentField<Object>,
}
impl ObjectImpl for Dma {}

#[derive(QomObject)]
pub struct Disk {
    parent: ParentField<Object>,
    #[property]
    dma: Link<Dma>,
}
impl ObjectImpl for Disk {}

fn main() {
    let dma = Owned::<Dma>::new();
    let disk = Owned::<Disk>::new();
    assert!(disk.dma.get().is_none());
    disk.dma.set(&*dma);
    assert!(Owned::ptr_eq(&disk.dma.get().unwrap(), &dma));
}
