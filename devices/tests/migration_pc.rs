//! Snapshots of the `pc` machine's devices: the 16550A, the RTC/CMOS, the
//! i8042, fw_cfg's position, `CONFIG_ADDRESS`, and what the i440FX and
//! PIIX3 registers control (PAM windows, PIRQ routes). Each round-trips
//! (save, load into a fresh machine, compare every register a guest
//! reads, in the same order on both sides, destructive reads included),
//! a stream without a device's state (a phase-1 snapshot) loads with the
//! reset values, and a newer version is refused naming the path and both
//! versions.
//!
//! Not under Miri: the `pc` machine's guest RAM is an anonymous mapping
//! made through vm-memory, which Miri does not emulate.
#![cfg(not(miri))]

use qom_devices::machine::{Firmware, Machine, MachineOptions};
use qom_devices::pc::PcMachine;
use qom_devices::AddressSpace;
use qom_rt::migration::{self, StreamImage};

fn options() -> MachineOptions {
    MachineOptions {
        firmware: Some(Firmware {
            path: "test.bin".into(),
            bytes: vec![0xf4; 0x4_0000],
        }),
        ..MachineOptions::default()
    }
}

fn pc(path: &str) -> Machine {
    Machine::create_with("pc", &format!("/{path}"), &options()).expect("pc builds")
}

fn io(m: &Machine) -> &AddressSpace {
    m.cpu_board().expect("pc has a CPU side").system_io()
}

fn board(m: &Machine) -> &PcMachine {
    m.board::<PcMachine>().expect("a pc board")
}

fn config_write(m: &Machine, devfn: u8, register: u32, size: u32, value: u64) {
    let address = 0x8000_0000 | u32::from(devfn) << 8 | (register & 0xfc);
    io(m).write(0xcf8, 4, address.into());
    io(m).write(0xcfc + u64::from(register & 3), size, value);
}

/// Puts every migrated register of the `pc` devices away from its reset
/// value.
fn busy_pc(m: &Machine) {
    let io = io(m);
    // 16550A: divisor, line control, FIFOs, interrupts, scratch, and
    // three received bytes (RDI pending).
    io.write(0x3fb, 1, 0x80);
    io.write(0x3f8, 1, 0x01);
    io.write(0x3f9, 1, 0x00);
    io.write(0x3fb, 1, 0x1b);
    io.write(0x3fa, 1, 0x01);
    io.write(0x3f9, 1, 0x07);
    io.write(0x3fc, 1, 0x0b);
    io.write(0x3ff, 1, 0x5a);
    for byte in b"abc" {
        board(m).serial.receive(*byte);
    }
    // CMOS: bytes written through the ports, then the index left at 0x40.
    for (index, value) in [(0x38u64, 0x12u64), (0x40, 0x34), (0x7f, 0x56)] {
        io.write(0x70, 1, index);
        io.write(0x71, 1, value);
    }
    io.write(0x70, 1, 0x40);
    // i8042: a new command byte, then the keyboard reset's answers (ACK,
    // then 0xaa) and a controller answer waiting.
    io.write(0x64, 1, 0x60);
    io.write(0x60, 1, 0x47);
    io.write(0x60, 1, 0xff);
    io.write(0x64, 1, 0x20);
    // PIIX3 PIRQ routes and an i440FX PAM register (0xf0000 to RAM).
    for (pirq, irq) in [(0, 10), (1, 10), (2, 11), (3, 11)] {
        config_write(m, 0x08, 0x60 + pirq, 1, irq);
    }
    config_write(m, 0x00, 0x59, 1, 0x30);
    // fw_cfg: the signature selected, two bytes read.
    io.write(0x510, 2, 0);
    let _ = io.read(0x511, 1);
    let _ = io.read(0x511, 1);
    // CONFIG_ADDRESS left pointing at the PIIX3's route registers.
    io.write(0xcf8, 4, 0x8000_0860);
}

