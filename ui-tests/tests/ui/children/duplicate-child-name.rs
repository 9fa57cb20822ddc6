use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Core {
    parent: ParentField<Object>,
}
impl ObjectImpl for Core {}

#[derive(QomObject)]
pub struct Controller {
    parent: ParentField<Object>,
    #[child(embedded)]
    core: Core,
    // Renamed onto the other child's name.
    #[child(owned, name = "core")]
    spare: Owned<Core>,
}
impl ObjectImpl for Controller {}

fn main() {}
