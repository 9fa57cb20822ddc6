//! Errors of the accelerator.

/// What can go wrong creating or controlling a VM.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `/dev/kvm` cannot be used (absent, no permission, too old).
    #[error("KVM is not available: {0}")]
    KvmUnavailable(String),
    /// The KVM API lacks something this accelerator needs.
    #[error("KVM lacks {capability}, which the accelerator needs for {needed_for}")]
    MissingCapability {
        /// The capability.
        capability: &'static str,
        /// What it is needed for.
        needed_for: &'static str,
    },
    /// The machine has no CPU for KVM to run (it does not list
    /// `CpuBoard`).
    #[error(
        "machine `{machine}` has no CPU for KVM to run: -accel kvm needs a board with one (pc)"
    )]
    NoCpu {
        /// The machine's name.
        machine: String,
    },
    /// An ioctl failed.
    #[error("{operation} failed: {source}")]
    Kvm {
        /// What was being done.
        operation: &'static str,
        /// The errno.
        source: kvm_ioctls::Error,
    },
    /// A vCPU thread could not be started or controlled.
    #[error("vCPU {index}: {reason}")]
    Vcpu {
        /// The vCPU.
        index: usize,
        /// What went wrong.
        reason: String,
    },
}

impl Error {
    pub(crate) fn kvm(operation: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> Error {
        move |source| Error::Kvm { operation, source }
    }
}

/// Shorthand used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
