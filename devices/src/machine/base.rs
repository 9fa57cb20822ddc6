//! The abstract `machine` type every board derives from, its class, and
//! the registry of boards (`-M help`), as QEMU's `MachineState`,
//! `MachineClass` and `TYPE_MACHINE_SUFFIX`.

use crate::hotplug::HotplugHandler;
use crate::memory::AddressSpace;
use crate::pci::PciHost;
use qom_rt::prelude::*;
use qom_rt::{ClassFor, TypeInfo};
use std::sync::OnceLock;

/// What a board's QOM type name ends with: `virt` is `virt-machine`, as
/// QEMU's `MACHINE_TYPE_NAME("virt")`.
pub const MACHINE_TYPE_SUFFIX: &str = "-machine";

/// The size of system memory: a 40-bit physical address space, room for
/// every board's memory map.
const SYSTEM_MEMORY_SIZE: u64 = 1 << 40;

/// Where the console UART sends the bytes the guest transmits.
pub type ConsoleSink = Box<dyn Fn(u8) + Send + Sync>;

/// What every board type provides. A board builds its devices as embedded
/// or owned children of its machine object and maps them in `init`;
/// [`Machine::create`](super::Machine::create) realizes and resets every
/// device child, in declaration order. Methods a board does not override
/// are inherited from its parent type, as with [`DeviceImpl`](crate::DeviceImpl).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is a machine: implement `MachineImpl` for it",
    label = "missing `impl MachineImpl for {Self}`",
    note = "write `impl qom_devices::machine::MachineImpl for {Self} {{ const DESCRIPTION: &'static str = \"...\"; }}`"
)]
pub trait MachineImpl: ObjectImpl + IsA<MachineState> {
    /// One line for `-M help`.
    const DESCRIPTION: &'static str;
    /// Whether `qom` builds this board when no `-M` is given.
    const IS_DEFAULT: bool = false;

    /// The PCI host bridge, if the board has one: `info pci` lists its
    /// bus, `info mtree` prints its address spaces.
    fn pci_host(&self) -> Option<&PciHost> {
        parent_machine_class::<Self>().and_then(|parent| (parent.pci_host)(self.upcast()))
    }

    /// Where `device_add` plugs devices; `None` when nothing can be
    /// hot-plugged.
    fn hotplug_handler(&self) -> Option<&dyn HotplugHandler> {
        parent_machine_class::<Self>().and_then(|parent| (parent.hotplug_handler)(self.upcast()))
    }

    /// Connects the console UART's output to `sink`.
    fn set_console(&self, sink: ConsoleSink) {
        if let Some(parent) = parent_machine_class::<Self>() {
            (parent.set_console)(self.upcast(), sink)
        }
    }
}

fn parent_machine_class<T: MachineImpl>() -> Option<&'static MachineClass> {
    qom_rt::parent_class::<T, MachineClass>()
}

/// The machine class: [`MachineImpl`] as filled for one board type.
pub struct MachineClass {
    pci_host: for<'a> fn(&'a MachineState) -> Option<&'a PciHost>,
    hotplug_handler: for<'a> fn(&'a MachineState) -> Option<&'a dyn HotplugHandler>,
    set_console: fn(&MachineState, ConsoleSink),
    /// See [`MachineImpl::DESCRIPTION`].
    pub description: &'static str,
    /// See [`MachineImpl::IS_DEFAULT`].
    pub is_default: bool,
}

impl<T: MachineImpl> ClassFor<T> for MachineClass {
    const CLASS: Self = MachineClass {
        pci_host: |m| m.downcast::<T>().and_then(T::pci_host),
        hotplug_handler: |m| m.downcast::<T>().and_then(T::hotplug_handler),
        set_console: |m, sink| {
            if let Some(board) = m.downcast::<T>() {
                board.set_console(sink)
            }
        },
        description: T::DESCRIPTION,
        is_default: T::IS_DEFAULT,
    };
}

/// The abstract base of every board (`"machine"`): owns system memory.
#[derive(QomObject)]
#[qom(name = "machine", abstract, class = MachineClass)]
pub struct MachineState {
    parent: ParentField<Object>,
    system: OnceLock<AddressSpace>,
}

impl ObjectImpl for MachineState {
    fn init(&self) {
        // Runs before the board type's `init`, which maps its devices here.
        let _ = self
            .system
            .set(AddressSpace::new("system", SYSTEM_MEMORY_SIZE));
    }
}

/// The base behaviour: no PCI, no hotplug, no console.
impl MachineImpl for MachineState {
    const DESCRIPTION: &'static str = "";

    fn pci_host(&self) -> Option<&PciHost> {
        None
    }
    fn hotplug_handler(&self) -> Option<&dyn HotplugHandler> {
        None
    }
    fn set_console(&self, _sink: ConsoleSink) {}
}

impl MachineState {
    fn class(&self) -> &'static MachineClass {
        // Every concrete board has a class table entry for `machine`: the
        // derive requires `MachineClass: ClassFor<T>` for it.
        ObjectClass::class::<MachineClass>(self).expect("a board has a machine class")
    }

    /// System memory, where guest accesses go.
    pub fn system(&self) -> &AddressSpace {
        self.system.get().expect("initialised in init")
    }

    /// See [`MachineImpl::pci_host`].
    pub fn pci_host(&self) -> Option<&PciHost> {
        (self.class().pci_host)(self)
    }

    /// See [`MachineImpl::hotplug_handler`].
    pub fn hotplug_handler(&self) -> Option<&dyn HotplugHandler> {
        (self.class().hotplug_handler)(self)
    }

    /// See [`MachineImpl::set_console`].
    pub fn set_console(&self, sink: ConsoleSink) {
        (self.class().set_console)(self, sink)
    }
}

/// A board type, as `-M help` lists it.
#[derive(Debug, Clone, Copy)]
pub struct MachineType {
    /// The name `-M` takes (`virt`): the QOM type name without
    /// [`MACHINE_TYPE_SUFFIX`].
    pub name: &'static str,
    /// One line about the board.
    pub description: &'static str,
    /// Whether it is built when no `-M` is given.
    pub is_default: bool,
    /// The QOM type (`virt-machine`).
    pub type_info: &'static TypeInfo,
}

/// Every registered board type, sorted by name: the concrete subtypes of
/// `machine`, from whichever crates are linked in.
///
/// ```
/// let names: Vec<_> = qom_devices::machine::machine_types().iter().map(|m| m.name).collect();
/// assert!(names.contains(&"virt"));
/// ```
pub fn machine_types() -> Vec<MachineType> {
    qom_rt::types()
        .iter()
        .filter(|info| !info.is_abstract())
        .filter_map(|info| {
            let class = info.class::<MachineClass>()?;
            let name = info.name();
            Some(MachineType {
                name: name.strip_suffix(MACHINE_TYPE_SUFFIX).unwrap_or(name),
                description: class.description,
                is_default: class.is_default,
                type_info: info,
            })
        })
        .collect()
}

/// The board built when no `-M` is given: the first (by name) that says
/// it is the default, or else the first there is.
pub fn default_machine() -> Option<MachineType> {
    let types = machine_types();
    types
        .iter()
        .find(|m| m.is_default)
        .or(types.first())
        .copied()
}
