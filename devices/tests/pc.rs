//! The `pc` board's pieces, driven through its address spaces as firmware
//! drives them (no KVM needed): RAM, ROM and aliases, PAM, configuration
//! mechanism #1, fw_cfg, the 16550A, the RTC/CMOS bytes, PIRQ routing,
//! DMA and bus mastering, 64-bit BARs, the debug ports. The values
//! asserted are QEMU's, with the function of QEMU's source that sets
//! each.
//!
//! Not under Miri: guest RAM is an anonymous mapping made through
//! vm-memory, which Miri does not emulate. The register logic of the ISA
//! interrupt routing, the i8042 and the UHCI clock runs under Miri in
//! their modules' unit tests.
#![cfg(not(miri))]

use qom_devices::chardev::CharBackend;
use qom_devices::hw::usb::XhciPci;
use qom_devices::machine::{Firmware, Machine, MachineOptions};
use qom_devices::pc::PcMachine;
use qom_devices::pci::{DmaError, PciDevice};
use qom_devices::{AddressSpace, Error};
use qom_rt::prelude::*;
use std::sync::{Arc, Mutex};

/// A 256 KiB BIOS image whose byte at offset `i` is `i * 7 + i / 256`
/// (distinct bytes, so an alias at the wrong offset shows).
fn firmware() -> Firmware {
    let bytes = (0..0x4_0000u32).map(|i| (i * 7 + i / 256) as u8).collect();
    Firmware {
        path: "test.bin".into(),
        bytes,
    }
}

fn options() -> MachineOptions {
    MachineOptions {
        firmware: Some(firmware()),
        ..MachineOptions::default()
    }
}

fn pc(path: &str) -> Machine {
    Machine::create_with("pc", path, &options()).expect("pc builds")
}

fn io(m: &Machine) -> &AddressSpace {
    m.cpu_board().expect("pc has a CPU side").system_io()
}

/// A configuration read through 0xcf8/0xcfc, as firmware does it.
fn config_read(m: &Machine, devfn: u8, register: u32, size: u32) -> u64 {
    let address = 0x8000_0000 | u32::from(devfn) << 8 | (register & 0xfc);
    io(m).write(0xcf8, 4, address.into());
    io(m).read(0xcfc + u64::from(register & 3), size)
}

fn config_write(m: &Machine, devfn: u8, register: u32, size: u32, value: u64) {
    let address = 0x8000_0000 | u32::from(devfn) << 8 | (register & 0xfc);
    io(m).write(0xcf8, 4, address.into());
    io(m).write(0xcfc + u64::from(register & 3), size, value);
}

fn bios_byte(offset: u64) -> u64 {
    let i = offset as u32;
    u64::from((i * 7 + i / 256) as u8)
}

#[test]
fn ram_rom_and_the_bios_alias() {
    let m = pc("/pc-memory");
    let system = m.system();
    // RAM: 128 MiB by default (`pc_memory_init`), read-write.
    system.write(0x7ff_fff0, 4, 0x1234_5678);
    assert_eq!(system.read(0x7ff_fff0, 4), 0x1234_5678);
    // Unassigned memory reads 0, as QEMU 7.2's `pc` answers there (qtest
    // `readl 0x8000000` on qemu-system-x86_64).
    assert_eq!(system.read(0x800_0000, 4), 0, "nothing past RAM");
    // The BIOS at 4 GiB - 256 KiB (`pc_system_firmware_init`): ROM, so
    // guest writes are dropped.
    let base = (1u64 << 32) - 0x4_0000;
    assert_eq!(system.read(base + 0x1234, 1), bios_byte(0x1234));
    system.write(base + 0x1234, 1, !bios_byte(0x1234) & 0xff);
    assert_eq!(system.read(base + 0x1234, 1), bios_byte(0x1234), "ROM");
    // isa-bios: the last 128 KiB at 0xe0000, also read-only, through
    // PCI memory while PAM shows PCI (its reset value).
    for offset in [0, 0x1_0000, 0x1_fff0] {
        assert_eq!(
            system.read(0xe_0000 + offset, 1),
            bios_byte(0x2_0000 + offset),
            "0xe0000 + {offset:#x} is BIOS offset 0x20000 + {offset:#x}"
        );
    }
    system.write(0xf_fff0, 1, 0);
    assert_eq!(system.read(0xf_fff0, 1), bios_byte(0x3_fff0));
    // pc.rom: zeroed option ROM space at 0xc0000, read-only.
    system.write(0xc_0000, 4, 0xdead_beef);
    assert_eq!(system.read(0xc_0000, 4), 0);
}

