//! xHCI and USB devices on the `pc` board, driven through configuration
//! space, BAR 0 and guest RAM as firmware drives them (no KVM needed):
//! QEMU's configuration space for `qemu-xhci`, `device_add`/`device_del`
//! of USB devices on `usb0.0`, DMA through the bus-master bit, and the
//! controller's unplug taking its devices along.
#![cfg(not(miri))]

use qom_devices::machine::{Firmware, Machine, MachineOptions};
use qom_devices::AddressSpace;

fn pc(path: &str) -> Machine {
    let options = MachineOptions {
        firmware: Some(Firmware {
            path: "test.bin".into(),
            bytes: vec![0; 0x1_0000],
        }),
        ..MachineOptions::default()
    };
    Machine::create_with("pc", path, &options).expect("pc builds")
}

fn io(m: &Machine) -> &AddressSpace {
    m.cpu_board().expect("pc has a CPU side").system_io()
}

fn config_read(m: &Machine, devfn: u8, register: u32, size: u32) -> u64 {
    io(m).write(
        0xcf8,
        4,
        (0x8000_0000 | u32::from(devfn) << 8 | (register & 0xfc)).into(),
    );
    io(m).read(0xcfc + u64::from(register & 3), size)
}

fn config_write(m: &Machine, devfn: u8, register: u32, size: u32, value: u64) {
    io(m).write(
        0xcf8,
        4,
        (0x8000_0000 | u32::from(devfn) << 8 | (register & 0xfc)).into(),
    );
    io(m).write(0xcfc + u64::from(register & 3), size, value);
}

const DEVFN: u8 = 0x10;
const BAR: u64 = 0xfebf_c000;

/// Maps BAR 0 and enables memory decoding (and bus mastering if asked).
fn map(m: &Machine, master: bool) {
    config_write(m, DEVFN, 0x10, 4, BAR);
    config_write(m, DEVFN, 0x14, 4, 0);
    config_write(m, DEVFN, 0x04, 2, if master { 0x6 } else { 0x2 });
}

#[test]
fn configuration_space_lists_msix_as_qemu_xhci() {
    let m = pc("/usb-pc-config");
    m.device_add("xhci-pci,id=usb0").unwrap();
    assert_eq!(config_read(&m, DEVFN, 0x00, 4), 0x000d_1b36);
    assert_eq!(
        config_read(&m, DEVFN, 0x06, 2) & 0x10,
        0x10,
        "capability list"
    );
    assert_eq!(config_read(&m, DEVFN, 0x2c, 4), 0x1100_1af4, "subsystem");
    assert_eq!(config_read(&m, DEVFN, 0x60, 2), 0x0030, "SBRN 3.0");
    assert_eq!(config_read(&m, DEVFN, 0x34, 1), 0x90);
    // MSI-X: 16 vectors, table at 0x3000 and PBA at 0x3800 of BAR 0.
    assert_eq!(
        config_read(&m, DEVFN, 0x90, 4),
        0x000f_0011,
        "MSI-X, the last capability"
    );
    assert_eq!(config_read(&m, DEVFN, 0x94, 4), 0x3000);
    assert_eq!(config_read(&m, DEVFN, 0x98, 4), 0x3800);
    assert_eq!(
        config_read(&m, DEVFN, 0xa0, 4),
        0,
        "no PCI Express capability on pc"
    );
    config_write(&m, DEVFN, 0x92, 2, 0xffff);
    assert_eq!(
        config_read(&m, DEVFN, 0x92, 2),
        0xc00f,
        "only enable and mask are writable"
    );
    // The table answers in BAR 0: vectors start masked.
    map(&m, false);
    assert_eq!(m.system().read(BAR + 0x300c, 4), 1);
    m.system().write(BAR + 0x3000, 4, 0xfee0_0000);
    assert_eq!(m.system().read(BAR + 0x3000, 4), 0xfee0_0000);
}

