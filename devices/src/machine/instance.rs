//! [`Machine`]: a board built in the composition tree and realized, with
//! the operations the monitor performs on it.

use super::base::{machine_types, MachineState};
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
        // The board's devices, in declaration order: realize all, then a
        // cold reset, as QEMU's `qemu_system_reset` after board init.
        let devices: Vec<Owned<Object>> = machine
            .object
            .children()
            .into_iter()
            .filter(|c| c.kind != qom_rt::ChildEntryKind::Dynamic)
            .filter_map(|c| machine.object.resolve(&c.name).ok())
            .collect();
        let devices: Vec<&Device> = devices.iter().filter_map(|c| c.downcast()).collect();
        for device in &devices {
            device.realize()?;
        }
        for device in &devices {
            device.reset();
        }
        Ok(machine)
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

    /// Advances the virtual clock of every device on the machine.
    pub fn clock_step(&self, ns: u64) -> Result<usize> {
        crate::clock::clock_step(&self.path, ns)
    }

    /// System memory, then the PCI memory and I/O spaces if there is a
    /// PCI host.
    pub fn address_spaces(&self) -> Vec<&AddressSpace> {
        let mut spaces = vec![self.system()];
        if let Some(pci) = self.pci_host() {
            spaces.extend([pci.memory(), pci.io()]);
        }
        spaces
    }

    /// `info mtree`.
    pub fn info_mtree(&self) -> String {
        memory::mtree(&self.address_spaces())
    }

    /// `info pci`: empty on a board without PCI.
    pub fn info_pci(&self) -> String {
        self.pci_host().map(PciHost::info_pci).unwrap_or_default()
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
        if let Some(pci) = self.pci_host() {
            for (_, device) in pci.devices() {
                let _ = pci.unplug_pci(&device);
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