#[test]
fn pam_registers_switch_the_bios_segments_between_pci_and_ram() {
    let m = pc("/pc-pam");
    let system = m.system();
    // PAM0's high nibble is segment 0xf0000 (`i440fx_update_memory_mappings`):
    // mode 3 is RAM, read-write; RAM starts zeroed.
    config_write(&m, 0, 0x59, 1, 0x30);
    assert_eq!(config_read(&m, 0, 0x59, 1), 0x30);
    assert_eq!(system.read(0xf_0000, 4), 0);
    system.write(0xf_0000, 4, 0xcafe_f00d);
    assert_eq!(system.read(0xf_0000, 4), 0xcafe_f00d);
    // Mode 1: reads RAM, writes go to PCI (`pam_update`), so are lost.
    config_write(&m, 0, 0x59, 1, 0x10);
    system.write(0xf_0000, 4, 0);
    assert_eq!(system.read(0xf_0000, 4), 0xcafe_f00d);
    // Mode 0: the ROM again.
    config_write(&m, 0, 0x59, 1, 0x00);
    assert_eq!(system.read(0xf_0000, 1), bios_byte(0x3_0000));
    // PAM1's low nibble is 0xc0000-0xc3fff; 0xc4000 is unaffected.
    config_write(&m, 0, 0x5a, 1, 0x03);
    system.write(0xc_0000, 4, 0x55aa);
    assert_eq!(system.read(0xc_0000, 4), 0x55aa);
    system.write(0xc_4000, 4, 0x55aa);
    assert_eq!(system.read(0xc_4000, 4), 0, "still pc.rom");
    // A cold reset clears the PAM registers (`i440fx_reset`... PAM0-6 = 0).
    m.reset();
    assert_eq!(config_read(&m, 0, 0x5a, 1), 0);
    assert_eq!(system.read(0xc_0000, 4), 0, "pc.rom again");
}

#[test]
fn configuration_mechanism_one_reaches_the_fixed_functions() {
    let m = pc("/pc-config");
    // 00.0 i440FX 8086:1237 rev 2, 01.0 PIIX3 8086:7000 (multi-function).
    assert_eq!(config_read(&m, 0x00, 0, 4), 0x1237_8086);
    assert_eq!(config_read(&m, 0x00, 8, 1), 0x02);
    assert_eq!(config_read(&m, 0x08, 0, 4), 0x7000_8086);
    assert_eq!(config_read(&m, 0x08, 0x0e, 1), 0x80);
    // QEMU's subsystem IDs (`pci_set_default_subsystem_id`).
    assert_eq!(config_read(&m, 0x00, 0x2c, 4), 0x1100_1af4);
    // No function at 01.2 without -usb, none at 03.0: all ones.
    assert_eq!(config_read(&m, 0x0a, 0, 4), 0xffff_ffff);
    assert_eq!(config_read(&m, 0x18, 0, 2), 0xffff);
    // CONFIG_ADDRESS reads back only as a dword (`pci_host_config_read`).
    io(&m).write(0xcf8, 4, 0x8000_0800);
    assert_eq!(io(&m).read(0xcf8, 4), 0x8000_0800);
    assert_eq!(io(&m).read(0xcf8, 2), 0xffff);
    // With bit 31 clear, data reads are all ones.
    io(&m).write(0xcf8, 4, 0x0000_0000);
    assert_eq!(io(&m).read(0xcfc, 4), 0xffff_ffff);
}