#[test]
fn usb_devices_plug_on_the_controllers_bus_and_leave_with_it() {
    let m = pc("/usb-pc-plug");
    let err = m.device_add("usb-kbd,id=k0").unwrap_err().to_string();
    assert!(err.contains("0 USB controllers"), "{err}");
    m.device_add("xhci-pci,id=usb0").unwrap();
    let err = m
        .device_add("usb-kbd,bus=usb9.0,id=k0")
        .unwrap_err()
        .to_string();
    assert!(err.contains("no controller with id `usb9`"), "{err}");
    let err = m
        .device_add("usb-kbd,bus=usb0,id=k0")
        .unwrap_err()
        .to_string();
    assert!(err.contains("<controller id>.0"), "{err}");
    m.device_add("usb-kbd,bus=usb0.0,id=kbd0").unwrap();
    m.device_add("usb-kbd,id=kbd1").unwrap();
    map(&m, false);
    // High speed: USB 2 ports #5 and #6 connect (CCS, speed 3).
    assert_eq!(m.system().read(BAR + 0x480, 4) & 0x3c01, 0xc01);
    assert_eq!(m.system().read(BAR + 0x490, 4) & 0x3c01, 0xc01);
    assert_eq!(m.system().read(BAR + 0x4a0, 4) & 1, 0);
    m.device_del("kbd0").unwrap();
    assert_eq!(m.system().read(BAR + 0x480, 4) & 1, 0, "disconnected");
    assert!(qom_rt::resolve_path("/usb-pc-plug/peripheral/kbd0").is_err());
    m.device_add("usb-kbd,bus=usb0.0,id=kbd0").unwrap();
    assert_eq!(
        m.system().read(BAR + 0x480, 4) & 1,
        1,
        "the free port again"
    );
    // The controller goes, and its devices with it (QEMU's bus unplug).
    m.device_del("usb0").unwrap();
    assert!(qom_rt::resolve_path("/usb-pc-plug/peripheral/kbd0").is_err());
    assert!(qom_rt::resolve_path("/usb-pc-plug/peripheral/kbd1").is_err());
    m.device_add("xhci-pci,id=usb0").unwrap();
    m.device_add("usb-kbd,bus=usb0.0,id=kbd0").unwrap();
}

#[test]
fn dma_needs_the_bus_master_bit_and_reaches_ram() {
    let m = pc("/usb-pc-dma");
    m.device_add("xhci-pci,id=usb0").unwrap();
    map(&m, false);
    let sys = m.system();
    // A one-segment event ring at 0x3000 (table at 0x4000), a command
    // ring at 0x2000 holding a No Op command.
    sys.write(0x4000, 8, 0x3000);
    sys.write(0x4008, 4, 16);
    sys.write(0x200c, 4, (23 << 10) | 1);
    let op = BAR + 0x40;
    let intr = BAR + 0x1020;
    sys.write(op + 0x18, 4, 0x2001);
    sys.write(op + 0x1c, 4, 0);
    sys.write(intr + 0x08, 4, 1);
    sys.write(intr + 0x18, 4, 0x3000);
    sys.write(intr + 0x10, 4, 0x4000);
    sys.write(intr + 0x14, 4, 0);
    // The segment table read was refused: no bus mastering.
    assert_eq!(
        sys.read(op + 4, 4) & (1 << 12),
        1 << 12,
        "HCE: the table was unreadable"
    );
    sys.write(op, 4, 2); // HCRST
    config_write(&m, DEVFN, 0x04, 2, 0x6);
    sys.write(op + 0x18, 4, 0x2001);
    sys.write(op + 0x1c, 4, 0);
    sys.write(intr + 0x08, 4, 1);
    sys.write(intr + 0x18, 4, 0x3000);
    sys.write(intr + 0x10, 4, 0x4000);
    sys.write(intr + 0x14, 4, 0);
    sys.write(op, 4, 1); // run
    sys.write(BAR + 0x2000, 4, 0); // command doorbell
    assert_eq!(
        sys.read(0x3000, 8),
        0x2000,
        "the completion names the command"
    );
    assert_eq!(sys.read(0x3008, 4) >> 24, 1, "success");
    assert_eq!(
        sys.read(0x300c, 4) & 0xfc01,
        (33 << 10) | 1,
        "command completion, cycle 1"
    );
}

