//! The `pc` board: QEMU's i440FX/PIIX3 PC (`hw/i386/pc_piix.c`,
//! `hw/i386/pc.c`) for the devices both have, at QEMU's addresses.
//!
//! ```text
//! system memory                          port I/O (system_io, 64 KiB)
//! 0000_0000 pc.ram (RAM, -m, 128 MiB)    0070 mc146818rtc (index, data)
//! 000a_0000 smram-region -> PCI          00f4 isa-debug-exit (optional)
//! 000c_0000 PAM segments -> PCI or RAM   0402 isa-debugcon
//!   (PCI: pc.rom 0xc0000, isa-bios       03f8 isa-serial (16550A, IRQ 4)
//!    0xe0000 = last 128 KiB of the BIOS) 0510 fw_cfg_io (selector, data)
//! PCI memory below everything (prio -1) 0cf8 CONFIG_ADDRESS, 0cfc CONFIG_DATA
//! 4 GiB - size  pc.bios (ROM, -bios)     PCI I/O BARs where firmware puts them
//! ```
//!
//! PCI bus 0: the i440FX host bridge at 00.0, the PIIX3 ISA bridge at
//! 01.0 and, with `usb`, its UHCI function at 01.2; `device_add` takes the
//! first free slot from 02.0 on. Firmware assigns every BAR. The PIC,
//! IOAPIC, local APIC and PIT are not here: the accelerator supplies them
//! (KVM's in-kernel irqchip and PIT), as QEMU's `pc` does under KVM.

pub mod chardev;
pub mod debugcon;
pub mod fw_cfg;
pub mod i440fx;
pub mod pci_host;
pub mod piix3;
pub mod rtc;
pub mod serial;

use crate::device::Device;
use crate::error::{Error, Result};
use crate::hotplug::{self, HotplugHandler};
use crate::hw::usb::Piix3;
use crate::memory::{AddressSpace, MemoryRegion, RamBlock};

use chardev::CharBackend;
use debugcon::{DebugCon, DebugExit};
use fw_cfg::{e820, key, FwCfg, FW_CFG_BASE};
use i440fx::I440fx;
use pci_host::{PcPciHost, CONFIG_ADDRESS, CONFIG_DATA};
use piix3::Piix3Isa;
use qom_rt::prelude::*;
use rtc::{Rtc, RTC_BASE};
use serial::{Serial, COM1_BASE, COM1_IRQ};
use std::sync::{Arc, Mutex, OnceLock};

/// Default RAM size (QEMU's `pc`: 128 MiB).
pub const DEFAULT_RAM_SIZE: u64 = 128 << 20;
/// Most RAM this board places below 4 GiB (QEMU's `pc` splits at
/// 0xe0000000 with the default `max-ram-below-4g`; above it is not yet
/// supported here).
pub const MAX_RAM_SIZE: u64 = 0xe000_0000;
/// The part of the BIOS image visible below 1 MiB (`isa-bios`).
pub const ISA_BIOS_MAX: u64 = 128 << 10;
/// `pc.rom`: option ROM space at 0xc0000.
pub const PC_ROM: (u64, u64) = (0xc0000, 0x20000);
/// Port of the optional `isa-debug-exit` (the address QEMU test suites
/// give it).
pub const DEBUG_EXIT_BASE: u64 = 0xf4;
/// Debug console port (SeaBIOS's `CONFIG_DEBUG_IO` port).
pub const DEBUGCON_BASE: u64 = 0x402;
/// KVM's identity map and TSS pages, reserved in the e820 map (QEMU's
/// `identity_base`).
pub const KVM_RESERVED: (u64, u64) = (0xfeff_c000, 0x4000);

/// How to build a `pc`.
#[derive(Clone)]
pub struct PcConfig {
    /// RAM in bytes (`-m`).
    pub ram_size: u64,
    /// The BIOS image (`-bios FILE`): a multiple of 64 KiB.
    pub bios: Vec<u8>,
    /// Add the PIIX3's UHCI function at 01.2 (`-usb`).
    pub usb: bool,
    /// The serial port's backend (`-serial`).
    pub serial: CharBackend,
    /// The debug console's backend (`-debugcon`).
    pub debugcon: CharBackend,
    /// Add `isa-debug-exit` at [`DEBUG_EXIT_BASE`].
    pub debug_exit: bool,
}

