//! [`MigrationHooks`]: what an object type with migrated state does
//! around a save and after a load (QEMU's `pre_save` and `post_load`).

use crate::kernel::object::ObjectType;

/// The hooks of a type with migrated state. Every type whose derive
/// generates a [`StateDescription`](super::StateDescription) implements
/// it, usually as `impl MigrationHooks for X {}`; the hooks are called for
/// that type's own level, as `ObjectImpl`'s are for its own fields.
///
/// ```
/// use qom_rt::prelude::*;
/// use qom_rt::migration::MigrationHooks;
/// use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
///
/// #[derive(QomObject)]
/// #[qom(name = "doc-hooks-uart")]
/// struct Uart {
///     parent: ParentField<Object>,
///     #[migrate]
///     level: AtomicU32,
///     /// Derived state: recomputed after a load, never migrated.
///     irq: AtomicBool,
/// }
/// impl ObjectImpl for Uart {}
/// impl MigrationHooks for Uart {
///     fn post_load(&self, _version: u32) {
///         self.irq.store(self.level.load(Ordering::Acquire) != 0, Ordering::Release);
///     }
/// }
///
/// let source = Owned::<Uart>::new();
/// source.level.store(3, Ordering::Release);
/// let stream = qom_rt::migration::save(&source)?;
/// let destination = Owned::<Uart>::new();
/// qom_rt::migration::load(&destination, &stream)?;
/// assert!(destination.irq.load(Ordering::Acquire));
/// # Ok::<(), qom_rt::migration::MigrationError>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has migrated state: implement `MigrationHooks` for it",
    label = "missing `impl MigrationHooks for {Self}`",
    note = "write `impl qom_rt::migration::MigrationHooks for {Self} {{}}` to take the defaults (nothing before a save, nothing after a load)"
)]
pub trait MigrationHooks: ObjectType {
    /// Runs just before this level's fields are saved: bring them up to
    /// date from anything derived (QEMU's `pre_save`).
    #[inline]
    fn pre_save(&self) {}

    /// Runs once every section of the stream has been applied, in stream
    /// order (an object's levels ancestors first), with the version this
    /// level was loaded from: 0 if the stream had none (see
    /// `min_version = 0`). Recompute derived state here (interrupt
    /// levels, mappings) and fields an older version did not carry. It
    /// cannot fail: anything a load must refuse is refused before this
    /// runs, by the values' own checks.
    #[inline]
    fn post_load(&self, version: u32) {
        let _ = version;
    }
}
