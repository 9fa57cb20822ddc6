//! Snapshots of the `virt` machine: every model's registers round-trip
//! (save, load into a fresh machine, compare what a guest reads), older
//! versions load, newer ones and bad streams are refused, and a refused
//! stream changes nothing.

use qom_devices::hw::pl011::Pl011;
use qom_devices::hw::sp804::Sp804;
use qom_devices::machine::{Machine, VirtMachine};
use qom_devices::models::{pl011, sp804};
use qom_devices::pci::{PciDevice, ECAM_HIGH_BASE};
use qom_devices::Error;
use qom_rt::migration::{self, MigrationError, StreamImage, Value};
use qom_rt::prelude::*;

fn machine(path: &str) -> Machine {
    Machine::create_at("virt", &format!("/{path}")).expect("machine builds")
}

fn board(machine: &Machine) -> &VirtMachine {
    machine.board().expect("a virt board")
}

const UART0: u64 = 0x0900_0000;
const TIMER0: u64 = 0x0c00_0000;

/// Every PL011 register a guest can read without changing it.
const PL011_REGISTERS: [u64; 13] = [
    pl011::RSR,
    pl011::FR,
    pl011::ILPR,
    pl011::IBRD,
    pl011::FBRD,
    pl011::LCR_H,
    pl011::CR,
    pl011::IFLS,
    pl011::IMSC,
    pl011::RIS,
    pl011::MIS,
    pl011::DMACR,
    pl011::PERIPH_ID0,
];

/// What a guest sees of UART 0: its registers, its interrupt line, then
/// everything `DR` returns until the FIFO is empty (popping it).
fn uart_view(machine: &Machine) -> (Vec<u64>, bool, Vec<u64>) {
    let read = |reg| machine.system().read(UART0 + reg, 4);
    let registers = PL011_REGISTERS.iter().map(|&r| read(r)).collect();
    let irq = board(machine).soc.uarts[0].irq.level();
    let mut received = Vec::new();
    while read(pl011::FR) & u64::from(pl011::FR_RXFE) == 0 && received.len() < 32 {
        received.push(read(pl011::DR));
    }
    (registers, irq, received)
}

/// A UART in a state with something in every register: FIFOs on, five
/// characters waiting, divisors, masks, and an interrupt pending.
fn busy_uart(machine: &Machine) {
    let write = |reg, value| machine.system().write(UART0 + reg, 4, value);
    write(pl011::IBRD, 0x27);
    write(pl011::FBRD, 0x04);
    write(pl011::LCR_H, u64::from(pl011::LCR_FEN) | 0x60);
    write(pl011::IFLS, 0x09);
    write(pl011::IMSC, u64::from(pl011::INT_RX | pl011::INT_TX));
    write(pl011::ILPR, 0x11);
    write(pl011::DMACR, 0x4);
    let uart = &board(machine).soc.uarts[0];
    for byte in b"hello" {
        uart.receive(*byte);
    }
}

#[test]
fn pl011_round_trips_every_register_a_guest_reads() {
    let source = machine("mig-pl011-source");
    busy_uart(&source);
    let stream = source.save_state().unwrap();
    let destination = machine("mig-pl011-destination");
    destination.load_state(&stream).unwrap();
    let seen = uart_view(&destination);
    assert_eq!(seen, uart_view(&source));
    assert!(seen.1, "the interrupt line follows the loaded state");
    assert_eq!(seen.2.len(), 5, "the FIFO's characters");
}

/// A stream from a build whose `pl011` state was at version 1: without
/// `overrun`, which version 2 added.
fn pl011_as_version_1(mut image: StreamImage) -> StreamImage {
    for section in image.sections.iter_mut().filter(|s| s.type_name == "pl011") {
        let level = section.levels.last_mut().unwrap();
        level.version = 1;
        for (_, regs) in &mut level.fields {
            if let Value::Struct(fields) = regs {
                fields.retain(|(name, _)| name != "overrun");
            }
        }
    }
    image
}