impl PcConfig {
    /// 128 MiB, no USB, output dropped, for `bios`.
    pub fn new(bios: Vec<u8>) -> PcConfig {
        PcConfig {
            ram_size: DEFAULT_RAM_SIZE,
            bios,
            usb: false,
            serial: CharBackend::Null,
            debugcon: CharBackend::Null,
            debug_exit: false,
        }
    }
}

/// The board object (`"pc-machine"`).
#[derive(QomObject)]
#[qom(name = "pc-machine")]
pub struct PcMachine {
    parent: ParentField<Object>,
    /// Guest RAM.
    #[child(embedded)]
    pub ram: MemoryRegion,
    /// The BIOS image below 4 GiB.
    #[child(embedded)]
    pub bios: MemoryRegion,
    /// Its last 128 KiB below 1 MiB.
    #[child(embedded)]
    pub isa_bios: MemoryRegion,
    /// Option ROM space.
    #[child(embedded)]
    pub option_rom: MemoryRegion,
    /// PCI bus 0 and configuration mechanism #1.
    #[child(embedded)]
    pub pci: PcPciHost,
    /// The host bridge function, 00.0.
    #[child(embedded)]
    pub i440fx: I440fx,
    /// The ISA bridge function, 01.0.
    #[child(embedded)]
    pub piix3: Piix3Isa,
    /// COM1.
    #[child(embedded)]
    pub serial: Serial,
    /// RTC and CMOS.
    #[child(embedded)]
    pub rtc: Rtc,
    /// Debug console.
    #[child(embedded)]
    pub debugcon: DebugCon,
    /// Firmware configuration.
    #[child(embedded)]
    pub fw_cfg: FwCfg,
    /// Test exit port (mapped only when configured).
    #[child(embedded)]
    pub debug_exit: DebugExit,
    system: OnceLock<AddressSpace>,
    io: OnceLock<AddressSpace>,
    pci_memory: OnceLock<AddressSpace>,
    #[allow(clippy::type_complexity)]
    set_irq: Mutex<Option<Arc<dyn Fn(u32, bool) + Send + Sync>>>,
}

impl ObjectImpl for PcMachine {
    fn init(&self) {
        let _ = self.system.set(AddressSpace::new("memory", 1 << 40));
        let _ = self.io.set(AddressSpace::new("io", 0x1_0000));
        let _ = self
            .pci_memory
            .set(AddressSpace::new("pci-memory", 1 << 32));
    }
}

/// A built `pc`: the board object in the tree and its operations.
pub struct Pc {
    object: Owned<PcMachine>,
    path: String,
    uhci: Option<Owned<Piix3>>,
}

fn bad_config(reason: String) -> Error {
    Error::Realize {
        device: "pc-machine".into(),
        reason,
    }
}

impl Pc {
    /// Builds, wires and realizes a `pc` at `path` in the tree
    /// (`/machine` for the monitor; tests use one path each).
    pub fn new(config: PcConfig, path: &str) -> Result<Pc> {
        let bios_size = config.bios.len() as u64;
        if bios_size == 0 || !bios_size.is_multiple_of(0x1_0000) || bios_size > 16 << 20 {
            return Err(bad_config(format!(
                "the BIOS image is {bios_size:#x} bytes: it must be a non-zero multiple of 64 KiB, at most 16 MiB (QEMU's `pc_system_firmware_init` rule)"
            )));
        }
        if config.ram_size < 1 << 20
            || config.ram_size > MAX_RAM_SIZE
            || !config.ram_size.is_multiple_of(4096)
        {
            return Err(bad_config(format!(
                "RAM size {:#x} is not supported: 1 MiB to {MAX_RAM_SIZE:#x}, whole pages",
                config.ram_size
            )));
        }
        let (parent, leaf) = path.rsplit_once('/').unwrap_or(("", path));
        let parent = if parent.is_empty() {
            qom_rt::root()
        } else {
            qom_rt::container(parent)?
        };
        let object = Owned::<PcMachine>::new();
        parent.add_child(leaf, object.clone())?;
        qom_rt::container(&format!("{path}/peripheral"))?;
        qom_rt::container(&format!("{path}/peripheral-anon"))?;
        let mut pc = Pc {
            object,
            path: path.to_string(),
            uhci: None,
        };
        pc.build(config).inspect_err(|_| pc.object.unparent())?;
        Ok(pc)
    }