#[test]
fn usb_adds_the_uhci_function_at_01_2_on_intd() {
    let options = MachineOptions {
        usb: true,
        ..options()
    };
    let m = Machine::create_with("pc", "/pc-usb", &options).unwrap();
    assert_eq!(config_read(&m, 0x0a, 0, 4), 0x7020_8086);
    // `usb_uhci_common_realize`: interrupt pin D.
    assert_eq!(config_read(&m, 0x0a, 0x3d, 1), 4);
    // BAR 4, 32 bytes of I/O: sizing reads back ~0x1f | I/O.
    config_write(&m, 0x0a, 0x20, 4, 0xffff_ffff);
    assert_eq!(config_read(&m, 0x0a, 0x20, 4), 0xffff_ffe1);
}

#[test]
fn xhci_bar0_is_64_bit_memory_as_qemus() {
    let m = pc("/pc-xhci-bar");
    m.device_add("xhci-pci,id=usb0").unwrap();
    let devfn = 0x10; // the first free slot, 2
                      // `usb_xhci_pci_realize` registers BAR 0 with
                      // PCI_BASE_ADDRESS_MEM_TYPE_64: it reads 0x4 before assignment.
    assert_eq!(config_read(&m, devfn, 0x10, 4), 0x4);
    assert_eq!(config_read(&m, devfn, 0x14, 4), 0);
    // Sizing: 16 KiB, and the high dword is all address bits.
    config_write(&m, devfn, 0x10, 4, 0xffff_ffff);
    config_write(&m, devfn, 0x14, 4, 0xffff_ffff);
    assert_eq!(config_read(&m, devfn, 0x10, 4), 0xffff_c004);
    assert_eq!(config_read(&m, devfn, 0x14, 4), 0xffff_ffff);
    // Programmed as SeaBIOS does, and memory decoding on: mapped.
    config_write(&m, devfn, 0x10, 4, 0xfebf_c000);
    config_write(&m, devfn, 0x14, 4, 0);
    config_write(&m, devfn, 0x04, 2, 0x2);
    assert_eq!(
        m.system().read(0xfebf_c000, 4),
        0x0100_0040,
        "CAPLENGTH, HCIVERSION"
    );
    let info = m.info_pci();
    assert!(
        info.contains("BAR0: 64 bit memory at 0xfebfc000 [0xfebfffff]."),
        "{info}"
    );
    // With the high dword set the BAR leaves the 4 GiB window.
    config_write(&m, devfn, 0x14, 4, 0x1);
    // The PCI hole: a master abort, all ones (QEMU 7.2 answers 0).
    assert_eq!(m.system().read(0xfebf_c000, 4), 0xffff_ffff);
}

#[test]
fn fw_cfg_signature_files_e820_and_bootorder() {
    let m = pc("/pc-fwcfg");
    let io = io(&m);
    let item = |key: u16, len: usize| -> Vec<u8> {
        io.write(0x510, 2, key.into());
        (0..len).map(|_| io.read(0x511, 1) as u8).collect()
    };
    assert_eq!(item(0x00, 4), b"QEMU", "FW_CFG_SIGNATURE");
    assert_eq!(
        item(0x01, 4),
        [1, 0, 0, 0],
        "FW_CFG_ID: traditional interface"
    );
    assert_eq!(
        item(0x03, 8),
        (128u64 << 20).to_le_bytes(),
        "FW_CFG_RAM_SIZE"
    );
    assert_eq!(item(0x05, 2), [1, 0], "FW_CFG_NB_CPUS");
    // The directory (`FWCfgFiles`): a big-endian count, then 64-byte
    // entries sorted by name, selectors from 0x20.
    let dir = item(0x19, 4 + 3 * 64);
    assert_eq!(&dir[..4], [0, 0, 0, 3]);
    let entry = |n: usize| {
        let e = &dir[4 + 64 * n..4 + 64 * (n + 1)];
        let name = String::from_utf8_lossy(&e[8..])
            .trim_end_matches('\0')
            .to_string();
        let size = u32::from_be_bytes(e[..4].try_into().unwrap());
        let select = u16::from_be_bytes(e[4..6].try_into().unwrap());
        (name, size, select)
    };
    assert_eq!(entry(0), ("bootorder".into(), 0, 0x20));
    assert_eq!(entry(1), ("etc/boot-fail-wait".into(), 4, 0x21));
    assert_eq!(entry(2), ("etc/e820".into(), 40, 0x22));
    // etc/e820 (`e820_add_entry`): RAM, then KVM's reserved pages.
    let e820 = item(0x22, 40);
    let field = |at: usize, len: usize| {
        let mut bytes = [0u8; 8];
        bytes[..len].copy_from_slice(&e820[at..at + len]);
        u64::from_le_bytes(bytes)
    };
    assert_eq!((field(0, 8), field(8, 8), field(16, 4)), (0, 128 << 20, 1));
    assert_eq!(
        (field(20, 8), field(28, 8), field(36, 4)),
        (0xfeff_c000, 0x4000, 2)
    );
    // Past an item's end, reads are 0; a reselect rewinds.
    assert_eq!(item(0x00, 6), b"QEMU\0\0");
}