#[test]
fn pl011_loads_version_1_without_the_overrun_flag() {
    let source = machine("mig-pl011-v1-source");
    let uart = &board(&source).soc.uarts[0];
    // Overrun: the byte after a full FIFO is dropped, and the next one in
    // carries `DR.OE` (in version 2).
    source
        .system()
        .write(UART0 + pl011::LCR_H, 4, pl011::LCR_FEN.into());
    for _ in 0..17 {
        uart.receive(b'x');
    }
    let old = pl011_as_version_1(migration::save_image(source.object()).unwrap());
    let destination = machine("mig-pl011-v1-destination");
    destination.load_state(&old.encode()).unwrap();
    let current = machine("mig-pl011-v2-destination");
    current.load_state(&source.save_state().unwrap()).unwrap();
    for (m, oe) in [(&destination, 0), (&current, u64::from(pl011::DR_OE))] {
        let read = |reg| m.system().read(UART0 + reg, 4);
        assert_eq!(
            read(pl011::RSR) & u64::from(pl011::RSR_OE),
            8,
            "RSR.OE migrates"
        );
        let _ = read(pl011::DR);
        board(m).soc.uarts[0].receive(b'y');
        for _ in 0..15 {
            let _ = read(pl011::DR);
        }
        assert_eq!(read(pl011::DR), oe | u64::from(b'y'));
    }
}

#[test]
fn a_newer_version_is_refused_naming_the_path_and_both_versions() {
    let source = machine("mig-newer-source");
    let mut image = migration::save_image(source.object()).unwrap();
    let uart = image
        .sections
        .iter_mut()
        .find(|s| s.path.ends_with("/soc/uarts[1]"))
        .unwrap();
    uart.levels.last_mut().unwrap().version = 3;
    let destination = machine("mig-newer-destination");
    let err = destination.load_state(&image.encode()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`/mig-newer-destination/soc/uarts[1]` (pl011): the stream has version 3 of its state, \
         this build loads versions 1 to 2"
    );
}

#[test]
fn pl011_refuses_fifo_positions_outside_the_fifo() {
    let source = machine("mig-pl011-bad-source");
    let mut image = migration::save_image(source.object()).unwrap();
    // UART 1, after UART 0's section: the sections before a refused one
    // are not applied either (the destination's UART 0 is busy, the
    // stream's is not).
    let uart = image
        .sections
        .iter_mut()
        .find(|s| s.path.ends_with("/soc/uarts[1]"))
        .unwrap();
    let Value::Struct(regs) = &mut uart.levels.last_mut().unwrap().fields[0].1 else {
        panic!("the registers are a struct");
    };
    let pos = regs.iter_mut().find(|(n, _)| n == "read_pos").unwrap();
    pos.1 = Value::U64(16);
    let destination = machine("mig-pl011-bad-destination");
    busy_uart(&destination);
    let before = destination.save_state().unwrap();
    let err = destination.load_state(&image.encode()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`/mig-pl011-bad-destination/soc/uarts[1]` (pl011 version 2): field `regs`: \
         read_pos 16 and read_count 0 do not fit the 16-entry FIFO"
    );
    assert_eq!(destination.save_state().unwrap(), before, "unchanged");
}

/// Every SP804 register a guest can read, both timers.
fn timer_view(machine: &Machine) -> Vec<u64> {
    let read = |reg| machine.system().read(TIMER0 + reg, 4);
    let mut view: Vec<u64> = [0, sp804::TIMER_STRIDE]
        .iter()
        .flat_map(|base| {
            [
                sp804::LOAD,
                sp804::VALUE,
                sp804::CONTROL,
                sp804::RIS,
                sp804::MIS,
                sp804::BGLOAD,
            ]
            .map(|reg| read(base + reg))
        })
        .collect();
    view.push(u64::from(board(machine).soc.timers[0].irq.level()));
    view
}

fn busy_timers(machine: &Machine) {
    let write = |reg, value| machine.system().write(TIMER0 + reg, 4, value);
    let periodic = sp804::CTRL_ENABLE | sp804::CTRL_PERIODIC | sp804::CTRL_32BIT | sp804::CTRL_IE;
    write(sp804::LOAD, 1000);
    write(sp804::CONTROL, periodic.into());
    let one_shot = sp804::CTRL_ENABLE | sp804::CTRL_ONESHOT | sp804::CTRL_DIV16;
    write(sp804::TIMER_STRIDE + sp804::LOAD, 50);
    write(sp804::TIMER_STRIDE + sp804::CONTROL, one_shot.into());
    // 1.5 ticks of timer 0 past 1200 ticks: wrapped once, interrupt up,
    // half a tick pending.
    machine.clock_step(1_201_500).unwrap();
}

