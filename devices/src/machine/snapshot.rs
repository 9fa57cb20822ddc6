//! Snapshots of a machine: the state of every device under it as a
//! migration stream (`migrate "file:PATH"` writes one, `-incoming
//! file:PATH` loads one). The stream format and the all-or-nothing load
//! are `qom_rt::migration`'s; this adds what a machine needs around them.

use super::instance::Machine;
use crate::error::Result;
use qom_rt::migration::{self, LoadSummary};

impl Machine {
    /// Saves the state of the board and every device under it (its
    /// hot-plugged devices included), as QEMU's `migrate` to a file.
    ///
    /// ```
    /// use qom_devices::Machine;
    ///
    /// let source = Machine::create_at("virt", "/doc-snapshot-source")?;
    /// source.system().write(0x0900_0024, 4, 0x27); // UART 0's IBRD
    /// let stream = source.save_state()?;
    ///
    /// let destination = Machine::create_at("virt", "/doc-snapshot-destination")?;
    /// destination.load_state(&stream)?;
    /// assert_eq!(destination.system().read(0x0900_0024, 4), 0x27);
    /// # Ok::<(), qom_devices::Error>(())
    /// ```
    pub fn save_state(&self) -> Result<Vec<u8>> {
        Ok(migration::save(self.object())?)
    }

    /// Loads a stream saved by [`save_state`](Self::save_state) from a
    /// machine of the same board with the same devices. Either every
    /// device takes the stream's state, or the stream is refused and the
    /// machine is unchanged (see `qom_rt::migration::load`). The machine
    /// must be stopped: nothing else accesses it meanwhile.
    pub fn load_state(&self, stream: &[u8]) -> Result<LoadSummary> {
        let summary = migration::load(self.object(), stream)?;
        // BARs may have moved: the flat views follow now rather than at
        // the next access.
        for space in self.address_spaces() {
            space.refresh();
        }
        Ok(summary)
    }
}
