//! Building a `pc` from the command line's options (QEMU's `pc_init1` and
//! `pc_cmos_init`): the memory map, the ISA devices at their ports, PCI
//! bus 0, and what firmware reads from CMOS and fw_cfg.

use super::fw_cfg::{e820, key, FwCfg, FW_CFG_BASE};
use super::i8042::{COMMAND_PORT, DATA_PORT, KBD_IRQ, MOUSE_IRQ};
use super::pci_host::{CONFIG_ADDRESS, CONFIG_DATA};
use super::rtc::RTC_BASE;
use super::serial::{COM1_BASE, COM1_IRQ};
use super::{MachineState, DEFAULT_RAM_SIZE};
use super::{PcMachine, DEBUGCON_BASE, ISA_BIOS_MAX, KVM_RESERVED, MAX_RAM_SIZE, PC_ROM};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::hw::usb::Piix3;
use crate::machine::MachineOptions;
use crate::memory::RamBlock;
use qom_rt::prelude::*;

fn bad(option: &'static str, value: String, reason: String) -> Error {
    Error::BadOption {
        machine: "pc".into(),
        option,
        value,
        reason,
    }
}

/// `MachineClass::init` for `pc`.
pub(super) fn board_init(m: &PcMachine, options: &MachineOptions) -> Result<()> {
    let firmware = options.firmware.as_ref().ok_or(Error::MissingOption {
        machine: "pc".into(),
        option: "-bios FILE",
        reason: "its CPU starts in firmware (QEMU's is bios-256k.bin, SeaBIOS)".into(),
    })?;
    let bios_size = firmware.bytes.len() as u64;
    // `pc_system_firmware_init`'s rule.
    if bios_size == 0 || !bios_size.is_multiple_of(0x1_0000) || bios_size > 16 << 20 {
        return Err(bad(
            "-bios",
            firmware.path.clone(),
            format!("the image is {bios_size:#x} bytes: it must be a non-zero multiple of 64 KiB, at most 16 MiB"),
        ));
    }
    let ram_size = options.ram_size.unwrap_or(DEFAULT_RAM_SIZE);
    if !(1 << 20..=MAX_RAM_SIZE).contains(&ram_size) || !ram_size.is_multiple_of(4096) {
        return Err(bad(
            "-m",
            qom_rt::Size(ram_size).to_string(),
            format!(
                "RAM must be 1M to {} in whole 4K pages (RAM above 4 GiB is not supported)",
                qom_rt::Size(MAX_RAM_SIZE)
            ),
        ));
    }
    let size = |bytes| format!("{}", qom_rt::Size(bytes));
    let ram = RamBlock::new(ram_size).map_err(|e| bad("-m", size(ram_size), e.to_string()))?;
    let bios = RamBlock::from_bytes(&firmware.bytes)
        .map_err(|e| bad("-bios", firmware.path.clone(), e.to_string()))?;
    let option_rom =
        RamBlock::new(PC_ROM.1).map_err(|e| bad("-bios", firmware.path.clone(), e.to_string()))?;
    memory_map(m, ram, bios, option_rom);
    isa_devices(m, options);
    pci_bus(m, options.usb)?;
    firmware_config(m, ram_size, options.boot_menu);
    Ok(())
}

/// RAM at 0, the BIOS below 4 GiB and its last 128 KiB below 1 MiB, PCI
/// memory under everything, the PAM and SMRAM windows (`pc_memory_init`,
/// `pc_system_firmware_init`, `i440fx_init`).
fn memory_map(m: &PcMachine, ram: RamBlock, bios: RamBlock, option_rom: RamBlock) {
    let bios_size = bios.len();
    let isa_size = bios_size.min(ISA_BIOS_MAX);
    m.ram.init_ram("pc.ram", ram);
    m.bios.init_rom("pc.bios", bios);
    m.isa_bios
        .init_alias("isa-bios", &m.bios, bios_size - isa_size, isa_size, true);
    m.option_rom.init_rom("pc.rom", option_rom);

    let system = m.upcast::<MachineState>().system().root();
    let pci_memory = m.pci_memory().root();
    system.add_subregion(0, 0, Owned::from(&m.ram));
    system.add_subregion((1 << 32) - bios_size, 0, Owned::from(&m.bios));
    // PCI addresses are CPU addresses: PCI memory lies under everything
    // (`pc_pci_as_mapping_init`, priority -1).
    system.add_subregion(0, -1, Owned::from(pci_memory));
    pci_memory.add_subregion(0x10_0000 - isa_size, 1, Owned::from(&m.isa_bios));
    pci_memory.add_subregion(PC_ROM.0, 1, Owned::from(&m.option_rom));
    m.i440fx.map_windows(system, &m.ram, pci_memory);
}

