//! An abstract `Shape` declaring `ShapeClass`: a required method
//! (`area`), an overridable one (`describe`) and a required constant
//! (`SIDES`). The `classes/` cases derive a `Square` from it.

#![allow(missing_docs)]

use qom_rt::prelude::*;
use qom_rt::ClassFor;

/// What every shape provides.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is a shape: implement `ShapeImpl` for it",
    label = "missing `impl ShapeImpl for {Self}`"
)]
pub trait ShapeImpl: ObjectImpl + IsA<Shape> {
    /// Required class constant.
    const SIDES: u32;
    /// Required: no default body.
    fn area(&self) -> u64;
    /// Overridable: the default inherits the parent type's override.
    fn describe(&self) -> String {
        match qom_rt::parent_class::<Self, ShapeClass>() {
            Some(parent) => (parent.describe)(self.upcast()),
            None => "a shape".into(),
        }
    }
}

pub struct ShapeClass {
    area: fn(&Shape) -> u64,
    describe: fn(&Shape) -> String,
    pub sides: u32,
}

impl<T: ShapeImpl> ClassFor<T> for ShapeClass {
    const CLASS: Self = ShapeClass {
        area: |s| s.downcast::<T>().map_or(0, T::area),
        describe: |s| s.downcast::<T>().map(T::describe).unwrap_or_default(),
        sides: T::SIDES,
    };
}

#[derive(QomObject)]
#[qom(name = "ui-shape", abstract, class = ShapeClass)]
pub struct Shape {
    parent: ParentField<Object>,
}
impl ObjectImpl for Shape {}
impl ShapeImpl for Shape {
    const SIDES: u32 = 0;
    fn area(&self) -> u64 {
        0
    }
}

impl Shape {
    /// The most-derived `area`.
    pub fn area(&self) -> u64 {
        let class = self.class::<ShapeClass>().expect("every shape has a class");
        (class.area)(self)
    }
    /// The most-derived `describe`.
    pub fn describe(&self) -> String {
        let class = self.class::<ShapeClass>().expect("every shape has a class");
        (class.describe)(self)
    }
}
