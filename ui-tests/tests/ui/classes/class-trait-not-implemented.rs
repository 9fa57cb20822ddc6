use qom_rt::prelude::*;
use ui_tests::shapes::{Shape, ShapeClass};

#[derive(QomObject)]
pub struct Square {
    parent: ParentField<Shape>,
}
impl ObjectImpl for Square {}

// No `impl ShapeImpl for Square`: the class table of `Square` cannot be
// filled.

fn main() {
    let square = Owned::<Square>::new();
    let shape: &Shape = square.upcast();
    assert_eq!(shape.area(), 16);
    assert_eq!(shape.class::<ShapeClass>().unwrap().sides, 4);
}
