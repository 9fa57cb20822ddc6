//! `qom-list`: everything an object exposes by name — its type, children,
//! links and properties — with types, values and docs.

use crate::error::Result;
use crate::kernel::object::{Object, ObjectType};
use crate::kernel::owned::Owned;
use crate::property::field_ptr;
use crate::tree::{ChildEntryKind, ObjectTree};

/// One entry of [`qom_list`]: printed `name (type)` as HMP's `qom-list`.
///
/// ```
/// let c = qom_rt::container("/doc-listing/a").unwrap();
/// let list = qom_rt::qom_list("/doc-listing").unwrap();
/// assert_eq!(list[0].to_string(), "type (string)");
/// assert_eq!(list[1].to_string(), "a (child<container>)");
/// assert_eq!(list[1].kind, qom_rt::ListingKind::Child(qom_rt::ChildEntryKind::Dynamic));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyListing {
    /// The name (`num-ports`, `xhci`, `msix_bars[1]`, `dma`).
    pub name: String,
    /// The type as `qom-list` prints it: `child<T>`, `link<T>`, or the
    /// value type (`uint32`, `bool`, `string`, `size`, an enum's name).
    pub type_name: String,
    /// What the entry is.
    pub kind: ListingKind,
    /// The value as `qom-get` prints it (a link's target path, empty when
    /// unset); `None` for children.
    pub value: Option<String>,
    /// The property's documentation (empty for children and `type`).
    pub doc: &'static str,
}

/// What a [`PropertyListing`] describes.
///
/// ```
/// use qom_rt::{ChildEntryKind, ListingKind};
/// assert_ne!(ListingKind::Child(ChildEntryKind::Owned), ListingKind::Link);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListingKind {
    /// The read-only `type` property every object has.
    Type,
    /// A child in the composition tree, and how it is held.
    Child(ChildEntryKind),
    /// A link property (`Link<T>`).
    Link,
    /// A value property (`Prop<T>`).
    Value,
    /// A read-only computed property
    /// ([`ComputedProperties`](crate::ComputedProperties)).
    Computed,
}

impl core::fmt::Display for PropertyListing {
    /// `name (type)`, one `qom-list` line without the newline.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} ({})", self.name, self.type_name)
    }
}

/// Lists the object at `path` (absolute or a unique partial path) as
/// QEMU's `qom-list` does: `type`, then its children (declared ones in
/// declaration order, then dynamic ones by name), then its links and
/// properties (parent types' first, each in declaration order), then its
/// computed properties ([`ComputedProperties`](crate::ComputedProperties)).
///
/// ```
/// use qom_rt::prelude::*;
///
/// #[derive(QomObject)]
/// #[qom(name = "doc-qom-list")]
/// struct Timer {
///     parent: ParentField<Object>,
///     #[property(default = 1_000_000, doc = "input clock in Hz")]
///     freq: Prop<u64>,
/// }
/// impl ObjectImpl for Timer {}
///
/// let t = Owned::<Timer>::new();
/// qom_rt::container("/doc-qom-list").unwrap().add_child("timer0", t).unwrap();
/// let list = qom_rt::qom_list("/doc-qom-list/timer0").unwrap();
/// assert_eq!(qom_rt::format_qom_list(&list), "type (string)\nfreq (uint64)\n");
/// assert_eq!(list[1].value.as_deref(), Some("1000000"));
/// assert_eq!(list[1].doc, "input clock in Hz");
/// ```
pub fn qom_list(path: &str) -> Result<Vec<PropertyListing>> {
    let object: Owned<Object> = crate::tree::resolve_path(path)?;
    Ok(list_object(&*object))
}

/// [`qom_list`] for an object at hand (in the tree or not).
///
/// ```
/// let c = qom_rt::Owned::<qom_rt::Container>::new();
/// assert_eq!(qom_rt::list_object(&*c)[0].value.as_deref(), Some("container"));
/// ```
pub fn list_object<T: ObjectType>(object: &T) -> Vec<PropertyListing> {
    let header = object.header();
    let info = header.type_info();
    let mut out = vec![PropertyListing {
        name: "type".to_string(),
        type_name: "string".to_string(),
        kind: ListingKind::Type,
        value: Some(info.name().to_string()),
        doc: "",
    }];
    out.extend(object.children().into_iter().map(|c| PropertyListing {
        name: c.name,
        type_name: format!("child<{}>", c.type_name),
        kind: ListingKind::Child(c.kind),
        value: None,
        doc: "",
    }));
    for level in info.ancestors() {
        for p in level.own_properties() {
            let field = field_ptr(header, level, p);
            out.push(PropertyListing {
                name: p.name().to_string(),
                type_name: p.type_name().to_string(),
                kind: if p.is_link() {
                    ListingKind::Link
                } else {
                    ListingKind::Value
                },
                // SAFETY: the field of this live object that the table
                // entry describes.
                value: Some(unsafe { (p.ops.get)(field) }),
                doc: p.doc(),
            });
        }
    }
    // Computed last, hidden by a field or `type` of the same name as
    // `get_property` hides them. No lock is held while they compute.
    for p in crate::computed::computed_of(object) {
        if out.iter().any(|e| e.name == p.name) {
            continue;
        }
        out.push(PropertyListing {
            name: p.name.to_string(),
            type_name: p.type_name.to_string(),
            kind: ListingKind::Computed,
            value: Some(p.value),
            doc: p.doc,
        });
    }
    out
}

/// Prints a listing as HMP's `qom-list`: one `name (type)` line per entry.
///
/// ```
/// let list = qom_rt::qom_list("/").unwrap();
/// assert!(qom_rt::format_qom_list(&list).starts_with("type (string)\n"));
/// ```
pub fn format_qom_list(entries: &[PropertyListing]) -> String {
    use core::fmt::Write;
    let mut out = String::new();
    for entry in entries {
        let _ = writeln!(out, "{entry}");
    }
    out
}