/// The ISA devices at their ports, with their interrupt lines.
fn isa_devices(m: &PcMachine, options: &MachineOptions) {
    let io = m.io().root();
    for (region, port) in [
        (&m.pci.conf, CONFIG_ADDRESS),
        (&m.pci.data, CONFIG_DATA),
        (&m.i8042.data, DATA_PORT),
        (&m.i8042.command, COMMAND_PORT),
        (&m.serial.io, COM1_BASE),
        (&m.rtc.io, RTC_BASE),
        (&m.fw_cfg.io, FW_CFG_BASE),
    ] {
        io.add_subregion(port, 0, Owned::from(region));
    }
    // Without -debugcon the port is unassigned, as on QEMU: SeaBIOS then
    // reads 0xff instead of the readback byte and stops writing its log.
    if let Some(backend) = &options.debugcon {
        m.debugcon.set_backend(backend.clone());
        io.add_subregion(DEBUGCON_BASE, 0, Owned::from(&m.debugcon.io));
    }
    m.serial
        .set_backend(options.serial.clone().unwrap_or_default());
    let irqs = &m.piix3.irqs;
    m.serial.irq.connect(irqs.isa_line(COM1_IRQ));
    m.i8042.kbd_irq.connect(irqs.isa_line(KBD_IRQ));
    m.i8042.mouse_irq.connect(irqs.isa_line(MOUSE_IRQ));
}

/// Bus 0: the host bridge at 00.0, the ISA bridge at 01.0 and, with
/// `usb`, the UHCI function at 01.2 (`pc_init1`, `piix3_create`).
fn pci_bus(m: &PcMachine, usb: bool) -> Result<()> {
    for device in [
        m.pci.upcast::<Device>(),
        m.i440fx.upcast(),
        m.piix3.upcast(),
    ] {
        device.realize()?;
    }
    m.pci.set_windows(m.pci_memory().root(), m.io().root());
    let msi = m.msi.clone();
    let sink: crate::pci::MsiSink = std::sync::Arc::new(move |address, data| {
        let sink = msi.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match sink {
            Some(sink) => sink(address, data),
            None => {
                tracing::debug!(target: "pci", address, data, "MSI dropped: no accelerator takes messages")
            }
        }
    });
    m.pci
        .set_bus_master(m.upcast::<MachineState>().system().root(), Some(sink));
    m.pci.set_irqs(m.piix3.irqs.clone());
    m.pci.attach(0x00, m.i440fx.upcast())?;
    m.pci.attach(0x08, m.piix3.upcast())?;
    if usb {
        let uhci = Owned::<Piix3>::new();
        m.add_child(crate::usb::bus::BOARD_USB, uhci.clone())?;
        // Frames follow the machine's clock: host time while the guest runs.
        uhci.uhci
            .set_clock(m.upcast::<MachineState>().clock().clone());
        uhci.upcast::<Device>().realize()?;
        m.pci.attach(0x0a, uhci.upcast())?;
        let _ = m.uhci.set(uhci);
    }
    Ok(())
}

/// CMOS and fw_cfg contents for `ram_size` bytes of RAM and the boot menu
/// choice (`pc_cmos_init`, `fw_cfg_arch_create`, `pc_machine_done`).
fn firmware_config(m: &PcMachine, ram_size: u64, boot_menu: bool) {
    let rtc = &m.rtc;
    rtc.set_memory_config(ram_size, 0, 1);
    // `pc_cmos_init_floppy`: no floppy drives; FPU and PS/2 mouse present.
    rtc.set_byte(0x10, 0x00);
    rtc.set_byte(0x14, 0x06);
    // `set_boot_dev` with the default boot order "cad" (hard disk, floppy,
    // CD-ROM: 2, 1, 3) and the floppy signature check on.
    rtc.set_byte(0x3d, 0x12);
    rtc.set_byte(0x38, 0x30);
    let fw = &m.fw_cfg;
    fw.add_u64(key::RAM_SIZE, ram_size);
    fw.add_u16(key::NOGRAPHIC, 0);
    fw.add_u16(key::NB_CPUS, 1);
    fw.add_u16(key::MAX_CPUS, 1);
    // `-boot menu=on` (`fw_cfg_bootsplash`): SeaBIOS then offers its menu
    // for its default 2.5 s, as no `etc/boot-menu-wait` is given.
    fw.add_u16(key::BOOT_MENU, u16::from(boot_menu));
    fw.add_u32(key::IRQ0_OVERRIDE, 1);
    // `e820_add_entry` puts each entry in both the file and the legacy
    // table: RAM, and KVM's identity map and TSS pages.
    let reserved = (KVM_RESERVED.0, KVM_RESERVED.1, e820::RESERVED);
    fw.add_file(
        "etc/e820",
        FwCfg::e820_file(&[(0, ram_size, e820::RAM), reserved]),
    );
    // The legacy reservation table (FW_CFG_E820_TABLE): a 32-bit count,
    // then entries.
    let mut legacy = 1u32.to_le_bytes().to_vec();
    legacy.extend(FwCfg::e820_file(&[reserved]));
    fw.add_bytes(key::E820_TABLE, legacy);
    fw.add_file("bootorder", Vec::new());
    // `-boot reboot-timeout` unset: -1, no retry after a boot failure.
    fw.add_file("etc/boot-fail-wait", u32::MAX.to_le_bytes().to_vec());
}