#[test]
fn sp804_round_trips_counters_and_the_sub_tick_remainder() {
    let source = machine("mig-sp804-source");
    busy_timers(&source);
    let destination = machine("mig-sp804-destination");
    destination
        .load_state(&source.save_state().unwrap())
        .unwrap();
    assert_eq!(timer_view(&destination), timer_view(&source));
    assert_eq!(timer_view(&source)[12], 1, "the interrupt is up");
    // Half a tick was pending on both: the next 500 ns tick both.
    for m in [&source, &destination] {
        m.clock_step(500).unwrap();
    }
    assert_eq!(timer_view(&destination), timer_view(&source));
}

#[test]
fn sp804_loads_version_1_without_the_sub_tick_remainder() {
    let source = machine("mig-sp804-v1-source");
    busy_timers(&source);
    let mut image = migration::save_image(source.object()).unwrap();
    for section in image.sections.iter_mut().filter(|s| s.type_name == "sp804") {
        let level = section.levels.last_mut().unwrap();
        level.version = 1;
        let Value::Array { items, .. } = &mut level.fields[0].1 else {
            panic!("two timers");
        };
        for timer in items {
            if let Value::Struct(fields) = timer {
                fields.retain(|(name, _)| name != "pending");
            }
        }
    }
    let destination = machine("mig-sp804-v1-destination");
    destination.load_state(&image.encode()).unwrap();
    assert_eq!(timer_view(&destination), timer_view(&source));
    // The half tick is lost: 500 ns later the source has ticked, the
    // destination not yet; 500 ns more and they agree again.
    let value = |m: &Machine| m.system().read(TIMER0 + sp804::VALUE, 4);
    for m in [&source, &destination] {
        m.clock_step(500).unwrap();
    }
    assert_eq!(value(&destination), value(&source) + 1);
    destination.clock_step(500).unwrap();
    assert_eq!(value(&destination), value(&source));
}

/// The whole configuration space of the function in `slot`, as a guest
/// reads it through ECAM.
fn config_view(machine: &Machine, slot: u64) -> Vec<u64> {
    (0..256)
        .step_by(4)
        .map(|reg| {
            machine
                .system()
                .read(ECAM_HIGH_BASE + (slot << 15) + reg, 4)
        })
        .collect()
}

/// A machine with an xHCI plugged (slot 1) whose BAR 0 the guest moved
/// and whose command register it changed.
fn moved_xhci(path: &str) -> Machine {
    let m = machine(path);
    m.device_add("xhci-pci,id=usb0").unwrap();
    let ecam = |reg| ECAM_HIGH_BASE + (1 << 15) + reg;
    m.system().write(ecam(0x10), 4, 0x2000_0000);
    m.system().write(ecam(0x04), 2, 0x6);
    m.system().write(ecam(0x3c), 1, 0x0b);
    m
}

#[test]
fn pci_config_space_and_bar_programming_round_trip() {
    if cfg!(miri) {
        // The xHCI's section (some 30 KB) makes each save and load take
        // minutes under Miri; natively and under the sanitizers it runs.
        eprintln!("skipped under Miri: the xHCI's migration section is too slow there");
        return;
    }
    let source = moved_xhci("mig-pci-source");
    let stream = source.save_state().unwrap();
    let destination = machine("mig-pci-destination");
    let usb0 = destination.device_add("xhci-pci,id=usb0").unwrap();
    let pci = usb0.downcast::<PciDevice>().unwrap();
    assert_ne!(pci.bar_address(0), Some(0x2000_0000), "plugged elsewhere");
    destination.load_state(&stream).unwrap();
    assert_eq!(config_view(&destination, 1), config_view(&source, 1));
    assert_eq!(pci.bar_address(0), Some(0x2000_0000));
    assert_eq!(
        destination.info_pci(),
        source
            .info_pci()
            .replace("mig-pci-source", "mig-pci-destination")
    );
    // BAR 0 answers at its new address only: HCIVERSION/CAPLENGTH.
    let caps = destination.system().read(0x2000_0000, 4);
    assert_eq!(caps, source.system().read(0x2000_0000, 4));
    assert_ne!(caps, 0xffff_ffff);
    let old = qom_devices::pci::MMIO_BASE;
    assert_eq!(destination.system().read(old, 4), 0xffff_ffff, "unmapped");
}