#[test]
fn msix_messages_reach_the_accelerator_and_wait_while_masked() {
    use std::sync::{Arc, Mutex};
    let m = pc("/usb-pc-msix");
    let sent = Arc::new(Mutex::new(Vec::new()));
    let record = sent.clone();
    m.cpu_board()
        .unwrap()
        .connect_msi(Arc::new(move |addr, data| {
            record.lock().unwrap().push((addr, data))
        }));
    m.device_add("xhci-pci,id=usb0").unwrap();
    map(&m, true);
    let sys = m.system();
    // Vector 0: the local APIC's address, vector 0x41; unmasked.
    sys.write(BAR + 0x3000, 4, 0xfee0_0000);
    sys.write(BAR + 0x3004, 4, 0);
    sys.write(BAR + 0x3008, 4, 0x4041);
    sys.write(BAR + 0x300c, 4, 0);
    // MSI-X on, with the function masked for now.
    config_write(&m, DEVFN, 0x92, 2, 0xc00f);
    sys.write(0x4000, 8, 0x3000);
    sys.write(0x4008, 4, 16);
    let op = BAR + 0x40;
    let intr = BAR + 0x1020;
    sys.write(op + 0x18, 4, 0x2001);
    sys.write(op + 0x1c, 4, 0);
    sys.write(intr + 0x08, 4, 1);
    sys.write(intr + 0x18, 4, 0x3000);
    sys.write(intr + 0x10, 4, 0x4000);
    sys.write(intr + 0x14, 4, 0);
    sys.write(intr, 4, 2); // IMAN.IE
    sys.write(op, 4, 0x5); // run, INTE
    sys.write(0x200c, 4, (23 << 10) | 1);
    sys.write(BAR + 0x2000, 4, 0);
    assert_eq!(
        sys.read(0x300c, 4) & 0xfc01,
        (33 << 10) | 1,
        "the completion was written"
    );
    assert!(sent.lock().unwrap().is_empty(), "masked: nothing sent");
    assert_eq!(sys.read(BAR + 0x3800, 4), 1, "pending bit of vector 0");
    // Unmasking the function sends what was pending (QEMU's
    // `msix_write_config`).
    config_write(&m, DEVFN, 0x92, 2, 0x800f);
    assert_eq!(sent.lock().unwrap().as_slice(), &[(0xfee0_0000, 0x4041)]);
    assert_eq!(sys.read(BAR + 0x3800, 4), 0, "no longer pending");
    // INTA# stays low while MSI-X is on.
    assert_eq!(config_read(&m, DEVFN, 0x06, 2) & 0x8, 0);
}

#[test]
fn usb_storage_takes_a_drive_by_id_as_qemu() {
    use qom_devices::machine::Drive;
    let path = std::env::temp_dir().join(format!("qom-usb-pc-drive-{}.img", std::process::id()));
    std::fs::write(&path, vec![0u8; 64 * 512]).unwrap();
    let file = path.display().to_string();
    let options = MachineOptions {
        firmware: Some(Firmware {
            path: "test.bin".into(),
            bytes: vec![0; 0x1_0000],
        }),
        drives: vec![Drive::parse(&format!("file={file},if=none,id=d0,format=raw")).unwrap()],
        ..MachineOptions::default()
    };
    let m = Machine::create_with("pc", "/usb-pc-drive", &options).unwrap();
    m.device_add("xhci-pci,id=usb0").unwrap();
    m.device_add("usb-storage,bus=usb0.0,drive=d0,id=disk0")
        .unwrap();
    let err = m
        .device_add("usb-storage,bus=usb0.0,drive=d0,id=disk1")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("drive `d0` is already in use by `/usb-pc-drive/peripheral/disk0`"),
        "{err}"
    );
    let err = m
        .device_add("usb-storage,bus=usb0.0,drive=d9,id=disk1")
        .unwrap_err()
        .to_string();
    assert!(err.contains("no drive with id `d9`"), "{err}");
    let err = m
        .device_add(&format!(
            "usb-storage,bus=usb0.0,drive=d0,file={file},id=disk1"
        ))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not both"), "{err}");
    // Deleting the device frees the drive; deleting the controller too.
    m.device_del("disk0").unwrap();
    m.device_add("usb-storage,bus=usb0.0,drive=d0,id=disk0")
        .unwrap();
    m.device_del("usb0").unwrap();
    m.device_add("xhci-pci,id=usb0").unwrap();
    m.device_add("usb-storage,bus=usb0.0,drive=d0,id=disk0")
        .unwrap();
    drop(m);
    std::fs::remove_file(&path).unwrap();
    let result = Machine::create_with(
        "pc",
        "/usb-pc-drive2",
        &MachineOptions {
            drives: vec![
                Drive {
                    id: "d0".into(),
                    file: "a.img".into(),
                },
                Drive {
                    id: "d0".into(),
                    file: "b.img".into(),
                },
            ],
            ..options_with_firmware()
        },
    );
    let Err(err) = result else {
        panic!("a duplicate drive id is refused")
    };
    let err = err.to_string();
    assert!(err.contains("duplicate id"), "{err}");
}

fn options_with_firmware() -> MachineOptions {
    MachineOptions {
        firmware: Some(Firmware {
            path: "test.bin".into(),
            bytes: vec![0; 0x1_0000],
        }),
        ..MachineOptions::default()
    }
}

