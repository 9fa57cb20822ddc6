use qom_rt::prelude::*;
use ui_tests::shapes::{Shape, ShapeClass, ShapeImpl};

#[derive(QomObject)]
pub struct Square {
    parent: ParentField<Shape>,
}
impl ObjectImpl for Square {}

impl ShapeImpl for Square {
    const SIDES: u32 = 4;
    // `area` has no default body: every shape must say how big it is.
}

fn main() {
    let square = Owned::<Square>::new();
    let shape: &Shape = square.upcast();
    assert_eq!(shape.area(), 0);
    assert_eq!(shape.class::<ShapeClass>().unwrap().sides, 4);
}
