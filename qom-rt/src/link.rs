//! Link properties: [`Link<T>`], a field that refers to another object,
//! like QOM's `link<T>` properties (`dma=/machine/soc/dma0`).
//!
//! Links are weak; [`Link`]'s documentation says why and what that
//! means for users.
//!
//! # How
//!
//! Setting a link registers its target in the kernel's link-target table
//! (`kernel::link_targets`), which maps a never-reused 64-bit *epoch* to
//! the target's header; the link stores only that epoch (one `AtomicU64`).
//! An epoch whose entry is gone reads as `None`. Upgrading is one read
//! lock, one hash lookup and a `Weak::upgrade`-style compare-exchange on
//! the target's count.

use crate::error::Error;
use crate::kernel::header::ObjectHeader;
use crate::kernel::link_targets::{register, targets_read, upgrade, Targets};
use crate::kernel::object::{IsA, ObjectType};
use crate::kernel::owned::Owned;
use crate::kernel::tables::PropertyOps;
use crate::kernel::tree_links::HeaderPtr;
use crate::kernel::type_info::TypeInfo;
use core::any::Any;
use core::marker::PhantomData;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// A link to another object of type `T` (or a subtype): a weak reference
/// that a `#[property]` field can hold, set by path string or typed.
///
/// `qom-list` shows the property as `link<T's type name>`; `get_property`
/// prints the target's canonical path (empty while unset, gone, or outside
/// the tree). It is set from a path (absolute, or a unique partial path)
/// naming a `T`: an empty string, a missing path or an object of another
/// type is refused. Typed access uses `Option<Owned<T>>`.
///
/// # Weak, by design
///
/// A link does **not** keep its target alive; it is a weak reference that
/// upgrades on use, like `std::sync::Weak`:
///
/// * [`Link::get`] returns a strong [`Owned<T>`] while the target is live,
///   and `None` from the moment the target begins finalizing (its last
///   reference dropped) — or, for a target embedded in a container, the
///   moment that container begins finalizing, since after that the target
///   must not be used (the embedded child's *functional* lifetime).
/// * So a link never dangles, and links can never leak a cycle: two
///   devices linked to each other, or a child linked to its own container,
///   are freed as soon as nothing else holds them.
/// * Unparenting the target drops the composition tree's reference to it.
///   If that was the last one, the target finalizes at once and every link
///   to it reads `None`. If someone still holds a reference (an in-flight
///   access holding an `Owned`), links keep returning the object until
///   that reference is dropped: the link follows the object, not the path.
///
/// A strong link (QEMU's `OBJ_PROP_LINK_STRONG`) was the alternative; it
/// would leak any cycle that is never unparented (objects outside the
/// tree, or a device linked to its own parent) unless every link were also
/// cleared by hand, and it would keep an unplugged device alive only
/// because some other device still names it.
///
/// # Example
///
/// ```
/// use qom_rt::prelude::*;
///
/// #[derive(QomObject)]
/// #[qom(name = "doc-dma")]
/// pub struct Dma { parent: ParentField<Object> }
/// impl ObjectImpl for Dma {}
///
/// #[derive(QomObject)]
/// #[qom(name = "doc-disk")]
/// pub struct Disk {
///     parent: ParentField<Object>,
///     #[property(doc = "the DMA engine the disk uses")]
///     dma: Link<Dma>,
/// }
/// impl ObjectImpl for Disk {}
///
/// let dma = Owned::<Dma>::new();
/// qom_rt::container("/doc-link").unwrap().add_child("dma0", dma.clone()).unwrap();
/// let disk = Owned::<Disk>::new();
///
/// disk.set_property("dma", "/doc-link/dma0").unwrap();         // by path
/// assert!(Owned::ptr_eq(&disk.dma.get().unwrap(), &dma));
/// assert_eq!(disk.get_property("dma").unwrap(), "/doc-link/dma0");
/// assert_eq!(disk.properties()[0].type_name(), "link<doc-dma>");
/// assert_eq!(disk.properties()[0].link_target().unwrap().name(), "doc-dma");
///
/// // Weak: unparenting and dropping the target clears the link.
/// dma.unparent();
/// drop(dma);
/// assert!(disk.dma.get().is_none());
/// assert_eq!(disk.get_property("dma").unwrap(), "");
/// ```
#[repr(transparent)]
pub struct Link<T: ObjectType> {
    cell: LinkCell,
    /// Links never own a `T`; `fn() -> T` keeps `Link` `Send + Sync`.
    _target: PhantomData<fn() -> T>,
}