#[test]
fn cmos_holds_what_pc_cmos_init_writes() {
    let m = pc("/pc-cmos");
    let io = io(&m);
    let cmos = |index: u8| {
        // Bit 7 of the index is the NMI mask (SeaBIOS sets it).
        io.write(0x70, 1, u64::from(index | 0x80));
        io.read(0x71, 1)
    };
    let word = |index: u8| cmos(index) | cmos(index + 1) << 8;
    assert_eq!(word(0x15), 640, "base memory in KiB");
    assert_eq!(
        word(0x17),
        0xffff,
        "memory above 1 MiB in KiB, at most 0xffff"
    );
    assert_eq!(word(0x30), 0xffff);
    assert_eq!(word(0x34), (128 - 16) * 16, "above 16 MiB in 64 KiB units");
    assert_eq!(cmos(0x5f), 0, "smp_cpus - 1");
    // `set_boot_dev` for "cad" with the floppy check on.
    assert_eq!(cmos(0x3d), 0x12);
    assert_eq!(cmos(0x38), 0x30);
    // `pc_cmos_init_floppy`: no drives; FPU and PS/2 mouse.
    assert_eq!(cmos(0x10), 0x00);
    assert_eq!(cmos(0x14), 0x06);
    // `rtc_reset`/`rtc_realizefn`: A = 0x26 (UIP reads clear), B 24-hour
    // BCD, D valid RAM and time; reading C clears it.
    assert_eq!(cmos(0x0a), 0x26);
    assert_eq!(cmos(0x0b), 0x02);
    assert_eq!(cmos(0x0d), 0x80);
    assert_eq!(cmos(0x0c), 0x00);
    // The index port reads all ones (write-only).
    assert_eq!(io.read(0x70, 1), 0xff);
    // The century in BCD: 0x20 until 2100.
    assert_eq!(cmos(0x32), 0x20);
}

#[test]
fn the_16550a_as_serial_c_resets_it_and_sends_to_its_backend() {
    let (serial, output) = CharBackend::Null.captured();
    let options = MachineOptions {
        serial: Some(serial),
        ..options()
    };
    let m = Machine::create_with("pc", "/pc-serial", &options).unwrap();
    let io = io(&m);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    m.cpu_board()
        .unwrap()
        .connect_irqs(Arc::new(move |irq, level| {
            log.lock().unwrap().push((irq, level))
        }));
    // `serial_reset`: LSR THRE|TEMT, IIR no interrupt, MSR DCD|DSR|CTS,
    // MCR OUT2, divisor 0x0c.
    assert_eq!(io.read(0x3fd, 1), 0x60);
    assert_eq!(io.read(0x3fa, 1), 0x01);
    assert_eq!(io.read(0x3fe, 1), 0xb0);
    assert_eq!(io.read(0x3fc, 1), 0x08);
    io.write(0x3fb, 1, 0x80);
    assert_eq!(io.read(0x3f8, 1) | io.read(0x3f9, 1) << 8, 0x0c);
    io.write(0x3fb, 1, 0x03);
    // Transmitting: the byte goes out at once.
    io.write(0x3f8, 1, u64::from(b'Q'));
    assert!(output.wait_for("Q", std::time::Duration::ZERO));
    // Enabling the THR-empty interrupt with THR empty raises IRQ 4;
    // reading IIR (0x02: THRI) acknowledges it.
    io.write(0x3f9, 1, 0x02);
    assert_eq!(io.read(0x3fa, 1), 0x02);
    assert_eq!(io.read(0x3fa, 1), 0x01);
    assert_eq!(*seen.lock().unwrap(), [(4, true), (4, false)]);
}

