//! Migration of a running guest: guest RAM, the KVM state of the vCPUs
//! and in-kernel devices, and the machine's device stream
//! (`qom_rt::migration`), in one checksummed stream
//! ([`format`](mod@format) has the layout).
//!
//! - [`Vm::save_snapshot`]: stops the guest and writes everything (a
//!   snapshot file).
//! - [`Vm::migrate_live`]: pre-copy. With KVM's dirty-page logging on,
//!   every page is sent while the guest runs, then the pages it wrote
//!   meanwhile, round after round, until a round is small; then the vCPUs
//!   stop (the downtime) for the last dirty pages, the vCPU, in-kernel
//!   and device state and the end record, and the destination's answer.
//!   Cancelled or failed, the guest runs on here.
//! - [`Vm::load_snapshot`]: reads a stream into a stopped VM, checking
//!   every record first.

mod abi;
pub mod format;
mod ram;
mod state;

use crate::control::RunState;
use crate::vm::Vm;
use format::{Reader, END, PAGE, PAGES, PAGES_PER_RECORD, STATE};
pub(crate) use ram::advise_huge_pages;
use ram::{DirtyMap, PageCounts};
pub(crate) use state::read_msrs;
use state::{ChipState, VcpuState};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A round of pre-copy this small (in pages) is sent with the guest
/// stopped: 256 pages, 1 MiB, well under a few milliseconds on a local
/// socket.
const LAST_ROUND_PAGES: u64 = 256;
/// The most pre-copy rounds before stopping the guest whatever it dirties.
const MAX_ROUNDS: u64 = 30;

/// Where a migration is, shared with whoever reports it (`info migrate`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationStats {
    /// Bytes of the stream written so far.
    pub transferred: u64,
    /// Bytes of guest RAM in the machine.
    pub total_ram: u64,
    /// Bytes of guest RAM still to send (the pages dirty at the last
    /// count; until the first pass ends, what it has not reached).
    pub remaining: u64,
    /// Pages the guest dirtied during the last pre-copy round.
    pub dirty_pages: u64,
    /// Pre-copy rounds done (the first pass is round 1).
    pub iterations: u64,
    /// Pages sent with their bytes.
    pub data_pages: u64,
    /// Pages of zeros, sent as one byte each.
    pub zero_pages: u64,
    /// Bytes of vCPU, in-kernel and device state.
    pub state_bytes: u64,
    /// How long the guest was stopped, once it has been.
    pub downtime: Option<Duration>,
}

/// What a load read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// Pages written.
    pub pages: u64,
    /// Bytes of the stream.
    pub bytes: u64,
}

/// Counts what goes through to the writer.
struct Counted<'a> {
    out: &'a mut dyn Write,
    progress: &'a Mutex<MigrationStats>,
}

impl Counted<'_> {
    fn record(&mut self, tag: u8, body: &[u8]) -> Result<(), String> {
        let written = format::write_record(self.out, tag, body)
            .map_err(|e| format!("cannot write the stream: {e}"))?;
        lock(self.progress).transferred += written;
        Ok(())
    }
}

fn lock(progress: &Mutex<MigrationStats>) -> std::sync::MutexGuard<'_, MigrationStats> {
    progress.lock().unwrap_or_else(|e| e.into_inner())
}

impl Vm {
    /// Stops the guest and writes a snapshot of it to `out`: every RAM
    /// page, the vCPU, in-kernel and device state. The guest stays
    /// stopped (`postmigrate`) once written; on an error it runs on if it
    /// was running.
    pub fn save_snapshot(
        &self,
        out: &mut dyn Write,
        progress: &Mutex<MigrationStats>,
    ) -> Result<MigrationStats, String> {
        let never = AtomicBool::new(false);
        self.send(out, progress, &never, false, &mut || Ok(()))
    }

    /// Migrates the running guest to `out` with pre-copy (see the module
    /// documentation), reporting in `progress` as it goes. `cancel` set
    /// stops it at the next record. `confirm` waits for the destination
    /// to say it loaded the stream. Once it has, the guest stays stopped
    /// here (`postmigrate`); any failure, or a cancel, leaves it running.
    pub fn migrate_live(
        &self,
        out: &mut dyn Write,
        progress: &Mutex<MigrationStats>,
        cancel: &AtomicBool,
        confirm: &mut dyn FnMut() -> Result<(), String>,
    ) -> Result<MigrationStats, String> {
        self.send(out, progress, cancel, true, confirm)
    }

