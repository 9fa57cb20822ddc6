// The fix for `type-info-by-hand`: type information comes from the
// derive, which reads it off the struct.
use qom_rt::prelude::*;

#[derive(QomObject)]
#[qom(name = "real")]
pub struct Real {
    parent: ParentField<Object>,
}
impl ObjectImpl for Real {}

fn main() {
    let info = qom_rt::type_by_name("real").unwrap();
    assert_eq!(info.name(), "real");
    assert_eq!(info.parent().map(|p| p.name()), Some("object"));
}
