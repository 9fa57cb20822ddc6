//! The `qom` monitor with the `edu` device linked in:
//!
//! ```sh
//! cargo run -- -device edu,id=e0 -c "info pci; qom-list /machine/peripheral/e0"
//! ```
//!
//! Types register themselves through `inventory` when their crate is
//! linked, and rustc links a dependency only if the program names it:
//! the `use` below is what puts `edu` in this binary (without it,
//! `device_add edu` answers "unknown type").

use qom_edu as _;

fn main() -> std::process::ExitCode {
    qom_monitor::main()
}