/// Every register a guest reads of the `pc` devices, in one fixed order
/// (reads that change state are made identically on both sides).
fn pc_view(m: &Machine) -> Vec<(String, u64)> {
    let io = io(m);
    let mut view = Vec::new();
    let mut read = |name: &str, port: u64, size: u32| {
        view.push((name.to_string(), io.read(port, size)));
    };
    // CONFIG_ADDRESS, then the route registers through it, before any
    // other configuration access moves it.
    read("cf8", 0xcf8, 4);
    read("cfc", 0xcfc, 4);
    // fw_cfg continues where the source was: "EMU" of "QEMU" -> 'M', 'U'.
    read("fw_cfg data", 0x511, 1);
    read("fw_cfg data", 0x511, 1);
    // CMOS at the migrated index, then every byte but the clock's.
    read("cmos at index", 0x71, 1);
    // 16550A: IER, IIR, LCR, MCR, LSR, MSR, SCR, then RBR until empty.
    for (name, port) in [
        ("ier", 0x3f9),
        ("iir", 0x3fa),
        ("lcr", 0x3fb),
        ("mcr", 0x3fc),
        ("lsr", 0x3fd),
        ("msr", 0x3fe),
        ("scr", 0x3ff),
    ] {
        read(name, port, 1);
    }
    for _ in 0..4 {
        read("rbr", 0x3f8, 1);
        read("lsr", 0x3fd, 1);
    }
    // i8042: status, then data until the output buffer is empty.
    for _ in 0..4 {
        read("i8042 status", 0x64, 1);
        read("i8042 data", 0x60, 1);
    }
    read("i8042 status", 0x64, 1);
    // Memory at 0xf0000 through the PAM window (RAM on both after the
    // load: the write lands in RAM only if PAM maps it).
    let memory = m.system();
    memory.write(0xf_0000, 4, 0x1234_5678);
    view.push(("0xf0000".into(), memory.read(0xf_0000, 4)));
    for index in (0x0e..0x80).filter(|i| *i != 0x40) {
        io.write(0x70, 1, index);
        view.push((format!("cmos {index:#x}"), io.read(0x71, 1)));
    }
    // The divisor latch.
    io.write(0x3fb, 1, 0x9b);
    view.push(("dll".into(), io.read(0x3f8, 1)));
    view.push(("dlm".into(), io.read(0x3f9, 1)));
    let b = board(m);
    view.push(("serial irq".into(), u64::from(b.serial.irq.level())));
    view.push(("kbd irq".into(), u64::from(b.i8042.kbd_irq.level())));
    for pirq in 0..4 {
        let route = b.piix3.pirq_route(pirq).map_or(0xff, u64::from);
        view.push((format!("pirq {pirq} route"), route));
    }
    view
}

#[test]
fn pc_devices_round_trip_every_register_a_guest_reads() {
    let source = pc("mig-pc-source");
    busy_pc(&source);
    let stream = source.save_state().unwrap();
    let destination = pc("mig-pc-destination");
    // Before the load the destination differs (the test can fail).
    assert_ne!(pc_view(&pc("mig-pc-fresh")), {
        let other = pc("mig-pc-busy");
        busy_pc(&other);
        pc_view(&other)
    });
    destination.load_state(&stream).unwrap();
    // The interrupt lines before any read moves them.
    let b = board(&destination);
    assert!(b.serial.irq.level(), "RDI is pending after the load");
    assert_eq!(b.piix3.pirq_route(2), Some(11), "routes re-applied");
    let seen = pc_view(&destination);
    assert_eq!(seen, pc_view(&source));
    let value = |name: &str| seen.iter().find(|(n, _)| n == name).unwrap().1;
    assert_eq!(value("scr"), 0x5a);
    assert_eq!(value("cmos at index"), 0x34);
    assert_eq!(value("fw_cfg data"), u64::from(b'M'));
    assert_eq!(value("cf8"), 0x8000_0860);
    assert_eq!(value("cfc"), 0x0b0b_0a0a);
    assert_eq!(value("0xf0000"), 0x1234_5678, "PAM maps RAM");
    let rbr: Vec<u64> = seen
        .iter()
        .filter(|(n, _)| n == "rbr")
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(rbr, [0x61, 0x62, 0x63, 0x00]);
}

