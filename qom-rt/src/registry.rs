//! The type registry: every derived type submits its `TypeInfo` with
//! `inventory`; the first lookup builds a name -> type hash map, hashed
//! with [`NameHash`].

use crate::error::Error;
use crate::kernel::object::Object;
use crate::kernel::owned::Owned;
use crate::kernel::type_info::TypeInfo;
use std::collections::HashMap;
use std::sync::OnceLock;

/// One registered type (submitted by the derive through `inventory`).
#[doc(hidden)]
pub struct Registration(pub &'static TypeInfo);

inventory::collect!(Registration);

// The root type registers here, with every other: the kernel defines it
// but does not know the registry.
inventory::submit! { Registration(&crate::kernel::object::OBJECT_TYPE_INFO) }

struct Registry {
    by_name: HashMap<&'static str, &'static TypeInfo, NameHash>,
    /// Names defined by more than one Rust type, with every definition.
    duplicates: HashMap<&'static str, Vec<&'static TypeInfo>>,
    sorted: Vec<&'static TypeInfo>,
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut by_name = HashMap::default();
        let mut duplicates: HashMap<&'static str, Vec<&'static TypeInfo>> = HashMap::new();
        for Registration(info) in inventory::iter::<Registration> {
            if let Some(first) = by_name.insert(info.name, *info) {
                duplicates
                    .entry(info.name)
                    .or_insert_with(|| vec![first])
                    .push(info);
            }
        }
        let mut sorted: Vec<_> = by_name.values().copied().collect();
        sorted.sort_by_key(|t| t.name);
        Registry {
            by_name,
            duplicates,
            sorted,
        }
    })
}

/// Hashes type names for the registry: eight bytes at a time, one
/// multiply each (FxHash's scheme), where SipHash, the default, took most
/// of a `new_by_name`. SipHash's keys defend a table that grows from
/// untrusted input against collisions; this one is built once from the
/// registered names, and a name looked up (a `-device` argument) only
/// reads it, so a chosen collision costs one longer probe, no more.
#[derive(Default, Clone, Copy)]
struct NameHash;

impl std::hash::BuildHasher for NameHash {
    type Hasher = NameHasher;
    fn build_hasher(&self) -> NameHasher {
        NameHasher(0)
    }
}

/// See [`NameHash`].
struct NameHasher(u64);

impl NameHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl std::hash::Hasher for NameHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut le = [0; 8];
            le.copy_from_slice(word);
            self.add(u64::from_le_bytes(le));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut le = [0; 8];
            le[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(le));
        }
    }

    #[inline]
    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    #[inline]
    fn finish(&self) -> u64 {
        // The multiply leaves its best bits at the top; `HashMap` takes its
        // bucket index from the bottom.
        self.0.rotate_left(26)
    }
}

/// Looks up a registered type by its QOM name (a hash lookup).
///
/// ```
/// let object = qom_rt::type_by_name("object").unwrap();
/// assert!(object.is_abstract());
/// assert!(qom_rt::type_by_name("objcet").is_err());
/// ```
pub fn type_by_name(name: &str) -> Result<&'static TypeInfo, Error> {
    let registry = registry();
    if let Some(defs) = registry.duplicates.get(name) {
        return Err(duplicate_error(name, defs));
    }
    registry
        .by_name
        .get(name)
        .copied()
        .ok_or_else(|| Error::UnknownType {
            name: name.to_string(),
            suggestions: crate::suggest::closest(name, registry.by_name.keys().copied()),
        })
}

/// Creates an object by type name, as `-device TYPE` does.
///
/// ```
/// let err = qom_rt::new_by_name("object").unwrap_err();
/// assert!(err.to_string().contains("abstract"));
/// ```
pub fn new_by_name(name: &str) -> Result<Owned<Object>, Error> {
    let info = type_by_name(name)?;
    match info.instantiate {
        Some(make) => Ok(make()),
        None => Err(Error::AbstractType {
            name: info.name.to_string(),
        }),
    }
}

/// Every registered type, sorted by name.
pub fn types() -> &'static [&'static TypeInfo] {
    &registry().sorted
}

/// Checks that no two Rust types registered the same QOM name; call it at
/// start-up to report the problem before anything is looked up by name.
pub fn check_registry() -> Result<(), Error> {
    let registry = registry();
    let mut names: Vec<_> = registry.duplicates.keys().copied().collect();
    names.sort_unstable();
    match names.first() {
        Some(name) => Err(duplicate_error(name, &registry.duplicates[name])),
        None => Ok(()),
    }
}

fn duplicate_error(name: &str, defs: &[&'static TypeInfo]) -> Error {
    Error::DuplicateType {
        name: name.to_string(),
        rust_types: defs.iter().map(|t| t.rust_name.to_string()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_type_is_found_by_its_name() {
        assert!(types().len() >= 2, "at least `object` and `container`");
        for info in types() {
            assert!(core::ptr::eq(type_by_name(info.name()).unwrap(), *info));
        }
        let err = type_by_name("containr").unwrap_err();
        assert!(err.to_string().contains("container"), "{err}");
    }
}
