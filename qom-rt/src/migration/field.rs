//! [`MigrateField`]: how a `#[migrate]` field of an object is saved and
//! restored. Objects are shared between threads, so a field is restored
//! through `&self`: the value lives in a cell (a lock, an atomic, a
//! `Prop`), and this trait is implemented for the cells.

use super::value::{Value, VmState};
use crate::property::Prop;
use std::sync::atomic::{self, Ordering};
use std::sync::{Mutex, RwLock};

/// A field type that `#[migrate]` accepts on an object: a cell holding a
/// [`VmState`] value. Implemented for `Mutex<T>`, `RwLock<T>`, `Prop<T>`
/// and the atomics; implement it for a type of yours that wraps its state
/// (a register file behind a lock), naming the state as `Value`.
///
/// ```
/// use qom_rt::migration::{MigrateField, Value, VmState};
/// use std::sync::Mutex;
///
/// #[derive(VmState, Clone, Default)]
/// pub struct Registers { control: u32 }
///
/// /// A register file and a callback that is not state.
/// pub struct Uart { regs: Mutex<Registers>, backend: Mutex<Option<fn(u8)>> }
///
/// impl MigrateField for Uart {
///     type Value = Registers;
///     fn save(&self) -> Value {
///         self.regs.lock().unwrap().to_value()
///     }
///     fn restore(&self, value: Registers) {
///         *self.regs.lock().unwrap() = value;
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a migrated field of a QOM object",
    label = "not restorable through `&self`",
    note = "objects are shared, so a migrated field is restored through `&self`: hold the value in an atomic (`AtomicU32`, ...), a `Mutex<T>`, an `RwLock<T>` or a `Prop<T>`, where `T: VmState`; for a type of yours that wraps its state, implement `MigrateField`",
    note = "a pointer (`AtomicPtr`) or a closure (`Box<dyn Fn>`) is not state: migrate what the pointer stands for (a guest address, an index) and leave closures without `#[migrate]`; the destination connects its own"
)]
pub trait MigrateField {
    /// The value the stream carries for the field.
    type Value: VmState;

    /// The field's current value, as the stream carries it (the same
    /// shape as `Self::Value::to_value`).
    fn save(&self) -> Value;

    /// Refuses a decoded value that this field cannot take, before
    /// anything is applied (a PCI function refuses another function's
    /// configuration space). The default takes every value.
    fn check(&self, incoming: &Self::Value) -> Result<(), String> {
        let _ = incoming;
        Ok(())
    }

    /// Replaces the field's value. Runs only once every section of the
    /// stream has been decoded and checked, so it cannot fail.
    fn restore(&self, value: Self::Value);
}

// Locks recover from poisoning, as the device models' own accessors do:
// a panic elsewhere must not make the state unsavable.

impl<T: VmState> MigrateField for Mutex<T> {
    type Value = T;

    fn save(&self) -> Value {
        self.lock().unwrap_or_else(|e| e.into_inner()).to_value()
    }

    fn restore(&self, value: T) {
        *self.lock().unwrap_or_else(|e| e.into_inner()) = value;
    }
}

impl<T: VmState> MigrateField for RwLock<T> {
    type Value = T;

    fn save(&self) -> Value {
        self.read().unwrap_or_else(|e| e.into_inner()).to_value()
    }

    fn restore(&self, value: T) {
        *self.write().unwrap_or_else(|e| e.into_inner()) = value;
    }
}

impl<T: VmState + Clone> MigrateField for Prop<T> {
    type Value = T;

    fn save(&self) -> Value {
        self.get().to_value()
    }

    fn restore(&self, value: T) {
        self.set(value);
    }
}

macro_rules! atomics {
    ($($atomic:ident => $value:ty),* $(,)?) => {$(
        impl MigrateField for atomic::$atomic {
            type Value = $value;

            // Acquire/Release: a value saved was published by its last
            // store, and a restored one is published to the next load.
            // Migration runs with the machine stopped, so nothing races
            // with it; the pairing only keeps the reasoning local.
            fn save(&self) -> Value {
                self.load(Ordering::Acquire).to_value()
            }

            fn restore(&self, value: $value) {
                self.store(value, Ordering::Release);
            }
        }
    )*};
}

atomics! {
    AtomicBool => bool, AtomicU8 => u8, AtomicU16 => u16, AtomicU32 => u32,
    AtomicU64 => u64, AtomicUsize => usize, AtomicI8 => i8, AtomicI16 => i16,
    AtomicI32 => i32, AtomicI64 => i64,
}