/// A stream from before these devices migrated (phase 1 saved only the
/// PCI configuration spaces of the `pc` machine): each loads with its
/// reset state (`min_version = 0`).
#[test]
fn pc_devices_load_a_stream_without_their_state_with_reset_values() {
    let source = pc("mig-pc-old-source");
    busy_pc(&source);
    let mut image = migration::save_image(source.object()).unwrap();
    let ours = [
        "isa-serial",
        "mc146818rtc",
        "i8042",
        "fw_cfg_io",
        "i440FX-pcihost",
    ];
    let mut stripped = 0;
    for section in &mut image.sections {
        let before = section.levels.len();
        section
            .levels
            .retain(|level| !ours.contains(&level.type_name.as_str()));
        stripped += before - section.levels.len();
    }
    assert_eq!(stripped, ours.len(), "each device saved one level");
    let destination = pc("mig-pc-old-destination");
    destination.load_state(&image.encode()).unwrap();
    let fresh = pc("mig-pc-old-fresh");
    // Its PCI configuration spaces are the source's (PAM and PIRQ routes
    // re-applied by the host's `post_load`, which runs with version 0),
    // everything else is at reset.
    let view = pc_view(&destination);
    let reset = pc_view(&fresh);
    let differing: Vec<&str> = view
        .iter()
        .zip(&reset)
        .filter(|(a, b)| a != b)
        .map(|(a, _)| a.0.as_str())
        .collect();
    assert_eq!(
        differing,
        [
            "0xf0000",
            "pirq 0 route",
            "pirq 1 route",
            "pirq 2 route",
            "pirq 3 route"
        ]
    );
}

#[test]
fn pc_devices_refuse_a_newer_version_naming_the_path_and_both_versions() {
    let source = pc("mig-pc-newer-source");
    let image = migration::save_image(source.object()).unwrap();
    for (suffix, type_name) in [
        ("/serial", "isa-serial"),
        ("/rtc", "mc146818rtc"),
        ("/i8042", "i8042"),
        ("/fw_cfg", "fw_cfg_io"),
        ("/pci", "i440FX-pcihost"),
    ] {
        let mut image = image.clone();
        let section = image
            .sections
            .iter_mut()
            .find(|s| s.path.ends_with(suffix))
            .unwrap_or_else(|| panic!("a section for {suffix}"));
        let level = section
            .levels
            .iter_mut()
            .find(|l| l.type_name == type_name)
            .unwrap();
        level.version = 2;
        let destination = pc("mig-pc-newer-destination");
        let before = destination.save_state().unwrap();
        let err = destination.load_state(&image.encode()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "`/mig-pc-newer-destination{suffix}` ({type_name}): the stream has version 2 \
                 of its state, this build loads versions 0 to 1"
            )
        );
        assert_eq!(destination.save_state().unwrap(), before, "unchanged");
    }
}

#[test]
fn pc_devices_refuse_queue_lengths_past_their_queues() {
    let source = pc("mig-pc-bad-source");
    let mut image = migration::save_image(source.object()).unwrap();
    let serial = image
        .sections
        .iter_mut()
        .find(|s| s.type_name == "isa-serial")
        .unwrap();
    let level = serial.levels.last_mut().unwrap();
    let migration::Value::Struct(regs) = &mut level.fields[0].1 else {
        panic!("the registers are a struct");
    };
    let len = regs.iter_mut().find(|(n, _)| n == "rx_len").unwrap();
    len.1 = migration::Value::U64(17);
    let destination = pc("mig-pc-bad-destination");
    let err = destination.load_state(&image.encode()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`/mig-pc-bad-destination/serial` (isa-serial version 1): field `regs`: \
         rx_len 17 does not fit the 16-byte receive FIFO"
    );
    let _ = StreamImage::parse(&destination.save_state().unwrap()).unwrap();
}

fn pc_with_usb(path: &str) -> Machine {
    let options = MachineOptions {
        usb: true,
        ..options()
    };
    let m = Machine::create_with("pc", &format!("/{path}"), &options).expect("pc builds");
    // The UHCI's I/O BAR (BAR 4) at 0xc000, I/O decoding on.
    config_write(&m, 0x0a, 0x20, 4, 0xc000);
    config_write(&m, 0x0a, 0x04, 2, 0x1);
    m
}

const UHCI: u64 = 0xc000;

/// Every UHCI register a guest reads (USBCMD, USBSTS, USBINTR, FRNUM,
/// FLBASEADD, SOFMOD, PORTSC1/2), and the PCI interrupt's level.
fn uhci_view(m: &Machine) -> Vec<u64> {
    let io = io(m);
    let mut view: Vec<u64> = [(0, 2), (2, 2), (4, 2), (6, 2), (8, 4), (0xc, 1)]
        .iter()
        .chain(&[(0x10, 2), (0x12, 2)])
        .map(|&(reg, size)| io.read(UHCI + reg, size))
        .collect();
    view.push(config_read(m, 0x0a, 0x3c, 4));
    view
}

