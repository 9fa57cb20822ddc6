//! Writes the USB test disk (`qom_test_support::guests::usb_disk`) for a
//! reference capture under QEMU: `cargo run -p qom-test-support --example
//! usb-disk -- OUT.img [MODE]`.

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(out), mode) = (args.next(), args.next()) else {
        eprintln!("usage: usb-disk OUT.img [MODE: 0 halt, 1 stream, 2 timed]");
        std::process::exit(2);
    };
    let mode = mode.map_or(Ok(0), |m| m.parse::<u8>()).unwrap_or_else(|e| {
        eprintln!("usb-disk: MODE: {e}");
        std::process::exit(2);
    });
    let disk = qom_test_support::guests::usb_disk(mode).unwrap_or_else(|e| {
        eprintln!("usb-disk: {e}");
        std::process::exit(1);
    });
    if let Err(e) = std::fs::write(&out, disk) {
        eprintln!("usb-disk: {out}: {e}");
        std::process::exit(1);
    }
}
