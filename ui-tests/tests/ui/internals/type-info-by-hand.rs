// The derive's hidden constructors are `unsafe`: a hand-built `TypeInfo`
// whose tables do not describe the type would let safe code walk and cast
// by wrong offsets.
use qom_rt::prelude::*;

#[derive(QomObject)]
#[qom(name = "real")]
pub struct Real {
    parent: ParentField<Object>,
}
impl ObjectImpl for Real {}

static FORGED: qom_rt::TypeInfo = qom_rt::TypeInfo::__new::<Real>(qom_rt::__private::TypeDef {
    name: "forged",
    rust_name: "Forged",
    is_abstract: false,
    ancestors: &[],
    children: &[],
    properties: &[],
    instantiate: None,
    classes: &[],
    init_classes: None,
});

fn main() {
    let _ = &FORGED;
}
