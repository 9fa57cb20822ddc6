//! [`Machine`]: a board built in the composition tree and realized, with
//! the operations the monitor performs on it.

use super::base::{machine_types, CpuBoard, MachineState};
use super::options::MachineOptions;
use crate::clock::VirtualClock;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::hotplug::{self, HotplugHandler};
use crate::memory::{self, AddressSpace};
use crate::options::DeviceOptions;
use crate::pci::PciHost;
use qom_rt::prelude::*;
use qom_rt::TypeInfo;

/// A running machine: the board object in the tree (`/machine`), its
/// `peripheral` containers for hot-plugged devices, and its devices
/// realized. Dropping it unplugs the devices and takes the board out of
/// the tree.
///
/// ```
/// use qom_devices::Machine;
///
/// let machine = Machine::create_at("virt", "/doc-machine")?;
/// machine.device_add("xhci-pci,id=usb0")?;
/// assert!(machine.info_pci().contains("USB controller"));
/// machine.device_del("usb0")?;
/// # Ok::<(), qom_devices::Error>(())
/// ```
pub struct Machine {
    object: Owned<MachineState>,
    name: &'static str,
    path: String,
}

impl Machine {
    /// Builds board `name` (as `-M` takes it: `virt`) at `/machine` and
    /// realizes it.
    pub fn create(name: &str) -> Result<Machine> {
        Machine::create_at(name, "/machine")
    }

    /// Builds board `name` at `path` (tests build several, one per path).
    pub fn create_at(name: &str, path: &str) -> Result<Machine> {
        Machine::create_with(name, path, &MachineOptions::default())
    }

    /// Builds board `name` at `path` as the command line's `options` say
    /// (`-m`, `-bios`, `-usb`, `-serial`, `-debugcon`); a board refuses,
    /// naming it, an option it cannot honour.
    ///
    /// ```
    /// use qom_devices::machine::{Firmware, Machine, MachineOptions};
    ///
    /// # // Guest RAM is an mmap through vm-memory, which Miri cannot run.
    /// # if cfg!(miri) { return Ok(()); }
    /// // A 64 KiB "firmware" that is all HLT instructions.
    /// let firmware = Firmware { path: "hlt.bin".into(), bytes: vec![0xf4; 0x1_0000] };
    /// let options = MachineOptions { firmware: Some(firmware), ..Default::default() };
    /// let pc = Machine::create_with("pc", "/doc-pc", &options)?;
    /// assert_eq!(pc.system().read(0xffff_fff0, 1), 0xf4, "the reset vector");
    /// assert_eq!(pc.system().read(0x000f_fff0, 1), 0xf4, "and its alias below 1 MiB");
    /// # Ok::<(), qom_devices::Error>(())
    /// ```
    pub fn create_with(name: &str, path: &str, options: &MachineOptions) -> Result<Machine> {
        let types = machine_types();
        let unknown = || Error::UnknownMachine {
            name: name.to_string(),
            known: types.iter().map(|m| m.name.to_string()).collect(),
        };
        let board = types.iter().find(|m| m.name == name).ok_or_else(unknown)?;
        // A `MachineType` is a subtype of `machine`: the downcast holds.
        let object = qom_rt::new_by_name(board.type_info.name())?
            .downcast_owned::<MachineState>()
            .map_err(|_| unknown())?;
        let (parent, leaf) = path.rsplit_once('/').unwrap_or(("", path));
        let parent = if parent.is_empty() {
            qom_rt::root()
        } else {
            qom_rt::container(parent)?
        };
        parent.add_child(leaf, object.clone())?;
        // From here on, dropping `machine` takes the board out of the tree.
        let machine = Machine {
            object,
            name: board.name,
            path: path.to_string(),
        };
        qom_rt::container(&format!("{path}/peripheral"))?;
        qom_rt::container(&format!("{path}/peripheral-anon"))?;
        for drive in &options.drives {
            machine
                .object
                .drives()
                .add(drive.clone())
                .map_err(|reason| Error::BadOptions {
                    options: format!("-drive file={},id={}", drive.file, drive.id),
                    reason,
                })?;
        }
        for (name, value) in &options.properties {
            machine
                .object
                .set_property(name, value)
                .map_err(|e| Error::BadOptions {
                    options: format!("-M {},{name}={value}", board.name),
                    reason: e.to_string(),
                })?;
        }
        machine.object.board_init(options)?;
        // The board's devices, in declaration order: realize all (what
        // `board_init` realized already stays as it is), then a cold
        // reset, as QEMU's `qemu_system_reset` after board init.
        let devices: Vec<Owned<Object>> = machine
            .object
            .children()
            .into_iter()
            .filter(|c| c.kind != qom_rt::ChildEntryKind::Dynamic)
            .filter_map(|c| machine.object.resolve(&c.name).ok())
            .collect();
        for device in devices.iter().filter_map(|c| c.downcast::<Device>()) {
            device.realize()?;
        }
        machine.reset();
        Ok(machine)
    }

    /// Cold reset of every device: the board's own (declared or added at
    /// build time) and every plugged one, each with its children (HMP's
    /// `system_reset` for the devices; an accelerator resets its CPUs).
    pub fn reset(&self) {
        let mut devices: Vec<Owned<Object>> = Vec::new();
        for child in self.object.children() {
            if let Ok(object) = self.object.resolve(&child.name) {
                devices.push(object);
            }
        }
        for container in ["peripheral", "peripheral-anon"] {
            if let Ok(container) = self.object.resolve(container) {
                for child in container.children() {
                    devices.extend(container.resolve(&child.name).ok());
                }
            }
        }
        for device in devices.iter().filter_map(|d| d.downcast::<Device>()) {
            device.reset();
        }
    }

