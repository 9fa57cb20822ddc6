//! `qom`: a monitor for a live machine, QEMU-style. Everything is in the
//! library, so that a binary linking more device types can run the same
//! monitor (see `examples/out-of-tree`).

fn main() -> std::process::ExitCode {
    qom_monitor::main()
}
