//! The deterministic virtual clock: time advances only when the machine
//! (or a test) says so, like qtest's `clock_step`.

use qom_rt::prelude::*;

/// A device driven by the virtual clock (an interface devices list with
/// `#[qom(interfaces(Clocked))]`).
#[qom_rt::interface]
pub trait Clocked {
    /// Virtual time moved forward by `ns` nanoseconds.
    fn advance(&self, ns: u64);
}

/// Advances every clocked device under `root` (the tree below that path,
/// children first in tree order) by `ns` nanoseconds.
pub fn clock_step(root: &str, ns: u64) -> crate::Result<usize> {
    let top = qom_rt::resolve_path(root)?;
    let mut count = 0;
    visit(&top, &mut |object| {
        if let Some(clocked) = object.interface::<dyn Clocked>() {
            clocked.advance(ns);
            count += 1;
        }
    });
    Ok(count)
}

/// Calls `f` on `object` and every object below it in the composition
/// tree, parents before children.
pub fn visit(object: &Object, f: &mut dyn FnMut(&Object)) {
    f(object);
    for child in object.children() {
        if let Ok(child) = object.resolve(&child.name) {
            visit(&child, f);
        }
    }
}