    /// The virtual clock (see [`VirtualClock`]).
    pub fn clock(&self) -> &VirtualClock {
        self.object.clock()
    }

    /// The board's CPU side, if it has CPUs an accelerator can run.
    pub fn cpu_board(&self) -> Option<&dyn CpuBoard> {
        self.object.cpu_board()
    }

    /// The board object.
    pub fn object(&self) -> &MachineState {
        &self.object
    }

    /// The board object as its own type, to reach its devices: `None` if
    /// the board is not a `T`.
    ///
    /// ```
    /// use qom_devices::machine::{Machine, VirtMachine};
    ///
    /// let machine = Machine::create_at("virt", "/doc-board")?;
    /// let virt: &VirtMachine = machine.board().expect("a virt board");
    /// assert_eq!(virt.soc.uarts.len(), 2);
    /// # Ok::<(), qom_devices::Error>(())
    /// ```
    pub fn board<T: ObjectType>(&self) -> Option<&T> {
        self.object.downcast()
    }

    /// The board's name, as `-M` takes it (`virt`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Its path in the tree (`/machine`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// System memory, where guest accesses go.
    pub fn system(&self) -> &AddressSpace {
        self.object.system()
    }

    /// The PCI host bridge, if the board has one.
    pub fn pci_host(&self) -> Option<&PciHost> {
        self.object.pci_host()
    }

    /// Sends the console UART's output to `sink`.
    pub fn set_console(&self, sink: impl Fn(u8) + Send + Sync + 'static) {
        self.object.set_console(Box::new(sink));
    }

    fn hotplug_handler(&self) -> Result<&dyn HotplugHandler> {
        self.object
            .hotplug_handler()
            .ok_or_else(|| Error::NoHotplug {
                machine: self.name.to_string(),
            })
    }

    /// Whether `device_add` can plug a device of `device_type`: a concrete
    /// device type the board's hotplug handler accepts.
    pub fn can_hotplug(&self, device_type: &TypeInfo) -> bool {
        !device_type.is_abstract()
            && device_type.is_a(Device::TYPE_INFO)
            && device_type
                .class::<crate::device::DeviceClass>()
                .is_none_or(|class| class.user_creatable)
            && self
                .hotplug_handler()
                .is_ok_and(|handler| handler.check_type(device_type).is_ok())
    }

    /// `device_add TYPE,id=ID,prop=value,...` (`,,` is a literal comma).
    pub fn device_add(&self, spec: &str) -> Result<Owned<Device>> {
        let options = DeviceOptions::parse(spec)?;
        if options.help {
            return Err(Error::BadOptions {
                options: spec.to_string(),
                reason: "`help` lists the type's properties; it does not create a device".into(),
            });
        }
        self.device_add_options(&options)
    }

    /// `device_add` with the options already parsed.
    pub fn device_add_options(&self, options: &DeviceOptions) -> Result<Owned<Device>> {
        hotplug::device_add(&self.path, options, self.hotplug_handler()?)
    }

    /// `device_del ID`.
    pub fn device_del(&self, id: &str) -> Result<()> {
        hotplug::device_del(&self.path, id, self.hotplug_handler()?)?;
        // Let go of the unplugged regions now rather than at the next
        // access (an access in flight keeps its own reference).
        for space in self.address_spaces() {
            space.refresh();
        }
        Ok(())
    }

    /// Advances the virtual clock by `ns`, and every clocked device on
    /// the machine with it; how many devices moved.
    pub fn clock_step(&self, ns: u64) -> Result<usize> {
        self.clock().step(ns);
        crate::clock::clock_step(&self.path, ns)
    }

    /// System memory, then the board's other address spaces (the PCI
    /// memory and I/O spaces, the port-I/O space).
    pub fn address_spaces(&self) -> Vec<&AddressSpace> {
        let mut spaces = vec![self.system()];
        spaces.extend(self.object.address_spaces());
        spaces
    }

    /// `info mtree`.
    pub fn info_mtree(&self) -> String {
        memory::mtree(&self.address_spaces())
    }

    /// `info pci`: empty on a board without PCI.
    pub fn info_pci(&self) -> String {
        crate::pci::info_pci(&self.object.pci_functions())
    }

    /// HMP's `info qtree`: the main system bus, the PCI host bridge and
    /// its functions (see [`crate::qtree`]).
    pub fn info_qtree(&self) -> String {
        // QEMU's `virt` has a PCI Express root bus; `pc` a PCI one.
        let (bus_name, bus_type) = match self.name {
            "virt" => ("pcie.0", "PCIE"),
            _ => ("pci.0", "PCI"),
        };
        let host = self.pci_host().map(|h| crate::qtree::QtreeHost {
            type_name: h.type_name(),
            bus_name,
            bus_type,
        });
        crate::qtree::info_qtree(host, &self.object.pci_functions())
    }

    /// HMP's `info usb`: the devices on the machine's USB buses.
    pub fn info_usb(&self) -> String {
        crate::usb::bus::info_usb(&self.path)
    }
}

impl std::fmt::Debug for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Machine")
            .field("name", &self.name)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Drop for Machine {
    /// Unplugs the PCI devices and takes the board out of the tree; it
    /// finalizes with its last reference.
    fn drop(&mut self) {
        if let Ok(handler) = self.hotplug_handler() {
            for (_, device) in self.object.pci_functions() {
                let _ = handler.unplug(device.upcast());
            }
        }
        for container in ["peripheral", "peripheral-anon"] {
            if let Ok(c) = qom_rt::resolve_path(&format!("{}/{container}", self.path)) {
                c.unparent();
            }
        }
        self.object.unparent();
    }
}
