//! The `virt` machine: the SoC (UARTs, timers), a PCIe host bridge with
//! its bus, system memory laid out as QEMU's `virt` board where it has the
//! same devices, and `/machine/peripheral` for hot-plugged devices.

use crate::device::Device;
use crate::error::{Error, Result};
use crate::hotplug::{self, HotplugHandler};
use crate::hw::soc::VirtSoc;
use crate::memory::{self, AddressSpace};
use crate::pci::{PciHost, ECAM_BASE, PIO_BASE};
use qom_rt::prelude::*;
use std::sync::OnceLock;

/// The machine object (`"virt-machine"`), at `/machine`.
#[derive(QomObject)]
#[qom(name = "virt-machine")]
pub struct VirtMachine {
    parent: ParentField<Object>,
    /// The SoC.
    #[child(embedded)]
    pub soc: VirtSoc,
    /// The PCIe host bridge and its bus.
    #[child(embedded)]
    pub pcie: PciHost,
    system: OnceLock<AddressSpace>,
}

impl ObjectImpl for VirtMachine {
    fn init(&self) {
        let system = AddressSpace::new("system", 1 << 40);
        let root = system.root();
        root.add_subregion(0, 0, Owned::from(&self.soc.bus));
        root.add_subregion(ECAM_BASE, 0, Owned::from(&self.pcie.ecam));
        root.add_subregion(PIO_BASE, 0, Owned::from(self.pcie.io().root()));
        // PCI addresses are CPU addresses: the PCI memory space sits below
        // everything else, so BARs answer where no platform device does.
        root.add_subregion(0, -1, Owned::from(self.pcie.memory().root()));
        let _ = self.system.set(system);
    }
}

/// The machine names `--machine` accepts.
pub const MACHINES: &[(&str, &str)] = &[(
    "virt",
    "ARM virt-like board: PL011 UARTs, SP804 timers, PCIe host",
)];

/// A running machine: the `virt-machine` object in the tree, plus the
/// operations the monitor performs on it.
pub struct Machine {
    object: Owned<VirtMachine>,
    path: String,
}

impl Machine {
    /// Builds machine `name` at `/machine` and realizes it.
    pub fn create(name: &str) -> Result<Machine> {
        Machine::create_at(name, "/machine")
    }

    /// Builds machine `name` at `path` (tests build several, one per path).
    pub fn create_at(name: &str, path: &str) -> Result<Machine> {
        if name != "virt" {
            return Err(qom_rt::Error::UnknownType {
                name: name.to_string(),
                suggestions: vec!["virt".into()],
            }
            .into());
        }
        let (parent, leaf) = path.rsplit_once('/').unwrap_or(("", path));
        let parent = if parent.is_empty() {
            qom_rt::root()
        } else {
            qom_rt::container(parent)?
        };
        let object = Owned::<VirtMachine>::new();
        parent.add_child(leaf, object.clone())?;
        let machine = Machine {
            object,
            path: path.to_string(),
        };
        qom_rt::container(&format!("{path}/peripheral"))?;
        qom_rt::container(&format!("{path}/peripheral-anon"))?;
        for device in [
            machine.object.soc.upcast::<Device>(),
            machine.object.pcie.upcast(),
        ] {
            device.realize()?;
            device.reset();
        }
        Ok(machine)
    }

    /// The machine object.
    pub fn object(&self) -> &VirtMachine {
        &self.object
    }

    /// Its path in the tree (`/machine`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// System memory, where guest accesses go.
    pub fn system(&self) -> &AddressSpace {
        self.object.system.get().expect("initialised in init")
    }

    /// The PCIe host bridge.
    pub fn pcie(&self) -> &PciHost {
        &self.object.pcie
    }

    /// Sends UART 0's output to `sink`.
    pub fn set_console(&self, sink: impl Fn(u8) + Send + Sync + 'static) {
        self.object.soc.uarts[0].set_output(sink);
    }

    /// `device_add TYPE,id=ID,prop=value,...`.
    pub fn device_add(&self, spec: &str) -> Result<Owned<Device>> {
        let (type_name, options) = hotplug::parse_device_options(spec)?;
        let info = qom_rt::type_by_name(&type_name)?;
        if !info.is_a(PciHost::TYPE_INFO) && !is_pci(info) {
            return Err(Error::NoBus {
                type_name,
                bus: "PCI (only PCI devices can be hot-plugged on this machine)",
            });
        }
        let handler: &dyn HotplugHandler = &self.object.pcie;
        hotplug::device_add(&self.path, &type_name, &options, handler)
    }

    /// `device_del ID`.
    pub fn device_del(&self, id: &str) -> Result<()> {
        let handler: &dyn HotplugHandler = &self.object.pcie;
        hotplug::device_del(&self.path, id, handler)?;
        // Let go of the unplugged regions now rather than at the next
        // access (an access in flight keeps its own reference).
        for space in [self.system(), self.pcie().memory(), self.pcie().io()] {
            space.refresh();
        }
        Ok(())
    }

    /// Advances the virtual clock of every device on the machine.
    pub fn clock_step(&self, ns: u64) -> Result<usize> {
        crate::clock::clock_step(&self.path, ns)
    }

    /// `info mtree`.
    pub fn info_mtree(&self) -> String {
        let pcie = self.pcie();
        memory::mtree(&[self.system(), pcie.memory(), pcie.io()])
    }

    /// `info pci`.
    pub fn info_pci(&self) -> String {
        self.pcie().info_pci()
    }
}

fn is_pci(info: &qom_rt::TypeInfo) -> bool {
    info.is_a(crate::pci::PciDevice::TYPE_INFO)
}

impl Drop for Machine {
    /// Takes the machine out of the tree; it finalizes with its last
    /// reference.
    fn drop(&mut self) {
        for (_, device) in self.pcie().devices() {
            let _ = self.pcie().unplug_pci(&device);
        }
        self.object.unparent();
        if let Ok(p) = qom_rt::resolve_path(&format!("{}/peripheral", self.path)) {
            p.unparent();
        }
    }
}
