//! Errors of the device layer.

/// What can go wrong creating, configuring, realizing or plugging a device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from the object model (unknown type, bad property, path).
    #[error(transparent)]
    Qom(#[from] qom_rt::Error),
    /// A migration stream was refused (the machine is unchanged), or
    /// could not be made.
    #[error(transparent)]
    Migration(#[from] qom_rt::migration::MigrationError),
    /// The type exists but is not a device.
    #[error("type `{type_name}` is not a device")]
    NotADevice {
        /// The type name.
        type_name: String,
    },
    /// Realize failed; the device was left unrealized and unplugged.
    #[error("device `{device}` failed to realize: {reason}")]
    Realize {
        /// Path or type of the device.
        device: String,
        /// Why.
        reason: String,
    },
    /// The device cannot be unplugged while the machine runs.
    #[error("device `{id}` ({type_name}) is not hot-pluggable")]
    NotHotpluggable {
        /// The device id.
        id: String,
        /// Its type.
        type_name: String,
    },
    /// No device with this id is plugged.
    #[error("no device with id `{id}`")]
    NoSuchDevice {
        /// The id asked for.
        id: String,
    },
    /// The id is taken.
    #[error("duplicate id `{id}`: a device with that id already exists")]
    DuplicateId {
        /// The id.
        id: String,
    },
    /// Two devices asked for the same PCI slot.
    #[error("PCI slot {slot:#04x} is already used by `{existing}`; `{new}` cannot use it")]
    SlotInUse {
        /// The slot.
        slot: u8,
        /// The device already there.
        existing: String,
        /// The device asking for it.
        new: String,
    },
    /// No free PCI slot or no room in the BAR window.
    #[error("no room on the bus for `{device}`: {reason}")]
    NoRoom {
        /// The device.
        device: String,
        /// Which resource ran out.
        reason: String,
    },
    /// `TYPE,id=ID,prop=value,...` that does not parse.
    #[error("invalid device options `{options}`: {reason}")]
    BadOptions {
        /// The text as given.
        options: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No machine type has this name.
    #[error("unknown machine `{name}`; supported machines: {} (`-M help` describes them)", known.join(", "))]
    UnknownMachine {
        /// The name asked for.
        name: String,
        /// Every machine name there is.
        known: Vec<String>,
    },
    /// The machine cannot honour a command-line option.
    #[error("machine `{machine}` does not take {option}: {reason}")]
    UnsupportedOption {
        /// The machine's name.
        machine: String,
        /// The option as spelled on the command line (`-bios`).
        option: &'static str,
        /// Why not.
        reason: String,
    },
    /// The machine cannot be built without an option.
    #[error("machine `{machine}` needs {option}: {reason}")]
    MissingOption {
        /// The machine's name.
        machine: String,
        /// The option as spelled on the command line (`-bios FILE`).
        option: &'static str,
        /// Why.
        reason: String,
    },
    /// An option's value does not suit the machine.
    #[error("machine `{machine}`: {option} {value}: {reason}")]
    BadOption {
        /// The machine's name.
        machine: String,
        /// The option as spelled on the command line (`-m`).
        option: &'static str,
        /// The value given, as the message shows it.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The machine has no bus that takes hot-plugged devices.
    #[error("machine `{machine}` cannot hot-plug devices")]
    NoHotplug {
        /// The machine's name.
        machine: String,
    },
    /// `bus=` names no bus (QEMU: `Bus 'nosuch' not found`).
    #[error("Bus '{bus}' not found")]
    BusNotFound {
        /// The bus asked for.
        bus: String,
    },
    /// The device type needs a bus this machine does not provide.
    #[error("device `{type_name}` needs a {bus} bus")]
    NoBus {
        /// The device type.
        type_name: String,
        /// The bus kind.
        bus: &'static str,
    },
    /// The type is a board's own part, which the user cannot add (QEMU's
    /// `user_creatable = false`).
    #[error("device `{type_name}` cannot be added with -device or device_add: it is a board's own part ({reason})")]
    NotPluggable {
        /// The device type.
        type_name: String,
        /// What it is (its class description).
        reason: &'static str,
    },
    /// A USB device's `bus` property names no USB bus, or the bus is full.
    #[error("`{device}`: USB bus `{bus}`: {reason}")]
    UsbBus {
        /// The device.
        device: String,
        /// The `bus` property's value.
        bus: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Shorthand used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
