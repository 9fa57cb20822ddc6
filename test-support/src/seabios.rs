//! SeaBIOS under real QEMU as the oracle: the reference logs in
//! `reference/` (captured by `reference/capture.sh`, described in
//! `reference/README.md`) and the lines the tests compare with them.

/// Debian's SeaBIOS build with the xHCI driver, QEMU's default for `pc`.
pub const BIOS: &str = "/usr/share/seabios/bios-256k.bin";

/// SeaBIOS's debug log under QEMU 7.2 with KVM, `-M pc -nodefaults
/// -device qemu-xhci,id=usb0 -usb`.
pub const REFERENCE: &str = include_str!("../reference/seabios-256k-xhci-usb.log");

/// The same without QEMU's kvmvapic option ROM (`-global
/// apic-common.vapic=off`), which our `pc` does not have: the boot order
/// is compared with this one.
pub const REFERENCE_NO_VAPIC: &str = include_str!("../reference/seabios-256k-xhci-usb-novapic.log");

/// SeaBIOS's log under QEMU with `-device qemu-xhci,id=usb0 -device
/// usb-kbd,bus=usb0.0` (and no UHCI).
pub const REFERENCE_USB_KBD: &str = include_str!("../reference/seabios-256k-xhci-kbd.log");

/// SeaBIOS's log under QEMU with `-device qemu-xhci,id=usb0 -drive
/// file=disk.img,if=none,id=d0,format=raw -device
/// usb-storage,drive=d0,bus=usb0.0`, the disk being
/// [`usb_disk(0)`](crate::guests::usb_disk): it boots `usb_boot`, which
/// prints "USBBOOT ok".
pub const REFERENCE_USB_STORAGE: &str = include_str!("../reference/seabios-256k-xhci-storage.log");

/// What the guest `pci_dump` prints under QEMU with `-device
/// qemu-xhci,id=usb0`: 00:02.0's configuration space, one dword a line.
pub const REFERENCE_PCI_DUMP_XHCI: &str = include_str!("../reference/pci-dump-qemu-xhci.log");

/// SeaBIOS's log under QEMU with `-usb -device usb-kbd,bus=usb-bus.0`:
/// the keyboard on the PIIX3's UHCI.
pub const REFERENCE_UHCI_KBD: &str = include_str!("../reference/seabios-256k-uhci-kbd.log");

/// SeaBIOS's log under QEMU with `-usb` and the disk of
/// [`REFERENCE_USB_STORAGE`] on the UHCI (`usb-storage,bus=usb-bus.0`).
pub const REFERENCE_UHCI_STORAGE: &str = include_str!("../reference/seabios-256k-uhci-storage.log");

/// SeaBIOS's log under QEMU with `-boot menu=on`, the keyboard and the
/// disk of [`REFERENCE_USB_STORAGE`]: HMP `sendkey esc` at "Press ESC for
/// boot menu.", `sendkey 1` at the menu; it boots the disk.
pub const REFERENCE_USB_MENU: &str = include_str!("../reference/seabios-256k-xhci-menu.log");

/// The USB lines of a log: the xHCI controller, its port lines, what
/// SeaBIOS found on them (keyboard, mass storage drives and their
/// geometry, without the drive's address), the boot and what the boot
/// sector printed.
pub fn usb_lines(log: &str) -> Vec<String> {
    let kept = [
        "UHCI init",
        "XHCI init",
        "XHCI    protocol",
        "XHCI port #",
        "USB keyboard initialized",
        "USB MSC ",
        "Booting from",
        "No bootable device",
        "USBBOOT",
        "Press ESC for boot menu",
        "Select boot device",
    ];
    log.lines()
        .filter_map(|l| {
            if l.starts_with("drive ") && l.contains("PCHS=") {
                return l
                    .split_once(": ")
                    .map(|(_, geometry)| format!("drive {geometry}"));
            }
            // Boot menu entries: "1. USB MSC Drive ...".
            let entry = l
                .split_once(". ")
                .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            (entry || kept.iter().any(|k| l.starts_with(k))).then(|| l.to_string())
        })
        .collect()
}

/// The lines compared with [`REFERENCE`]: PCI BAR placement and init of
/// the functions both machines have, the ELCR setup, the USB controllers,
/// the PS/2 keyboard, the end of the boot.
pub fn compared(log: &str) -> Vec<String> {
    let ours = ["00:00.0", "00:01.0", "00:01.2", "00:02.0"];
    let kept = [
        "PIIX3/PIIX4 init",
        "XHCI init",
        "XHCI    protocol",
        "UHCI init",
        "PS2 keyboard initialized",
        "No bootable device",
    ];
    log.lines()
        .filter(|l| {
            let pci = (l.starts_with("PCI: map device") || l.starts_with("PCI: init"))
                && ours.iter().any(|bdf| l.contains(bdf));
            pci || kept.iter().any(|k| l.starts_with(k))
        })
        .map(str::to_string)
        .collect()
}

/// The boot attempts, in order (compared with [`REFERENCE_NO_VAPIC`]).
pub fn boot_order(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.starts_with("Booting from"))
        .map(str::to_string)
        .collect()
}

/// `theirs` and `ours` side by side, one pair a line, for a test's output
/// and the closing report.
pub fn side_by_side(theirs: &[String], ours: &[String]) -> String {
    let rows = theirs.len().max(ours.len());
    (0..rows)
        .map(|i| {
            let cell = |v: &[String]| v.get(i).cloned().unwrap_or_default();
            format!("{:<72} | {}\n", cell(theirs), cell(ours))
        })
        .collect()
}
