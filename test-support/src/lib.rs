//! Test instruments for the qom crates: the ones that need unsafe code,
//! kept here so that the device library can forbid unsafe code in its
//! tests too, the small x86 guests the KVM tests run ([`guests`]), and
//! QEMU's SeaBIOS logs they compare with ([`seabios`]).

pub mod guests;
pub mod seabios;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// A global allocator that forwards to [`System`] and counts the live
/// allocations of one layout: install it with `#[global_allocator]` in a
/// test binary to check that every object of a type was freed.
///
/// ```
/// use qom_test_support::CountingAllocator;
/// use std::alloc::Layout;
///
/// struct Controller([u64; 37]);
///
/// #[global_allocator]
/// static CONTROLLERS: CountingAllocator = CountingAllocator::new(Layout::new::<Controller>());
///
/// let controller = Box::new(Controller([0; 37]));
/// assert_eq!(CONTROLLERS.live(), 1);
/// drop(controller);
/// assert_eq!(CONTROLLERS.live(), 0);
/// ```
pub struct CountingAllocator {
    watched: Layout,
    live: AtomicUsize,
}

impl CountingAllocator {
    /// Counts allocations of exactly `watched` (size and alignment).
    pub const fn new(watched: Layout) -> Self {
        CountingAllocator {
            watched,
            live: AtomicUsize::new(0),
        }
    }

    /// Allocations of the watched layout not yet freed.
    pub fn live(&self) -> usize {
        self.live.load(SeqCst)
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator, which
// upholds `GlobalAlloc`'s contract; the counting touches no memory the
// caller owns.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc`, passed on.
        let ptr = unsafe { System.alloc(layout) };
        if layout == self.watched && !ptr.is_null() {
            self.live.fetch_add(1, SeqCst);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout == self.watched {
            self.live.fetch_sub(1, SeqCst);
        }
        // SAFETY: the caller's contract for `dealloc`, passed on: `ptr`
        // came from `alloc` above, that is from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}