#[test]
fn pci_interrupts_follow_the_piix3_routing_to_isa_lines() {
    let m = pc("/pc-pirq");
    let usb0 = m.device_add("xhci-pci,id=usb0").unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    m.cpu_board()
        .unwrap()
        .connect_irqs(Arc::new(move |irq, level| {
            log.lock().unwrap().push((irq, level))
        }));
    let pci = usb0.downcast::<PciDevice>().unwrap();
    // Routing disabled at reset (0x80, `piix3_reset`): nothing reaches the
    // interrupt controllers.
    assert_eq!(config_read(&m, 0x08, 0x60, 4), 0x8080_8080);
    pci.set_irq(true);
    assert!(seen.lock().unwrap().is_empty());
    // SeaBIOS's routes (`piix_isa_bridge_setup`): A-D to 10, 10, 11, 11.
    // Slot 2's INTA is PIRQB (`pci_slot_get_pirq`), so IRQ 10.
    config_write(&m, 0x08, 0x60, 4, 0x0b0b_0a0a);
    assert_eq!(*seen.lock().unwrap(), [(10, true)]);
    // INTx Disable in the command register holds the pin low.
    config_write(&m, 0x10, 0x04, 2, 0x400);
    assert_eq!(seen.lock().unwrap().last(), Some(&(10, false)));
    config_write(&m, 0x10, 0x04, 2, 0);
    // Unplugging withdraws the interrupt.
    m.device_del("usb0").unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        [(10, true), (10, false), (10, true), (10, false)]
    );
}

#[test]
fn dma_is_refused_until_the_guest_enables_bus_mastering() {
    let m = pc("/pc-dma");
    let usb0 = m.device_add("xhci-pci,id=usb0").unwrap();
    let pci = usb0.downcast::<PciDevice>().unwrap();
    m.system().write(0x1000, 4, 0x0403_0201);
    let mut buf = [0u8; 4];
    let err = pci.dma_read(m.system(), 0x1000, &mut buf).unwrap_err();
    assert!(
        matches!(err, DmaError::BusMasterDisabled { addr: 0x1000, .. }),
        "{err}"
    );
    assert_eq!(buf, [0xff; 4], "a refused read is all ones");
    assert!(pci.dma_write(m.system(), 0x1000, &[9, 9]).is_err());
    assert_eq!(m.system().read(0x1000, 4), 0x0403_0201, "nothing written");
    // COMMAND bit 2 (`pci_set_master`).
    config_write(&m, 0x10, 0x04, 2, 0x4);
    pci.dma_read(m.system(), 0x1000, &mut buf).unwrap();
    assert_eq!(buf, [1, 2, 3, 4]);
    pci.dma_write(m.system(), 0x1002, &[9, 9]).unwrap();
    assert_eq!(m.system().read(0x1000, 4), 0x0909_0201);
    // DMA into ROM is dropped like a guest write.
    let rom = (1u64 << 32) - 0x100;
    pci.dma_write(m.system(), rom, &[0]).unwrap();
    assert_eq!(m.system().read(rom, 1), bios_byte(0x3_ff00));
}