#[test]
fn pci_config_space_of_another_function_is_refused() {
    if cfg!(miri) {
        // The xHCI's section (some 30 KB) makes each save and load take
        // minutes under Miri; natively and under the sanitizers it runs.
        eprintln!("skipped under Miri: the xHCI's migration section is too slow there");
        return;
    }
    let source = moved_xhci("mig-pci-foreign-source");
    let mut image = migration::save_image(source.object()).unwrap();
    let usb0 = image
        .sections
        .iter_mut()
        .find(|s| s.path.ends_with("/peripheral/usb0"))
        .unwrap();
    assert_eq!(usb0.levels[0].type_name, "pci-device");
    let Value::Array { items, .. } = &mut usb0.levels[0].fields[0].1 else {
        panic!("the configuration space is bytes");
    };
    items[0] = Value::U8(0x86);
    items[1] = Value::U8(0x80);
    let destination = machine("mig-pci-foreign-destination");
    destination.device_add("xhci-pci,id=usb0").unwrap();
    let err = destination.load_state(&image.encode()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`/mig-pci-foreign-destination/peripheral/usb0` (pci-device version 1): field `config`: \
         the stream's configuration space is for PCI function 8086:000d (class 0c0330), \
         this one is 1b36:000d (class 0c0330)"
    );
}

#[test]
fn another_machine_shape_or_board_is_refused_and_nothing_changes() {
    let source = moved_xhci("mig-shape-source");
    busy_uart(&source);
    let stream = source.save_state().unwrap();
    let bare = machine("mig-shape-destination");
    let before = bare.save_state().unwrap();
    let err = bare.load_state(&stream).unwrap_err();
    assert!(
        matches!(err, Error::Migration(MigrationError::MachineShape { .. })),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "the machine's shape differs from the stream's: the stream has \
         `/mig-shape-destination/peripheral/usb0` (xhci-pci), this machine has nothing there; \
         start the destination with the same devices as the source"
    );
    assert_eq!(bare.save_state().unwrap(), before);

    let mut image = StreamImage::parse(&stream).unwrap();
    image.root_type = "pc-machine".into();
    let err = bare.load_state(&image.encode()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the stream is for a `pc-machine`, this is a `virt-machine`"
    );
}

/// Truncated, corrupted and reordered streams are refused before any
/// device changes: the destination saves the same bytes as before.
#[test]
fn bad_streams_change_nothing() {
    let source = moved_xhci("mig-bad-source");
    busy_uart(&source);
    busy_timers(&source);
    let stream = source.save_state().unwrap();
    let destination = moved_xhci("mig-bad-destination");
    let before = destination.save_state().unwrap();
    // Under Miri six cuts and six flips whatever the stream's length
    // (the xHCI's section alone is some 30 KB, each parse reads it all).
    let step = if cfg!(miri) { stream.len() / 6 + 1 } else { 7 };
    let mut refused = 0;
    for len in (0..stream.len()).step_by(step) {
        assert!(destination.load_state(&stream[..len]).is_err());
        refused += 1;
    }
    for at in (0..stream.len()).step_by(step) {
        let mut bad = stream.clone();
        bad[at] = bad[at].wrapping_add(1);
        assert!(destination.load_state(&bad).is_err(), "byte {at}");
        refused += 1;
    }
    let mut image = StreamImage::parse(&stream).unwrap();
    image.sections.swap(0, 3);
    assert!(destination.load_state(&image.encode()).is_err());
    assert!(refused > 2);
    assert_eq!(destination.save_state().unwrap(), before);
    // And the good stream loads.
    destination.load_state(&stream).unwrap();
    assert_eq!(states(&destination), states(&source));
}

/// Every level of every section: the machine's state without its paths.
fn states(machine: &Machine) -> Vec<Vec<migration::LevelImage>> {
    let image = migration::save_image(machine.object()).unwrap();
    image.sections.into_iter().map(|s| s.levels).collect()
}