    fn send(
        &self,
        out: &mut dyn Write,
        progress: &Mutex<MigrationStats>,
        cancel: &AtomicBool,
        live: bool,
        confirm: &mut dyn FnMut() -> Result<(), String>,
    ) -> Result<MigrationStats, String> {
        let was_running = self.status() == RunState::Running;
        let logging = live && was_running;
        if logging {
            self.slots.set_dirty_logging(true)?;
            for block in ram::blocks(&self.machine) {
                block.block.set_dirty_log(true);
            }
        }
        let mut paused_at = None;
        let result = self.send_stream(out, progress, cancel, logging, &mut paused_at, confirm);
        if logging {
            if let Err(e) = self.slots.set_dirty_logging(false) {
                tracing::warn!(target: "kvm", "cannot turn dirty logging off: {e}");
            }
            for block in ram::blocks(&self.machine) {
                block.block.set_dirty_log(false);
            }
        }
        let mut shared = self.control.lock();
        match &result {
            Ok(()) => {
                // The destination has the guest: it does not run here
                // again unless told to (`cont`).
                if matches!(shared.state, RunState::Running | RunState::Paused) {
                    self.control.set(&mut shared, RunState::PostMigrate);
                }
            }
            Err(_) if was_running && shared.state == RunState::Paused => {
                self.control.set(&mut shared, RunState::Running);
            }
            Err(_) => {}
        }
        drop(shared);
        let mut stats = lock(progress);
        if let Some(at) = paused_at {
            stats.downtime = Some(at.elapsed());
        }
        stats.remaining = 0;
        result.map(|()| stats.clone())
    }

    fn send_stream(
        &self,
        out: &mut dyn Write,
        progress: &Mutex<MigrationStats>,
        cancel: &AtomicBool,
        logging: bool,
        paused_at: &mut Option<Instant>,
        confirm: &mut dyn FnMut() -> Result<(), String>,
    ) -> Result<(), String> {
        let blocks = ram::blocks(&self.machine);
        let msr_list = state::msr_list(&self.kvm).map_err(|e| e.to_string())?;
        let header = format::header(&blocks.iter().map(|b| b.info.clone()).collect::<Vec<_>>());
        out.write_all(&header)
            .map_err(|e| format!("cannot write the stream: {e}"))?;
        {
            let mut stats = lock(progress);
            stats.transferred += header.len() as u64;
            stats.total_ram = blocks.iter().map(|b| b.info.size).sum();
            stats.remaining = stats.total_ram;
        }
        let mut out = Counted { out, progress };
        let mut records = 0u32;
        let mut dirty = DirtyMap::all(&blocks);
        if logging {
            loop {
                records += self.send_pages(&mut out, &blocks, &dirty, cancel)?;
                dirty = DirtyMap::none(&blocks);
                self.take_dirty(&blocks, &mut dirty)?;
                let mut stats = lock(progress);
                stats.iterations += 1;
                stats.dirty_pages = dirty.count();
                stats.remaining = dirty.count() * PAGE as u64;
                if stats.dirty_pages <= LAST_ROUND_PAGES || stats.iterations >= MAX_ROUNDS {
                    break;
                }
            }
        }
        // Downtime counts from the moment the vCPUs are told to stop.
        *paused_at = Some(Instant::now());
        self.pause().map_err(|e| e.to_string())?;
        if logging {
            self.take_dirty(&blocks, &mut dirty)?;
        } else {
            lock(progress).iterations += 1;
        }
        records += self.send_pages(&mut out, &blocks, &dirty, cancel)?;
        let state = self.state_body(&msr_list)?;
        lock(progress).state_bytes = state.len() as u64;
        out.record(STATE, &state)?;
        out.record(END, &(records + 1).to_le_bytes())?;
        out.out
            .flush()
            .map_err(|e| format!("cannot write the stream: {e}"))?;
        if cancel.load(Ordering::Acquire) {
            return Err("migration cancelled".into());
        }
        confirm()
    }

    /// Marks the pages written since the last call: by the guest (KVM's
    /// dirty log) and by device models' DMA (the blocks' own log).
    fn take_dirty(&self, blocks: &[ram::Block], dirty: &mut DirtyMap) -> Result<(), String> {
        self.slots
            .take_dirty(|block, offset| dirty.mark(blocks, block, offset))?;
        for block in blocks {
            block
                .block
                .take_dirty(|offset| dirty.mark(blocks, &block.block, offset));
        }
        Ok(())
    }

    /// Sends the marked pages; returns how many records it wrote.
    fn send_pages(
        &self,
        out: &mut Counted<'_>,
        blocks: &[ram::Block],
        dirty: &DirtyMap,
        cancel: &AtomicBool,
    ) -> Result<u32, String> {
        let mut records = 0;
        let mut batch: Vec<u32> = Vec::with_capacity(PAGES_PER_RECORD);
        let mut current = None;
        let mut left = dirty.count();
        let mut flush =
            |block: usize, batch: &mut Vec<u32>, left: &mut u64| -> Result<(), String> {
                if batch.is_empty() {
                    return Ok(());
                }
                if cancel.load(Ordering::Acquire) {
                    return Err("migration cancelled".into());
                }
                let mut counts = PageCounts::default();
                let body = ram::encode_pages(block, &blocks[block].block, batch, &mut counts);
                out.record(PAGES, &body)?;
                *left -= batch.len() as u64;
                let mut stats = lock(out.progress);
                stats.data_pages += counts.data;
                stats.zero_pages += counts.zero;
                stats.remaining = stats.remaining.min(*left * PAGE as u64);
                drop(stats);
                batch.clear();
                records += 1;
                Ok(())
            };
        for (block, page) in dirty.pages() {
            if current != Some(block) || batch.len() == PAGES_PER_RECORD {
                if let Some(previous) = current {
                    flush(previous, &mut batch, &mut left)?;
                }
                current = Some(block);
            }
            batch.push(page);
        }
        if let Some(block) = current {
            flush(block, &mut batch, &mut left)?;
        }
        Ok(records)
    }