    fn build(&mut self, config: PcConfig) -> Result<()> {
        let m = &*self.object;
        let ram = RamBlock::new(config.ram_size).map_err(|e| bad_config(e.to_string()))?;
        let bios = RamBlock::from_bytes(&config.bios).map_err(|e| bad_config(e.to_string()))?;
        let option_rom = RamBlock::new(PC_ROM.1).map_err(|e| bad_config(e.to_string()))?;
        let bios_size = bios.len();
        let isa_size = bios_size.min(ISA_BIOS_MAX);
        m.ram.init_ram("pc.ram", ram);
        m.bios.init_rom("pc.bios", bios);
        m.isa_bios
            .init_alias("isa-bios", &m.bios, bios_size - isa_size, isa_size, true);
        m.option_rom.init_rom("pc.rom", option_rom);

        let system = self.system().root();
        let io = self.io().root();
        let pci_memory = self.pci_memory().root();
        system.add_subregion(0, 0, Owned::from(&m.ram));
        system.add_subregion((1 << 32) - bios_size, 0, Owned::from(&m.bios));
        // PCI addresses are CPU addresses: PCI memory lies under
        // everything (`pc_pci_as_mapping_init`, priority -1).
        system.add_subregion(0, -1, Owned::from(pci_memory));
        pci_memory.add_subregion(0x10_0000 - isa_size, 1, Owned::from(&m.isa_bios));
        pci_memory.add_subregion(PC_ROM.0, 1, Owned::from(&m.option_rom));
        m.i440fx.map_windows(system, &m.ram, pci_memory);

        // ISA devices at their ports.
        for (region, port) in [
            (&m.pci.conf, CONFIG_ADDRESS),
            (&m.pci.data, CONFIG_DATA),
            (&m.serial.io, COM1_BASE),
            (&m.rtc.io, RTC_BASE),
            (&m.debugcon.io, DEBUGCON_BASE),
            (&m.fw_cfg.io, FW_CFG_BASE),
        ] {
            io.add_subregion(port, 0, Owned::from(region));
        }
        if config.debug_exit {
            io.add_subregion(DEBUG_EXIT_BASE, 0, Owned::from(&m.debug_exit.io));
        }
        m.serial.set_backend(config.serial);
        m.debugcon.set_backend(config.debugcon);
        let machine = Owned::from(m);
        m.serial
            .irq
            .connect(move |level| machine.raise_irq(COM1_IRQ, level));

        for device in [
            m.pci.upcast::<Device>(),
            m.serial.upcast(),
            m.rtc.upcast(),
            m.debugcon.upcast(),
            m.fw_cfg.upcast(),
            m.debug_exit.upcast(),
            m.i440fx.upcast(),
            m.piix3.upcast(),
        ] {
            device.realize()?;
        }
        m.pci.set_windows(pci_memory, io);
        m.pci.attach(0x00, m.i440fx.upcast())?;
        m.pci.attach(0x08, m.piix3.upcast())?;
        if config.usb {
            let uhci = Owned::<Piix3>::new();
            self.object.add_child("piix3-usb-uhci", uhci.clone())?;
            uhci.upcast::<Device>().realize()?;
            self.object.pci.attach(0x0a, uhci.upcast())?;
            self.uhci = Some(uhci);
        }
        self.firmware_config(config.ram_size);
        self.reset();
        Ok(())
    }