/// QEMU 7.2's `vmstate_pl011` (`hw/char/pl011.c`): version 2, minimum 2.
const QEMU_VMSTATE_PL011: [(&str, &str); 17] = [
    ("readbuff", "uint32"),
    ("flags", "uint32"),
    ("lcr", "uint32"),
    ("rsr", "uint32"),
    ("cr", "uint32"),
    ("dmacr", "uint32"),
    ("int_enabled", "uint32"),
    ("int_level", "uint32"),
    ("read_fifo", "uint32[16]"),
    ("ilpr", "uint32"),
    ("ibrd", "uint32"),
    ("fbrd", "uint32"),
    ("ifl", "uint32"),
    ("read_pos", "int32"),
    ("read_count", "int32"),
    ("read_trigger", "int32"),
    ("pl011/clock: clk", "clock (subsection)"),
];

/// The generated description of `pl011`, row by row next to QEMU's field
/// list: the same fields in the same order, QEMU's unused `readbuff` and
/// clock subsection aside, and our `overrun` in version 2.
#[test]
fn pl011_description_next_to_qemus_vmstate_pl011() {
    let state = migration::description(Pl011::TYPE_INFO).unwrap();
    let ours: Vec<(String, String)> = state
        .rows()
        .into_iter()
        .map(|(name, kind, since, _)| {
            let note = if since > 1 {
                format!("  since {since}")
            } else {
                String::new()
            };
            (name, format!("{kind}{note}"))
        })
        .collect();
    let mut table = format!(
        "{:<36}{}\n",
        format!(
            "qom {} v{} (loads {}..)",
            state.type_name(),
            state.version(),
            state.min_version()
        ),
        "QEMU 7.2 vmstate_pl011 v2 (loads 2..)"
    );
    let mut qemu = QEMU_VMSTATE_PL011.iter().peekable();
    let mut ours = ours.iter().peekable();
    loop {
        let name = |n: &str| n.trim_start_matches("regs.").to_string();
        let (left, right) = match (ours.peek(), qemu.peek()) {
            (Some((n, _)), Some((q, _))) if name(n) == *q => (ours.next(), qemu.next()),
            (_, Some(("readbuff", _))) => (None, qemu.next()),
            (Some(_), _) => (ours.next(), None),
            (None, Some(_)) => (None, qemu.next()),
            (None, None) => break,
        };
        let cell = |c: Option<String>| c.unwrap_or_else(|| "-".into());
        let left = cell(left.map(|(n, k)| format!("{n:<18}{k}")));
        let right = cell(right.map(|(n, k)| format!("{n:<18}{k}")));
        table.push_str(format!("{left:<36}{right}").trim_end());
        table.push('\n');
    }
    println!("{table}");
    assert_eq!(
        table,
        "\
qom pl011 v2 (loads 1..)            QEMU 7.2 vmstate_pl011 v2 (loads 2..)
-                                   readbuff          uint32
regs.flags        u32               flags             uint32
regs.lcr          u32               lcr               uint32
regs.rsr          u32               rsr               uint32
regs.cr           u32               cr                uint32
regs.dmacr        u32               dmacr             uint32
regs.int_enabled  u32               int_enabled       uint32
regs.int_level    u32               int_level         uint32
regs.read_fifo    [u32; 16]         read_fifo         uint32[16]
regs.ilpr         u32               ilpr              uint32
regs.ibrd         u32               ibrd              uint32
regs.fbrd         u32               fbrd              uint32
regs.ifl          u32               ifl               uint32
regs.read_pos     usize             read_pos          int32
regs.read_count   usize             read_count        int32
regs.read_trigger usize             read_trigger      int32
regs.overrun      bool  since 2     -
-                                   pl011/clock: clk  clock (subsection)
"
    );
}

#[test]
fn sp804_and_pci_descriptions() {
    let sp804 = migration::description(Sp804::TYPE_INFO).unwrap();
    assert_eq!(
        sp804.to_string(),
        "sp804: version 2, loads versions 1 to 2\n\
         \x20 regs[i].freq       u32\n\
         \x20 regs[i].control    u32\n\
         \x20 regs[i].limit      u32\n\
         \x20 regs[i].int_level  bool\n\
         \x20 regs[i].count      u32\n\
         \x20 regs[i].running    bool\n\
         \x20 regs[i].pending    u128  since 2\n"
    );
    let pci = migration::description(PciDevice::TYPE_INFO).unwrap();
    assert_eq!(
        pci.to_string(),
        "pci-device: version 1, loads versions 1 to 1\n  config  [u8; 256]\n"
    );
}

