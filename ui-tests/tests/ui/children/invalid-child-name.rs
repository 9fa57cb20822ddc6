use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Core {
    parent: ParentField<Object>,
}
impl ObjectImpl for Core {}

#[derive(QomObject)]
pub struct Controller {
    parent: ParentField<Object>,
    // A path, not a name: `/` separates path components.
    #[child(embedded, name = "usb/core")]
    core: Core,
}
impl ObjectImpl for Controller {}

fn main() {}