    /// The state record's body: vCPUs, in-kernel devices, device stream.
    /// The guest is stopped.
    fn state_body(&self, msr_list: &[u32]) -> Result<Vec<u8>, String> {
        let mut body = Vec::new();
        body.extend_from_slice(&(self.vcpus.len() as u32).to_le_bytes());
        for vcpu in &self.vcpus {
            let fd = vcpu.fd.lock().unwrap_or_else(|e| e.into_inner());
            VcpuState::capture(&fd, msr_list)
                .map_err(|e| e.to_string())?
                .encode(&mut body);
        }
        ChipState::capture(&self.fd)
            .map_err(|e| e.to_string())?
            .encode(&mut body);
        let devices = self.machine.save_state().map_err(|e| e.to_string())?;
        body.extend_from_slice(&devices);
        Ok(body)
    }

    /// Loads a stream written by [`save_snapshot`](Self::save_snapshot)
    /// or [`migrate_live`](Self::migrate_live) into this VM, which must
    /// not be running. With `staged`, every record is read and checked,
    /// and the device stream loaded (all or nothing), before any RAM or
    /// vCPU is written: a refused stream leaves the VM as it was. Without
    /// (a live migration's destination, which has not run), pages are
    /// written as they come, and a refused stream leaves RAM half written
    /// and the VM to be discarded.
    pub fn load_snapshot(&self, input: &mut dyn Read, staged: bool) -> Result<LoadStats, String> {
        if self.status() == RunState::Running {
            return Err("the guest is running: stop it first".into());
        }
        let blocks = ram::blocks(&self.machine);
        let (mut reader, theirs) = Reader::open(input)?;
        ram::check_layout(&blocks, &theirs)?;
        let mut stats = LoadStats::default();
        let mut staged_pages = Vec::new();
        let mut state = None;
        loop {
            let (tag, body) = reader.next_record()?;
            stats.bytes += body.len() as u64 + 9;
            match tag {
                PAGES => {
                    let pages = ram::decode_pages(&body, &blocks)?;
                    stats.pages += pages.pages.len() as u64;
                    if staged {
                        staged_pages.push(body);
                    } else {
                        ram::apply_pages(&pages, &blocks);
                    }
                }
                STATE if state.is_none() => state = Some(body),
                STATE => return Err("the stream has two state records".into()),
                _ => {
                    let count = format::Cursor::new(&body, "end record").u32()?;
                    if count != reader.records - 1 {
                        return Err(format!(
                            "the end record counts {count} records, the stream had {}",
                            reader.records - 1
                        ));
                    }
                    debug_assert_eq!(tag, END);
                    break;
                }
            }
        }
        let state = state.ok_or("the stream has no state record (vCPUs and devices)")?;
        let mut cursor = format::Cursor::new(&state, "state record");
        let count = cursor.u32()? as usize;
        if count != self.vcpus.len() {
            return Err(format!(
                "the stream has {count} vCPUs, this machine {}",
                self.vcpus.len()
            ));
        }
        let vcpus = (0..count)
            .map(|i| VcpuState::decode(&mut cursor).map_err(|e| format!("vCPU {i}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let chips = ChipState::decode(&mut cursor)?;
        let devices = cursor.rest();
        // All or nothing: refused, it changed nothing.
        self.machine
            .load_state(devices)
            .map_err(|e| e.to_string())?;
        for body in &staged_pages {
            // Checked above; decoding again cannot fail.
            let pages = ram::decode_pages(body, &blocks)?;
            ram::apply_pages(&pages, &blocks);
        }
        chips.restore(&self.fd).map_err(|e| e.to_string())?;
        for (vcpu, state) in self.vcpus.iter().zip(&vcpus) {
            let fd = vcpu.fd.lock().unwrap_or_else(|e| e.into_inner());
            state.restore(&fd).map_err(|e| e.to_string())?;
        }
        tracing::info!(target: "kvm", pages = stats.pages, bytes = stats.bytes, rip = vcpus.first().map_or(0, VcpuState::rip), "migration stream loaded");
        Ok(stats)
    }
}