/// The fuzz target `migration_load`'s corpus: valid streams of a `virt`
/// machine at `/machine` with `xhci-pci,id=usb0`, and mutations of them.
const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/migration_load");

/// What the fuzz target checks, on each checked-in input (so the corpus
/// is replayed by every test run, not only by the fuzz job): a valid
/// stream loads, anything else is refused and changes nothing.
#[test]
fn the_fuzz_corpus_loads_or_is_refused_without_changes() {
    if cfg!(miri) {
        // Miri's isolation forbids reading directories; the native run and
        // the fuzz job replay the corpus.
        eprintln!("skipped under Miri: the corpus is read from disk");
        return;
    }
    let mut inputs: Vec<_> = std::fs::read_dir(CORPUS)
        .expect("the corpus is checked in")
        .map(|e| e.unwrap().path())
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 10, "{} inputs", inputs.len());
    let machine = machine("mig-corpus");
    machine.device_add("xhci-pci,id=usb0").unwrap();
    for input in inputs {
        let bytes = std::fs::read(&input).unwrap();
        // The corpus was saved at `/machine`: load it here as it is.
        let mut image = match StreamImage::parse(&bytes) {
            Ok(image) => image,
            Err(_) => {
                let before = machine.save_state().unwrap();
                assert!(machine.load_state(&bytes).is_err());
                assert_eq!(machine.save_state().unwrap(), before, "{}", input.display());
                continue;
            }
        };
        image.root_path = "/mig-corpus".into();
        for (path, _) in &mut image.shape {
            *path = path.replacen("/machine", "/mig-corpus", 1);
        }
        for section in &mut image.sections {
            section.path = section.path.replacen("/machine", "/mig-corpus", 1);
        }
        let before = machine.save_state().unwrap();
        let name = input.file_name().unwrap().to_string_lossy();
        let loaded = machine.load_state(&image.encode());
        assert_eq!(
            loaded.is_ok(),
            name.starts_with("valid"),
            "{name}: {loaded:?}"
        );
        if loaded.is_err() {
            assert_eq!(machine.save_state().unwrap(), before, "{name}");
        }
    }
}

/// Writes the fuzz corpus: `cargo test -p qom-devices --test migration --
/// --ignored write_fuzz_corpus`.
#[test]
#[ignore = "writes fuzz/corpus/migration_load"]
fn write_fuzz_corpus() {
    let m = Machine::create("virt").unwrap();
    m.device_add("xhci-pci,id=usb0").unwrap();
    let fresh = m.save_state().unwrap();
    busy_uart(&m);
    busy_timers(&m);
    let ecam = |reg| ECAM_HIGH_BASE + (1 << 15) + reg;
    m.system().write(ecam(0x10), 4, 0x2000_0000);
    let busy = m.save_state().unwrap();
    let image = StreamImage::parse(&busy).unwrap();
    let edit = |f: &dyn Fn(&mut StreamImage)| {
        let mut image = image.clone();
        f(&mut image);
        image.encode()
    };
    let mut inputs = vec![
        ("valid-fresh", fresh.clone()),
        ("valid-busy", busy.clone()),
        ("truncated-header", busy[..40].to_vec()),
        ("truncated-section", busy[..busy.len() / 2].to_vec()),
        ("not-a-stream", b"QFI\xfb not a qom stream".to_vec()),
    ];
    let mut flipped = busy.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x04;
    inputs.push(("corrupted-section", flipped));
    inputs.push(("reordered-sections", edit(&|i| i.sections.swap(0, 1))));
    inputs.push(("other-board", edit(&|i| i.root_type = "pc-machine".into())));
    inputs.push((
        "missing-device",
        edit(&|i| {
            i.shape.retain(|(p, _)| !p.contains("usb0"));
            i.sections.retain(|s| !s.path.contains("usb0"));
        }),
    ));
    inputs.push((
        "newer-version",
        // Later sections than the first, so that a load applying sections
        // one by one would have changed the machine before refusing.
        edit(&|i| i.sections[3].levels[0].version = 3),
    ));
    inputs.push((
        "fifo-out-of-range",
        edit(&|i| {
            if let Value::Struct(regs) = &mut i.sections[1].levels[0].fields[0].1 {
                regs[12].1 = Value::U64(99);
            }
        }),
    ));
    drop(m);
    std::fs::create_dir_all(CORPUS).unwrap();
    for (name, bytes) in inputs {
        std::fs::write(format!("{CORPUS}/{name}"), bytes).unwrap();
    }
}

