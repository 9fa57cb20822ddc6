use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Dma {
    parent: ParentField<Object>,
}
impl ObjectImpl for Dma {}

#[derive(QomObject)]
pub struct Disk {
    parent: ParentField<Object>,
    #[property(default = Owned::<Dma>::new())]
    dma: Link<Dma>,
}
impl ObjectImpl for Disk {}

fn main() {}
