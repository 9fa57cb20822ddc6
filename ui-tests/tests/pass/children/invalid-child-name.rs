// The fix for `invalid-child-name`: one path component, named apart from
// the field.
use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Core {
    parent: ParentField<Object>,
}
impl ObjectImpl for Core {}

#[derive(QomObject)]
pub struct Controller {
    parent: ParentField<Object>,
    #[child(embedded, name = "usb-core")]
    core: Core,
    #[child(owned, name = "spare-core")]
    spare: Owned<Core>,
}
impl ObjectImpl for Controller {}

fn main() {
    let c = Owned::<Controller>::new();
    let names: Vec<_> = c.children().into_iter().map(|e| e.name).collect();
    assert_eq!(names, ["usb-core", "spare-core"]);
    let core = c.resolve("usb-core").unwrap();
    assert!(core.downcast::<Core>().is_some());
    assert!(c.resolve("core").is_err(), "the field name is not the child's");
    assert!(Owned::ptr_eq(&c.resolve("spare-core").unwrap(), &Owned::from(c.spare.as_object())));
}