const XHCI_BAR: u64 = 0x2000_0000;

/// Every register of the xHCI's BAR 0 a guest reads, up to the doorbells
/// (capability, operational, port and runtime registers), and the MSI-X
/// table (BAR 0 at 0x3000 on this function).
fn xhci_view(m: &Machine) -> Vec<u64> {
    // Under Miri (slow) the operational, first port and interrupter 0
    // registers only; natively all of them.
    let registers: Vec<u64> = if cfg!(miri) {
        vec![
            0x40, 0x44, 0x54, 0x70, 0x74, 0x78, 0x440, 0x1020, 0x1024, 0x1028, 0x1038,
        ]
    } else {
        (0..0x2000).step_by(4).collect()
    };
    let mut view: Vec<u64> = registers
        .iter()
        .map(|r| m.system().read(XHCI_BAR + r, 4))
        .collect();
    view.extend((0..16).map(|r| m.system().read(XHCI_BAR + 0x3000 + 4 * r, 4)));
    view
}

/// A guest's programming that needs no guest memory: interrupts on,
/// CONFIG, DCBAAP, interrupter 0's IMAN, IMOD and ERDP, an MSI-X entry.
fn busy_xhci(m: &Machine) {
    let w = |r: u64, v: u64| m.system().write(XHCI_BAR + r, 4, v);
    w(0x40, 0x4); // USBCMD.INTE
    w(0x40 + 0x38, 8); // CONFIG: 8 slots
    w(0x40 + 0x30, 0x0012_3440); // DCBAAP
    w(0x1020, 0x2); // IMAN.IE
    w(0x1024, 0x0010_00a0); // IMOD
    w(0x1038, 0x0045_6780); // ERDP
    w(0x3000, 0xfee0_0000); // MSI-X entry 0: address, data
    w(0x3008, 0x41);
}

#[test]
fn xhci_round_trips_every_register_a_guest_reads() {
    if cfg!(miri) {
        // The xHCI's section (some 30 KB) makes each save and load take
        // minutes under Miri; natively and under the sanitizers it runs.
        eprintln!("skipped under Miri: the xHCI's migration section is too slow there");
        return;
    }
    let source = moved_xhci("mig-xhci-source");
    busy_xhci(&source);
    let destination = moved_xhci("mig-xhci-destination");
    let fresh = xhci_view(&destination);
    destination
        .load_state(&source.save_state().unwrap())
        .unwrap();
    let seen = xhci_view(&destination);
    assert_ne!(seen, fresh, "the test can fail");
    assert_eq!(seen, xhci_view(&source));
}

#[test]
fn xhci_loads_a_stream_without_its_state_and_refuses_a_newer_one() {
    if cfg!(miri) {
        // The xHCI's section (some 30 KB) makes each save and load take
        // minutes under Miri; natively and under the sanitizers it runs.
        eprintln!("skipped under Miri: the xHCI's migration section is too slow there");
        return;
    }
    let source = moved_xhci("mig-xhci-old-source");
    busy_xhci(&source);
    let image = migration::save_image(source.object()).unwrap();
    let mut old = image.clone();
    for section in &mut old.sections {
        section.levels.retain(|l| l.type_name != "base-xhci");
    }
    let destination = moved_xhci("mig-xhci-old-destination");
    let fresh = xhci_view(&destination);
    destination.load_state(&old.encode()).unwrap();
    assert_eq!(xhci_view(&destination), fresh, "reset values");

    let mut newer = image;
    let section = newer
        .sections
        .iter_mut()
        .find(|s| s.type_name == "base-xhci")
        .unwrap();
    section.levels.last_mut().unwrap().version = 2;
    let before = destination.save_state().unwrap();
    let err = destination.load_state(&newer.encode()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`/mig-xhci-old-destination/peripheral/usb0/xhci-core` (base-xhci): the stream has version 2 \
         of its state, this build loads versions 0 to 1"
    );
    assert_eq!(destination.save_state().unwrap(), before, "unchanged");
}
