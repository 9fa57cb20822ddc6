//! The abstract `machine` type every board derives from, its class, and
//! the registry of boards (`-M help`), as QEMU's `MachineState`,
//! `MachineClass` and `TYPE_MACHINE_SUFFIX`.

use super::options::MachineOptions;
use crate::clock::VirtualClock;
use crate::error::{Error, Result};
use crate::hotplug::HotplugHandler;
use crate::memory::AddressSpace;
use crate::pci::{PciFunctions, PciHost};
use qom_rt::prelude::*;
use qom_rt::{ClassFor, TypeInfo};
use std::sync::{Arc, OnceLock};

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
    /// The firmware file the board runs when no `-bios` is given, looked
    /// up where QEMU keeps its firmware (QEMU's `pc` runs
    /// `bios-256k.bin`).
    const DEFAULT_FIRMWARE: Option<&'static str> = None;

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

    /// Builds the board as the command line's `options` say, before its
    /// devices are realized (QEMU's `MachineClass::init`). An option the
    /// board cannot honour is an error that names it.
    fn board_init(&self, options: &MachineOptions) -> Result<()> {
        parent_machine_class::<Self>()
            .map_or(Ok(()), |parent| (parent.board_init)(self.upcast(), options))
    }

    /// The address spaces besides system memory: `info mtree` prints them
    /// after it, and they are re-rendered after `device_del`.
    fn address_spaces(&self) -> Vec<&AddressSpace> {
        parent_machine_class::<Self>()
            .map_or_else(Vec::new, |parent| (parent.address_spaces)(self.upcast()))
    }

    /// The functions on PCI bus 0, by devfn (slot in bits 3-7, function
    /// in 0-2), for `info pci`.
    fn pci_functions(&self) -> PciFunctions {
        parent_machine_class::<Self>()
            .map_or_else(Vec::new, |parent| (parent.pci_functions)(self.upcast()))
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
    board_init: fn(&MachineState, &MachineOptions) -> Result<()>,
    address_spaces: for<'a> fn(&'a MachineState) -> Vec<&'a AddressSpace>,
    pci_functions: fn(&MachineState) -> PciFunctions,
    /// See [`MachineImpl::DESCRIPTION`].
    pub description: &'static str,
    /// See [`MachineImpl::IS_DEFAULT`].
    pub is_default: bool,
    /// See [`MachineImpl::DEFAULT_FIRMWARE`].
    pub default_firmware: Option<&'static str>,
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
        board_init: |m, options| m.downcast::<T>().map_or(Ok(()), |b| b.board_init(options)),
        address_spaces: |m| m.downcast::<T>().map_or_else(Vec::new, T::address_spaces),
        pci_functions: |m| m.downcast::<T>().map_or_else(Vec::new, T::pci_functions),
        description: T::DESCRIPTION,
        is_default: T::IS_DEFAULT,
        default_firmware: T::DEFAULT_FIRMWARE,
    };
}

/// The abstract base of every board (`"machine"`): owns system memory
/// and the virtual clock.
#[derive(QomObject)]
#[qom(name = "machine", abstract, class = MachineClass)]
pub struct MachineState {
    parent: ParentField<Object>,
    system: OnceLock<AddressSpace>,
    clock: VirtualClock,
    drives: super::Drives,
}

impl ObjectImpl for MachineState {
    fn init(&self) {
        // Runs before the board type's `init`, which maps its devices here.
        let _ = self.system.set(AddressSpace::with_root(
            "memory",
            "system",
            SYSTEM_MEMORY_SIZE,
        ));
    }
}

/// The base behaviour: no PCI, no hotplug, no console, no options.
impl MachineImpl for MachineState {
    const DESCRIPTION: &'static str = "";

    fn pci_host(&self) -> Option<&PciHost> {
        None
    }
    fn hotplug_handler(&self) -> Option<&dyn HotplugHandler> {
        None
    }
    fn set_console(&self, _sink: ConsoleSink) {}

    /// Refuses the first option given.
    fn board_init(&self, options: &MachineOptions) -> Result<()> {
        match options.given().first() {
            Some(option) => Err(Error::UnsupportedOption {
                machine: self.board_name().to_string(),
                option,
                reason: "the board has no use for it".into(),
            }),
            None => Ok(()),
        }
    }