/// The type-independent part of a link: the target's epoch, 0 when unset.
pub(crate) struct LinkCell {
    epoch: AtomicU64,
}

impl LinkCell {
    /// The target's header if the link is set and the target has not
    /// finished finalizing. Only meaningful while `targets` is held.
    pub(crate) fn target_in(&self, targets: &Targets) -> Option<HeaderPtr> {
        // Acquire pairs with the Release store in `store`: the epoch's
        // registration happens before.
        let epoch = self.epoch.load(Ordering::Acquire);
        targets.target(epoch)
    }

    fn store(&self, epoch: u64) {
        // Release: the registration of `epoch` (under the table's lock)
        // happens before any reader that sees it.
        self.epoch.store(epoch, Ordering::Release);
    }
}

impl<T: ObjectType> Link<T> {
    /// An unset link.
    ///
    /// ```
    /// let link = qom_rt::Link::<qom_rt::Container>::new();
    /// assert!(link.get().is_none());
    /// ```
    pub const fn new() -> Self {
        Link {
            cell: LinkCell {
                epoch: AtomicU64::new(0),
            },
            _target: PhantomData,
        }
    }

    /// A strong reference to the target while it is live; `None` when
    /// the link is unset, or once the target (or the container it is
    /// embedded in) has begun finalizing. Takes a read lock: hold on to
    /// the result rather than calling it per access in a hot loop.
    ///
    /// ```
    /// use qom_rt::prelude::*;
    /// let target = Owned::<qom_rt::Container>::new();
    /// let link = qom_rt::Link::<qom_rt::Container>::new();
    /// link.set(&*target);
    /// assert!(Owned::ptr_eq(&link.get().unwrap(), &target));
    /// drop(target);
    /// assert!(link.get().is_none());
    /// ```
    pub fn get(&self) -> Option<Owned<T>> {
        let found = {
            let targets = targets_read();
            upgrade(self.cell.target_in(&targets)?)?
        };
        // SAFETY: `found` is a strong reference on the registered target,
        // whose type was checked to be a `T` when the link was set.
        Some(unsafe {
            let at = found.header_ptr().byte_sub(T::HEADER_OFFSET).cast();
            core::mem::forget(found);
            Owned::from_counted(at)
        })
    }

    /// Points the link at `target` (a `T` or a subtype). The link does not
    /// keep it alive. Setting it from the target's own `finalize` hook
    /// leaves the link unset.
    ///
    /// This is the device's own access and does not consult the object's
    /// [`PropertyGuard`](crate::PropertyGuard); outside code uses
    /// `set_property` or `set_property_typed`, which do.
    ///
    /// See [`Link::get`] for an example.
    pub fn set<U: IsA<T>>(&self, target: &U) {
        self.set_unchecked(target.header());
    }

    /// [`set`](Self::set) for a header whose object is known to be a `T`.
    fn set_unchecked(&self, target: &ObjectHeader) {
        self.cell.store(register(target));
    }

    /// Unsets the link.
    ///
    /// ```
    /// use qom_rt::prelude::*;
    /// let target = Owned::<qom_rt::Container>::new();
    /// let link = qom_rt::Link::<qom_rt::Container>::new();
    /// link.set(&*target);
    /// link.clear();
    /// assert!(link.get().is_none());
    /// ```
    pub fn clear(&self) {
        self.cell.store(0);
    }

    /// The canonical path of the target, if the link is set, the target is
    /// live and it is in the composition tree.
    ///
    /// ```
    /// use qom_rt::prelude::*;
    /// let target = qom_rt::container("/doc-link-path/t").unwrap();
    /// let link = qom_rt::Link::<Object>::new();
    /// link.set(&*target);
    /// assert_eq!(link.target_path().as_deref(), Some("/doc-link-path/t"));
    /// ```
    pub fn target_path(&self) -> Option<String> {
        use crate::tree::ObjectTree;
        self.get().and_then(|target| target.canonical_path())
    }
}

impl<T: ObjectType> Default for Link<T> {
    fn default() -> Self {
        Link::new()
    }
}

impl<T: ObjectType> core::fmt::Debug for Link<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.get() {
            Some(target) => write!(f, "Link({:?})", target),
            None => f.write_str("Link(unset)"),
        }
    }
}

