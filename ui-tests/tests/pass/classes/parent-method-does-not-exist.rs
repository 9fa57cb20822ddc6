use qom_rt::prelude::*;
use ui_tests::shapes::{Shape, ShapeImpl};

#[derive(QomObject)]
pub struct Square {
    parent: ParentField<Shape>,
}
impl ObjectImpl for Square {}

impl ShapeImpl for Square {
    const SIDES: u32 = 4;
    fn area(&self) -> u64 {
        16
    }
    fn describe(&self) -> String {
        // The parent type's implementation of a method the trait declares.
        format!("a square, {}", <Shape as ShapeImpl>::describe(self.upcast()))
    }
}

fn main() {
    let square = Owned::<Square>::new();
    assert_eq!(square.upcast::<Shape>().describe(), "a square, a shape");
}