    /// The PCI host's memory and I/O spaces, if there is one.
    fn address_spaces(&self) -> Vec<&AddressSpace> {
        MachineState::pci_host(self).map_or_else(Vec::new, |pci| vec![pci.memory(), pci.io()])
    }

    /// The PCI host's devices, function 0 of each slot.
    fn pci_functions(&self) -> PciFunctions {
        MachineState::pci_host(self).map_or_else(Vec::new, |pci| {
            let devices = pci.devices().into_iter();
            devices.map(|(slot, device)| (slot << 3, device)).collect()
        })
    }
}

impl MachineState {
    fn class(&self) -> &'static MachineClass {
        // Every concrete board has a class table entry for `machine`: the
        // derive requires `MachineClass: ClassFor<T>` for it.
        ObjectClass::class::<MachineClass>(self).expect("a board has a machine class")
    }

    /// The machine's drives (`-drive`).
    pub fn drives(&self) -> &super::Drives {
        &self.drives
    }

    /// The machine an object is part of: its nearest ancestor in the
    /// tree that is a board.
    pub fn of(object: &Object) -> Option<Owned<MachineState>> {
        let path = object.canonical_path()?;
        let mut at = path.as_str();
        while let Some((parent, _)) = at.rsplit_once('/') {
            if let Ok(found) = qom_rt::resolve_path(if parent.is_empty() { "/" } else { parent }) {
                if let Ok(machine) = found.downcast_owned::<MachineState>() {
                    return Some(machine);
                }
            }
            at = parent;
        }
        None
    }

    /// System memory, where guest accesses go.
    pub fn system(&self) -> &AddressSpace {
        self.system.get().expect("initialised in init")
    }

    /// The virtual clock: it follows host time while a guest runs and is
    /// stepped by `clock_step` otherwise.
    pub fn clock(&self) -> &VirtualClock {
        &self.clock
    }

    /// The board's name as `-M` takes it (`virt`).
    pub fn board_name(&self) -> &'static str {
        let name = self.type_name();
        name.strip_suffix(MACHINE_TYPE_SUFFIX).unwrap_or(name)
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

    /// See [`MachineImpl::board_init`].
    pub fn board_init(&self, options: &MachineOptions) -> Result<()> {
        (self.class().board_init)(self, options)
    }

    /// See [`MachineImpl::address_spaces`].
    pub fn address_spaces(&self) -> Vec<&AddressSpace> {
        (self.class().address_spaces)(self)
    }

    /// See [`MachineImpl::pci_functions`].
    pub fn pci_functions(&self) -> PciFunctions {
        (self.class().pci_functions)(self)
    }

    /// The board's CPU side, if it has CPUs for an accelerator to run.
    pub fn cpu_board(&self) -> Option<&dyn CpuBoard> {
        self.interface::<dyn CpuBoard>()
    }
}

/// An interrupt controller input: `set_irq(line, level)` drives line
/// `line` (an ISA IRQ on `pc`) of the accelerator's interrupt controllers.
pub type IrqSink = Arc<dyn Fn(u32, bool) + Send + Sync>;

/// Where a guest's request to end the run goes, with its status
/// (`isa-debug-exit` writes `(value << 1) | 1`).
pub type ExitSink = Arc<dyn Fn(u32) + Send + Sync>;

/// What an accelerator needs from a board with CPUs, beyond system memory
/// (a QOM interface the board lists): the port-I/O space and the two ways
/// its devices reach the accelerator. A board without it (`virt`) cannot
/// run a guest.
#[qom_rt::interface]
pub trait CpuBoard {
    /// The 64 KiB port-I/O space (QEMU's `system_io`): port exits go here.
    fn system_io(&self) -> &AddressSpace;
    /// Wires the board's interrupt outputs to the accelerator's interrupt
    /// controllers.
    fn connect_irqs(&self, set_irq: IrqSink);
    /// Wires the devices that ask the machine to stop.
    fn connect_exit(&self, exit: ExitSink);
    /// Wires PCI functions' message-signalled interrupts (MSI/MSI-X) to
    /// the accelerator. A board without them ignores it.
    fn connect_msi(&self, msi: crate::pci::MsiSink) {
        let _ = msi;
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
    /// The firmware file it runs when no `-bios` is given.
    pub default_firmware: Option<&'static str>,
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
                default_firmware: class.default_firmware,
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