/// A guest that points the controller's DMA at the controller's own BAR
/// (the segment table and the event ring inside BAR 0): the accesses are
/// refused instead of re-entering the locked controller, and nothing
/// hangs.
#[test]
fn dma_into_the_controllers_own_bar_is_refused_not_deadlocked() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let m = pc("/usb-pc-reentry");
        m.device_add("xhci-pci,id=usb0").unwrap();
        map(&m, true);
        let sys = m.system();
        let (op, intr) = (BAR + 0x40, BAR + 0x1020);
        sys.write(op + 0x18, 4, BAR + 0x2000 + 1); // command ring: the doorbells
        sys.write(op + 0x1c, 4, 0);
        sys.write(intr + 0x08, 4, 1);
        sys.write(intr + 0x18, 4, BAR + 0x40);
        sys.write(intr + 0x10, 4, BAR + 0x40); // segment table: USBCMD...
        sys.write(intr + 0x14, 4, 0);
        sys.write(op, 4, 1);
        sys.write(BAR + 0x2000, 4, 0);
        let status = sys.read(op + 4, 4);
        done.send(status).unwrap();
    });
    let status = finished
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("no deadlock");
    // The refused reads return all ones: a segment at the top of memory,
    // whose event writes fail (HSE), and commands that are TRB errors.
    assert_ne!(status & (1 << 2), 0, "HSE: host system error, {status:#x}");
}

#[test]
fn usb_devices_plug_on_the_uhci_as_usb_bus_0() {
    let m = pc("/usb-pc-uhci-none");
    let err = m
        .device_add("usb-kbd,bus=usb-bus.0")
        .unwrap_err()
        .to_string();
    assert!(err.contains("no USB controller of its own (-usb)"), "{err}");
    drop(m);
    let options = MachineOptions {
        usb: true,
        ..options_with_firmware()
    };
    let m = Machine::create_with("pc", "/usb-pc-uhci", &options).unwrap();
    m.device_add("usb-kbd,bus=usb-bus.0,id=kbd0").unwrap();
    m.device_add("usb-kbd,bus=usb-bus.0,id=kbd1").unwrap();
    let err = m
        .device_add("usb-kbd,bus=usb-bus.0,id=kbd2")
        .unwrap_err()
        .to_string();
    assert!(err.contains("no free port of the 2"), "{err}");
    // SeaBIOS puts the UHCI's I/O BAR at 0xc000: both ports connected.
    config_write(&m, 0x0a, 0x20, 4, 0xc000);
    config_write(&m, 0x0a, 0x04, 2, 0x1);
    assert_eq!(io(&m).read(0xc010, 2) & 1, 1);
    assert_eq!(io(&m).read(0xc012, 2) & 1, 1);
    m.device_del("kbd1").unwrap();
    assert_eq!(
        io(&m).read(0xc012, 2) & 3,
        2,
        "disconnected, connect status change"
    );
    // With the xHCI there too, an empty bus= is ambiguous.
    m.device_add("xhci-pci,id=usb0").unwrap();
    let err = m.device_add("usb-kbd").unwrap_err().to_string();
    assert!(err.contains("2 USB controllers"), "{err}");
}

/// Interrupt moderation on the machine's clock: a second interrupt inside
/// the 1 ms interval is held, and a timer raises it once the interval has
/// passed, with no further access from the guest.
#[test]
fn moderation_timer_raises_a_held_interrupt_without_an_access() {
    use std::sync::{Arc, Mutex};
    let m = pc("/usb-pc-imod");
    let sent = Arc::new(Mutex::new(0));
    let count = sent.clone();
    m.cpu_board()
        .unwrap()
        .connect_msi(Arc::new(move |_, _| *count.lock().unwrap() += 1));
    m.device_add("xhci-pci,id=usb0").unwrap();
    map(&m, true);
    let sys = m.system();
    sys.write(BAR + 0x300c, 4, 0); // vector 0 unmasked
    config_write(&m, DEVFN, 0x92, 2, 0x800f); // MSI-X on
    sys.write(0x4000, 8, 0x3000);
    sys.write(0x4008, 4, 16);
    let (op, intr) = (BAR + 0x40, BAR + 0x1020);
    sys.write(op + 0x18, 4, 0x2001);
    sys.write(op + 0x1c, 4, 0);
    sys.write(intr + 0x08, 4, 1);
    sys.write(intr + 0x18, 4, 0x3000);
    sys.write(intr + 0x10, 4, 0x4000);
    sys.write(intr + 0x14, 4, 0);
    sys.write(intr, 4, 2); // IMAN.IE
    sys.write(intr + 0x04, 4, 4000); // IMOD: 1 ms
    sys.write(op, 4, 0x5); // run, INTE
    for n in 0..2u64 {
        sys.write(0x200c + 16 * n, 4, (23 << 10) | 1);
    }
    sys.write(BAR + 0x2000, 4, 0); // two No Ops: two events
    sys.write(intr + 0x18, 4, 0x3008 | 8); // the driver consumed one
    assert_eq!(*sent.lock().unwrap(), 1, "the second interrupt is held");
    m.clock_step(2_000_000).unwrap();
    // The timer fires within the interval's real time; give it room.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while *sent.lock().unwrap() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(*sent.lock().unwrap(), 2, "raised by the moderation timer");
}