#[test]
fn the_debug_console_is_there_only_with_debugcon() {
    let m = pc("/pc-nodebugcon");
    // Unassigned: SeaBIOS reads 0xff and writes no log, as on QEMU.
    assert_eq!(io(&m).read(0x402, 1), 0xff);
    let (debugcon, log) = CharBackend::Null.captured();
    let options = MachineOptions {
        debugcon: Some(debugcon),
        ..options()
    };
    let m = Machine::create_with("pc", "/pc-debugcon", &options).unwrap();
    assert_eq!(io(&m).read(0x402, 1), 0xe9, "QEMU_DEBUGCON_READBACK");
    for byte in b"hi\n" {
        io(&m).write(0x402, 1, u64::from(*byte));
    }
    assert_eq!(log.text(), "hi\n");
}

#[test]
fn isa_debug_exit_is_plugged_with_device_and_cannot_be_deleted() {
    let m = pc("/pc-exit");
    let status = Arc::new(Mutex::new(None));
    let last = status.clone();
    m.cpu_board()
        .unwrap()
        .connect_exit(Arc::new(move |s| *last.lock().unwrap() = Some(s)));
    m.device_add("isa-debug-exit,id=exit,iobase=0xf4,iosize=4")
        .unwrap();
    // `debug_exit_write`: exit((val << 1) | 1).
    io(&m).write(0xf4, 4, 2);
    assert_eq!(*status.lock().unwrap(), Some(5));
    let err = m.device_del("exit").unwrap_err();
    assert!(matches!(err, Error::NotHotpluggable { .. }), "{err}");
    let err = m
        .device_add("isa-debug-exit,iobase=0xfffe,iosize=4")
        .unwrap_err();
    assert!(err.to_string().contains("past 0xffff"), "{err}");
}

#[test]
fn the_keyboard_controller_answers_its_self_test() {
    let m = pc("/pc-i8042");
    let io = io(&m);
    // `kbd_reset`: KBD_STAT_CMD | KBD_STAT_UNLOCKED, nothing waiting.
    assert_eq!(io.read(0x64, 1), 0x18);
    io.write(0x64, 1, 0xaa);
    assert_eq!(io.read(0x64, 1) & 0x01, 0x01, "output buffer full");
    assert_eq!(io.read(0x60, 1), 0x55);
}

#[test]
fn options_pc_cannot_honour_are_refused_by_name() {
    let no_bios = Machine::create_with("pc", "/pc-nobios", &MachineOptions::default());
    assert_eq!(
        no_bios.unwrap_err().to_string(),
        "machine `pc` needs -bios FILE: its CPU starts in firmware (QEMU's is bios-256k.bin, SeaBIOS)"
    );
    let odd = MachineOptions {
        firmware: Some(Firmware {
            path: "odd.bin".into(),
            bytes: vec![0; 1000],
        }),
        ..MachineOptions::default()
    };
    let err = Machine::create_with("pc", "/pc-odd", &odd).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("machine `pc`: -bios odd.bin: the image is 0x3e8 bytes"),
        "{err}"
    );
    let huge = MachineOptions {
        ram_size: Some(4 << 30),
        ..options()
    };
    let err = Machine::create_with("pc", "/pc-huge", &huge).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("machine `pc`: -m 4G: RAM must be 1M to 3584M"),
        "{err}"
    );
    assert!(
        qom_rt::resolve_path("/pc-huge").is_err(),
        "nothing left in the tree"
    );
}

#[test]
fn pc_is_a_machine_type_with_a_cpu_side_and_virt_is_not() {
    let m = pc("/pc-type");
    assert_eq!(m.name(), "pc");
    assert!(m.board::<PcMachine>().is_some());
    assert!(m.cpu_board().is_some());
    let spaces: Vec<&str> = m.address_spaces().iter().map(|s| s.name()).collect();
    assert_eq!(spaces, ["memory", "io", "pci-memory"]);
    let virt = Machine::create_at("virt", "/pc-type-virt").unwrap();
    assert!(virt.cpu_board().is_none());
    // Controllers plugged on pc are unplugged and freed with it.
    let usb0 = m.device_add("xhci-pci,id=usb0").unwrap();
    assert!(usb0.downcast::<XhciPci>().is_some());
    drop(m);
    assert!(qom_rt::resolve_path("/pc-type").is_err());
}
