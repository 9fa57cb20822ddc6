use qom_rt::prelude::*;
use ui_tests::shapes::{Shape, ShapeClass, ShapeImpl};

#[derive(QomObject)]
pub struct Square {
    parent: ParentField<Shape>,
}
impl ObjectImpl for Square {}

impl ShapeImpl for Square {
    // `SIDES` has no default: every shape must declare it.
    fn area(&self) -> u64 {
        16
    }
}

fn main() {
    let square = Owned::<Square>::new();
    let shape: &Shape = square.upcast();
    assert_eq!(shape.area(), 16);
    assert_eq!(shape.class::<ShapeClass>().unwrap().sides, 4);
}
