//! The `virt` board: the SoC (UARTs, timers), a PCIe host bridge with its
//! bus, and system memory laid out as QEMU's `virt` board where it has the
//! same devices. It has no CPU, so the host bridge assigns BARs when a
//! device is plugged, as firmware would.

use super::base::{ConsoleSink, MachineImpl, MachineState};
use super::options::MachineOptions;
use crate::error::{Error, Result};
use crate::hotplug::HotplugHandler;
use crate::hw::soc::VirtSoc;
use crate::memory::MemoryRegion;
use crate::pci::{
    PciHost, ECAM_BASE, ECAM_HIGH_BASE, ECAM_HIGH_SIZE, ECAM_SIZE, MMIO_BASE, MMIO_HIGH_BASE,
    MMIO_HIGH_SIZE, MMIO_SIZE, PIO_BASE, PIO_SIZE,
};
use qom_rt::prelude::*;

/// The `virt` board (`"virt-machine"`), at `/machine`.
#[derive(QomObject)]
#[qom(name = "virt-machine")]
pub struct VirtMachine {
    parent: ParentField<MachineState>,
    /// The SoC.
    #[child(embedded)]
    pub soc: VirtSoc,
    /// The PCIe host bridge and its bus.
    #[child(embedded)]
    pub pcie: PciHost,
    /// The ECAM window: an alias of the host bridge's configuration
    /// region, at `0x4010000000` (256 buses) or, with `highmem=off`, at
    /// `0x3f000000` (16 buses), as QEMU 7.2's `create_pcie`.
    #[child(embedded)]
    pub ecam: MemoryRegion,
    /// QEMU's `highmem` machine property: the high ECAM window and the
    /// 64-bit PCI MMIO window above 4 GiB.
    #[property(
        name = "highmem",
        default = true,
        doc = "ECAM at 0x4010000000 and a 64-bit PCI MMIO window at 512 GiB (QEMU's default); off: ECAM at 0x3f000000"
    )]
    pub highmem: Prop<bool>,
}

impl ObjectImpl for VirtMachine {
    fn init(&self) {
        let root = self.upcast::<MachineState>().system().root();
        root.add_subregion(0, 0, Owned::from(&self.soc.bus));
        root.add_subregion(PIO_BASE, 0, Owned::from(self.pcie.io().root()));
        // PCI addresses are CPU addresses: the PCI memory space sits below
        // everything else, so BARs answer where no platform device does.
        root.add_subregion(0, -1, Owned::from(self.pcie.memory().root()));
        // Unassigned reads answer 0 (QEMU's `unassigned_mem_ops`), except
        // in the PCI windows, where no BAR claiming a read is a master
        // abort: all ones, as QEMU's virt answers there.
        let system = self.upcast::<MachineState>().system();
        system.set_unassigned_reads_ones(MMIO_BASE..MMIO_BASE + MMIO_SIZE);
        system.set_unassigned_reads_ones(PIO_BASE..PIO_BASE + PIO_SIZE);
    }
}

impl VirtMachine {
    /// Where the ECAM window is: `0x4010000000` with `highmem` (QEMU's
    /// default), `0x3f000000` without.
    pub fn ecam_base(&self) -> u64 {
        if self.highmem.get() {
            ECAM_HIGH_BASE
        } else {
            ECAM_BASE
        }
    }

    /// Maps the ECAM alias where `highmem` says (once the machine's
    /// properties are set: `-M virt,highmem=off`); with `highmem` the
    /// 64-bit MMIO window answers a master abort (all ones), as QEMU's
    /// `gpex` unmapped-access windows do, since no BAR is placed there.
    fn map_ecam(&self) {
        let size = if self.highmem.get() {
            ECAM_HIGH_SIZE
        } else {
            ECAM_SIZE
        };
        self.ecam
            .init_alias("pcie-ecam", &self.pcie.ecam, 0, size, false);
        let system = self.upcast::<MachineState>().system();
        system
            .root()
            .add_subregion(self.ecam_base(), 0, Owned::from(&self.ecam));
        if self.highmem.get() {
            system.set_unassigned_reads_ones(MMIO_HIGH_BASE..MMIO_HIGH_BASE + MMIO_HIGH_SIZE);
        }
    }
}

impl MachineImpl for VirtMachine {
    const DESCRIPTION: &'static str =
        "ARM virt-like board: PL011 UARTs, SP804 timers, PCIe host bridge";
    const IS_DEFAULT: bool = true;

    fn pci_host(&self) -> Option<&PciHost> {
        Some(&self.pcie)
    }

    fn hotplug_handler(&self) -> Option<&dyn HotplugHandler> {
        Some(&self.pcie)
    }

    /// UART 0 is the console.
    fn set_console(&self, sink: ConsoleSink) {
        self.soc.uarts[0].set_output(sink);
    }

    /// `-serial` is UART 0's output; `virt` has no CPU, RAM, firmware,
    /// built-in USB controller or debug console for the other options.
    fn board_init(&self, options: &MachineOptions) -> Result<()> {
        let refuse = |option, reason: &str| Error::UnsupportedOption {
            machine: "virt".into(),
            option,
            reason: reason.into(),
        };
        if options.ram_size.is_some() {
            return Err(refuse(
                "-m",
                "it has no guest RAM (its devices are driven by the monitor)",
            ));
        }
        if options.firmware.is_some() {
            return Err(refuse("-bios", "it has no CPU to run firmware"));
        }
        if options.usb {
            return Err(refuse(
                "-usb",
                "it has no built-in USB controller (plug one: -device xhci-pci)",
            ));
        }
        if options.debugcon.is_some() {
            return Err(refuse("-debugcon", "it has no debug console port"));
        }
        self.map_ecam();
        if let Some(serial) = options.serial.clone() {
            self.set_console(Box::new(move |byte| serial.write(&[byte])));
        }
        Ok(())
    }
}
