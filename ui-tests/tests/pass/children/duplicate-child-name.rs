// The fix for `duplicate-child-name`: each child its own name.
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
    #[child(owned, name = "core-spare")]
    spare: Owned<Core>,
}
impl ObjectImpl for Controller {}

fn main() {
    let c = Owned::<Controller>::new();
    let names: Vec<_> = c.children().into_iter().map(|e| e.name).collect();
    assert_eq!(names, ["core", "core-spare"]);
}