/// The operations of a `Link<T>` field.
pub(crate) const fn link_ops<T: ObjectType>() -> PropertyOps {
    PropertyOps {
        type_name: link_type_name::<T>,
        rust_type: core::any::type_name::<Option<Owned<T>>>,
        link_target: Some(target_type::<T>),
        parse_and_set: parse_and_set::<T>,
        get: get::<T>,
        set_typed: set_typed::<T>,
        get_typed: get_typed::<T>,
    }
}

fn target_type<T: ObjectType>() -> &'static TypeInfo {
    T::TYPE_INFO
}

/// `link<NAME>`, built once per target type and kept for the life of the
/// process (one short string per type).
fn link_type_name<T: ObjectType>() -> &'static str {
    static NAMES: OnceLock<Mutex<HashMap<usize, &'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let key = core::ptr::from_ref(T::TYPE_INFO).addr();
    names
        .entry(key)
        .or_insert_with(|| Box::leak(format!("link<{}>", T::TYPE_INFO.name()).into_boxed_str()))
}

/// # Safety
/// `field` points to a live `Link<T>`.
unsafe fn link_at<'a, T: ObjectType>(field: NonNull<u8>) -> &'a Link<T> {
    // SAFETY: forwarded from the caller.
    unsafe { field.cast::<Link<T>>().as_ref() }
}

/// # Safety
/// `field` points to a live `Link<T>`.
unsafe fn parse_and_set<T: ObjectType>(field: NonNull<u8>, text: &str) -> Result<(), String> {
    let target = resolve_target::<T>(text)?;
    // SAFETY: forwarded from the caller.
    unsafe { link_at::<T>(field) }.set_unchecked(target.header());
    Ok(())
}

/// The object at `path`, if it is a `T`; otherwise what was expected.
fn resolve_target<T: ObjectType>(path: &str) -> Result<Owned<T>, String> {
    let want = T::TYPE_INFO.name();
    let expected = format!("a path to a `{want}` object");
    if path.is_empty() {
        return Err(format!(
            "{expected} (absolute, or a unique partial path); an empty path is not a link target"
        ));
    }
    let found = crate::tree::resolve_path(path).map_err(|e| match e {
        Error::AmbiguousPath { candidates, .. } => format!(
            "{expected}; `{path}` is ambiguous: it matches {}",
            candidates.join(", ")
        ),
        Error::PathNotFound { .. } => format!("{expected}; there is no object at `{path}`"),
        other => format!("{expected}; {other}"),
    })?;
    found.downcast_owned::<T>().map_err(|other| {
        format!(
            "{expected}; the object at `{path}` is a `{}`",
            crate::ObjectCast::type_name(&*other)
        )
    })
}

/// # Safety
/// `field` points to a live `Link<T>`.
unsafe fn get<T: ObjectType>(field: NonNull<u8>) -> String {
    // SAFETY: forwarded from the caller.
    unsafe { link_at::<T>(field) }
        .target_path()
        .unwrap_or_default()
}

/// # Safety
/// `field` points to a live `Link<T>`.
unsafe fn set_typed<T: ObjectType>(field: NonNull<u8>, value: &mut dyn Any) -> bool {
    let Some(value) = value.downcast_mut::<Option<Option<Owned<T>>>>() else {
        return false;
    };
    // SAFETY: forwarded from the caller.
    let link = unsafe { link_at::<T>(field) };
    match value.take() {
        Some(Some(target)) => link.set_unchecked(target.header()),
        Some(None) => link.clear(),
        None => return false,
    }
    true
}

/// # Safety
/// `field` points to a live `Link<T>`.
unsafe fn get_typed<T: ObjectType>(field: NonNull<u8>, out: &mut dyn Any) -> bool {
    match out.downcast_mut::<Option<Option<Owned<T>>>>() {
        Some(out) => {
            // SAFETY: forwarded from the caller.
            *out = Some(unsafe { link_at::<T>(field) }.get());
            true
        }
        None => false,
    }
}

/// The link cell of a link property's field.
///
/// # Safety
/// `field` points to a live `Link<_>` (any target type: the cell is the
/// same, `Link` being `repr(transparent)`).
pub(crate) unsafe fn cell_at<'a>(field: NonNull<u8>) -> &'a LinkCell {
    // SAFETY: forwarded from the caller.
    unsafe { field.cast::<LinkCell>().as_ref() }
}
