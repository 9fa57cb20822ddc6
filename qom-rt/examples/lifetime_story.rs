//! The lifetime story of an embedded child outliving its container, step
//! by step, with the counts the runtime keeps. Run:
//! `cargo run -p qom-rt --example lifetime_story`.

use qom_rt::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

/// Counts live heap blocks of the controller's size, so step 5 is observed
/// rather than claimed.
struct Watch;
static LIVE_CONTROLLERS: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged, only counting.
unsafe impl GlobalAlloc for Watch {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() == core::mem::size_of::<Controller>() {
            LIVE_CONTROLLERS.fetch_add(1, Relaxed);
        }
        // SAFETY: forwarded from the caller.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.size() == core::mem::size_of::<Controller>() {
            LIVE_CONTROLLERS.fetch_sub(1, Relaxed);
        }
        // SAFETY: forwarded from the caller.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Watch = Watch;

fn allocations() -> String {
    format!(
        "allocations of the controller's size alive: {}",
        LIVE_CONTROLLERS.load(Relaxed)
    )
}

/// A memory region, embedded in the controller that owns it.
#[derive(QomObject)]
#[qom(name = "story-bar")]
struct Bar {
    parent: ParentField<Object>,
}

impl ObjectImpl for Bar {
    fn finalize(&self) {
        println!("  finalize: bar (its container's memory is still held)");
    }
}

/// The controller, embedding its BAR like QEMU's `XHCIState`.
#[derive(QomObject)]
#[qom(name = "story-controller")]
struct Controller {
    parent: ParentField<Object>,
    #[child(embedded)]
    bar: Bar,
}

impl ObjectImpl for Controller {
    fn finalize(&self) {
        println!("  finalize: controller (bar still usable here)");
    }
}

fn counts(what: &str, object: &impl ObjectType) {
    let h = object.header();
    println!(
        "  {what:<11} refs={} storage={} state={:?}",
        h.ref_count(),
        h.storage_count(),
        h.state()
    );
}

fn main() {
    println!("1. created: one allocation holds the controller and its bar");
    let controller = Owned::<Controller>::new();
    counts("controller", &*controller);
    counts("bar", &controller.bar);
    println!("  {}", allocations());

    println!("2. referenced: an in-flight access takes a reference on the bar");
    let bar: Owned<Bar> = Owned::from(&controller.bar);
    counts("bar", &*bar);

    println!("3. container finalized: the controller is hot-unplugged");
    drop(controller);
    counts("bar", &*bar);
    println!("  {} (held by the bar's storage reference)", allocations());
    println!(
        "  bar.container() = {:?}: the bar cannot reach dead state",
        bar.container::<Controller>().map(|_| "controller")
    );

    println!("4. child finalized: the access ends and drops its reference");
    drop(bar);
    println!("5. storage freed: the last storage reference went with the bar");
    println!("  {}", allocations());
}