fn config_read(m: &Machine, devfn: u8, register: u32, size: u32) -> u64 {
    let address = 0x8000_0000 | u32::from(devfn) << 8 | (register & 0xfc);
    io(m).write(0xcf8, 4, address.into());
    io(m).read(0xcfc + u64::from(register & 3), size)
}

/// A halted controller the guest has programmed: frame list, frame
/// number, interrupt enables, SOF timing, a port enabled, configure flag.
fn busy_uhci(m: &Machine) {
    let io = io(m);
    io.write(UHCI + 8, 4, 0x0012_3000);
    io.write(UHCI + 6, 2, 0x2a5);
    io.write(UHCI + 4, 2, 0xf);
    io.write(UHCI + 0xc, 1, 0x50);
    io.write(UHCI + 0x12, 2, 0x0004);
    io.write(UHCI, 2, 0x0040);
}

#[test]
fn uhci_round_trips_every_register_a_guest_reads() {
    let source = pc_with_usb("mig-uhci-source");
    busy_uhci(&source);
    let destination = pc_with_usb("mig-uhci-destination");
    let fresh = uhci_view(&destination);
    destination
        .load_state(&source.save_state().unwrap())
        .unwrap();
    let seen = uhci_view(&destination);
    assert_ne!(seen, fresh, "the test can fail");
    assert_eq!(seen, uhci_view(&source));
    assert_eq!(seen[3], 0x2a5, "FRNUM");
    assert_eq!(seen[4], 0x0012_3000, "FLBASEADD");
}

#[test]
fn uhci_loads_a_stream_without_its_state_and_refuses_a_newer_one() {
    let source = pc_with_usb("mig-uhci-old-source");
    busy_uhci(&source);
    let image = migration::save_image(source.object()).unwrap();
    let mut old = image.clone();
    for section in &mut old.sections {
        section.levels.retain(|l| l.type_name != "piix3-usb-uhci");
    }
    let destination = pc_with_usb("mig-uhci-old-destination");
    let fresh = uhci_view(&destination);
    destination.load_state(&old.encode()).unwrap();
    assert_eq!(uhci_view(&destination), fresh, "reset values");

    let mut newer = image;
    let section = newer
        .sections
        .iter_mut()
        .find(|s| s.type_name == "piix3-usb-uhci")
        .unwrap();
    let path = section
        .path
        .replace("mig-uhci-old-source", "mig-uhci-old-destination");
    section.levels.last_mut().unwrap().version = 2;
    let err = destination.load_state(&newer.encode()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "`{path}` (piix3-usb-uhci): the stream has version 2 of its state, \
             this build loads versions 0 to 1"
        )
    );
}

/// The rule for transfers in flight: a stream saved while a control
/// transfer was between its stages is refused, naming the port.
#[test]
fn uhci_refuses_a_stream_saved_mid_control_transfer() {
    let source = pc_with_usb("mig-uhci-mid-source");
    let mut image = migration::save_image(source.object()).unwrap();
    let section = image
        .sections
        .iter_mut()
        .find(|s| s.type_name == "piix3-usb-uhci")
        .unwrap();
    let migration::Value::Struct(fields) = &mut section.levels.last_mut().unwrap().fields[0].1
    else {
        panic!("the registers are a struct");
    };
    let (_, flags) = fields
        .iter_mut()
        .find(|(n, _)| n == "control_in_progress")
        .unwrap();
    let migration::Value::Array { items, .. } = flags else {
        panic!("one flag per port");
    };
    items[1] = migration::Value::Bool(true);
    let destination = pc_with_usb("mig-uhci-mid-destination");
    let before = destination.save_state().unwrap();
    let err = destination.load_state(&image.encode()).unwrap_err();
    assert!(
        err.to_string().ends_with(
            "field `regs`: a control transfer was in progress on root port 1 (its data stage \
             is not in guest memory); migrate once the guest's control transfers are done"
        ),
        "{err}"
    );
    assert_eq!(destination.save_state().unwrap(), before);
}