    /// CMOS and fw_cfg contents for `ram_size` bytes of RAM.
    fn firmware_config(&self, ram_size: u64) {
        let m = &*self.object;
        m.rtc.set_memory_config(ram_size, 0, 1);
        // `pc_cmos_init`: FPU and PS/2 mouse present; boot order c, a, d.
        m.rtc.set_byte(0x14, 0x06);
        m.rtc.set_byte(0x3d, 0x12);
        m.rtc.set_byte(0x38, 0x30);
        let fw = &m.fw_cfg;
        fw.add_u64(key::RAM_SIZE, ram_size);
        fw.add_u16(key::NOGRAPHIC, 0);
        fw.add_u16(key::NB_CPUS, 1);
        fw.add_u16(key::MAX_CPUS, 1);
        fw.add_u16(key::BOOT_MENU, 0);
        fw.add_u32(key::IRQ0_OVERRIDE, 1);
        fw.add_file("etc/e820", FwCfg::e820_file(&[(0, ram_size, e820::RAM)]));
        // The legacy reservation table (FW_CFG_E820_TABLE, 0x8003): a
        // 32-bit count, then entries.
        let mut reserved = 1u32.to_le_bytes().to_vec();
        reserved.extend(FwCfg::e820_file(&[(
            KVM_RESERVED.0,
            KVM_RESERVED.1,
            e820::RESERVED,
        )]));
        fw.add_bytes(0x8003, reserved);
        fw.add_file("bootorder", Vec::new());
        // `-boot reboot-timeout` unset: -1, no retry after a boot failure.
        fw.add_file("etc/boot-fail-wait", u32::MAX.to_le_bytes().to_vec());
    }

    /// The board object.
    pub fn machine(&self) -> &PcMachine {
        &self.object
    }

    /// Its path in the tree.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// System memory (MMIO exits, RAM slots, DMA).
    pub fn system(&self) -> &AddressSpace {
        self.object.system.get().expect("created in init")
    }

    /// The port-I/O space.
    pub fn io(&self) -> &AddressSpace {
        self.object.io.get().expect("created in init")
    }

    /// PCI memory space (memory BARs).
    pub fn pci_memory(&self) -> &AddressSpace {
        self.object.pci_memory.get().expect("created in init")
    }

    /// The UHCI function at 01.2, with `usb`.
    pub fn uhci(&self) -> Option<&Piix3> {
        self.uhci.as_deref()
    }

    /// Cold reset of every device on the board.
    pub fn reset(&self) {
        let m = &*self.object;
        for (_, function) in m.pci.functions() {
            function.upcast::<Device>().reset();
        }
        for device in [
            m.serial.upcast::<Device>(),
            m.rtc.upcast(),
            m.debugcon.upcast(),
            m.fw_cfg.upcast(),
        ] {
            device.reset();
        }
    }

    /// Where ISA interrupts go: `set_irq(isa_irq, level)`.
    pub fn connect_irqs(&self, set_irq: Arc<dyn Fn(u32, bool) + Send + Sync>) {
        *self
            .object
            .set_irq
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(set_irq);
    }

    /// Where `isa-debug-exit` writes go.
    pub fn connect_exit(&self, exit: Arc<dyn Fn(u32) + Send + Sync>) {
        self.object.debug_exit.connect(exit);
    }

    /// `device_add TYPE,id=ID,...` of a PCI device: plugged at the first
    /// free slot (or `addr`), BARs left for the guest to program.
    pub fn device_add(&self, spec: &str) -> Result<Owned<Device>> {
        let options = crate::options::DeviceOptions::parse(spec)?;
        let handler: &dyn HotplugHandler = &self.object.pci;
        hotplug::device_add(&self.path, &options, handler)
    }

    /// `device_del ID`.
    pub fn device_del(&self, id: &str) -> Result<()> {
        let handler: &dyn HotplugHandler = &self.object.pci;
        hotplug::device_del(&self.path, id, handler)?;
        // Let go of the unplugged regions now rather than at the next
        // access (an access in flight keeps its own reference).
        for space in [self.system(), self.io(), self.pci_memory()] {
            space.refresh();
        }
        Ok(())
    }
}

impl PcMachine {
    fn raise_irq(&self, irq: u32, level: bool) {
        let sink = self
            .set_irq
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(sink) = sink {
            sink(irq, level);
        }
    }
}

impl Drop for Pc {
    /// Takes the board out of the tree; it finalizes with its last
    /// reference.
    fn drop(&mut self) {
        for (devfn, _) in self.object.pci.functions() {
            self.object.pci.detach(devfn);
        }
        self.object.serial.irq.disconnect();
        self.object.unparent();
        for sub in ["peripheral", "peripheral-anon"] {
            if let Ok(p) = qom_rt::resolve_path(&format!("{}/{sub}", self.path)) {
                p.unparent();
            }
        }
    }
}
