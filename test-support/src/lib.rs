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
    watched: [Layout; 2],
    live: [AtomicUsize; 2],
}

impl CountingAllocator {
    /// Counts allocations of exactly `watched` (size and alignment).
    pub const fn new(watched: Layout) -> Self {
        Self::pair(watched, watched)
    }

    /// Counts allocations of exactly `first` and, apart, of exactly
    /// `second` (an allocation of both layouts, if they are equal, counts
    /// in both).
    pub const fn pair(first: Layout, second: Layout) -> Self {
        CountingAllocator {
            watched: [first, second],
            live: [AtomicUsize::new(0), AtomicUsize::new(0)],
        }
    }

    /// Allocations of the (first) watched layout not yet freed.
    pub fn live(&self) -> usize {
        self.live[0].load(SeqCst)
    }

    /// Allocations of the second layout of [`pair`](Self::pair) not yet
    /// freed.
    pub fn live_second(&self) -> usize {
        self.live[1].load(SeqCst)
    }

    fn count(&self, layout: Layout, change: impl Fn(&AtomicUsize)) {
        for (watched, live) in self.watched.iter().zip(&self.live) {
            if layout == *watched {
                change(live);
            }
        }
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator, which
// upholds `GlobalAlloc`'s contract; the counting touches no memory the
// caller owns.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc`, passed on.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            self.count(layout, |live| {
                live.fetch_add(1, SeqCst);
            });
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.count(layout, |live| {
            live.fetch_sub(1, SeqCst);
        });
        // SAFETY: the caller's contract for `dealloc`, passed on: `ptr`
        // came from `alloc` above, that is from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}
