//! Unplug cycles that each cut a live stream: SeaBIOS enumerates USB only
//! while it boots, so a cycle ends with `system_reset`, and the next one
//! waits until the guest has booted from the disk again (through a new
//! enumeration on the new controller or disk) and streams before it
//! unplugs.

use super::{wait_until, Streaming, BOOTED};
use qom_vmm::RunState;
use std::time::{Duration, Instant};

/// What each cycle deletes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `device_del usb0`: the xHCI controller, which takes its disk along.
    Controller,
    /// `device_del disk0`: the `usb-storage` device.
    Disk,
}

/// What the cycles saw.
pub struct Summary {
    /// The cycles run.
    pub cycles: usize,
    /// Good INT 13h reads and writes the guest made before the unplugs,
    /// over all cycles (each cycle's are at least one read and a write).
    pub served_before: usize,
    /// Cycles whose failure was waited for and seen.
    pub failures_seen: usize,
    /// The time all cycles took.
    pub elapsed: Duration,
}

/// How long a boot from the USB disk, or a failure, may take.
const PATIENCE: Duration = Duration::from_secs(60);

impl Streaming {
    /// Runs `cycles` cycles. In each, once the guest streams from the disk
    /// of this boot, `target` is deleted at a pseudo-random point of the
    /// stream. Once `device_del` has returned, at most one INT 13h call
    /// may still succeed (the one whose last transfer was in flight
    /// completes, the seed's rule, or whose result the guest had not
    /// printed yet); every later one must fail. Every `check_every`
    /// cycles (and the last) the test waits until the guest has seen the
    /// failure and checks it still runs: a vanished controller makes
    /// SeaBIOS wait out its 5 s transfer timeout, too slow for every
    /// cycle. Then the devices are plugged back and the machine reset.
    pub fn unplug_cycles(&self, target: Target, cycles: usize, check_every: usize) -> Summary {
        let start = Instant::now();
        // The first boot's output starts with the log.
        let mut boot = 0;
        let mut summary = Summary {
            cycles,
            served_before: 0,
            failures_seen: 0,
            elapsed: Duration::ZERO,
        };
        let mut jitter = 0x2545_f491_u32;
        for cycle in 0..cycles {
            let stream = self.wait_streaming(boot, cycle);
            jitter ^= jitter << 13;
            jitter ^= jitter >> 17;
            jitter ^= jitter << 5;
            std::thread::sleep(Duration::from_micros(u64::from(jitter % 3000)));
            summary.served_before += served(&self.log.since(stream));
            self.unplug(target);
            let unplugged = self.log.end();
            let check = (cycle + 1) % check_every == 0 || cycle + 1 == cycles;
            if check {
                assert!(
                    wait_until(|| failed(&self.log.since(unplugged)), PATIENCE),
                    "cycle {cycle}: the guest saw the disk fail; output since the unplug: {}",
                    self.log.since(unplugged)
                );
                assert_eq!(
                    self.vm.status(),
                    RunState::Running,
                    "cycle {cycle}: the guest runs on"
                );
                summary.failures_seen += 1;
            }
            let after = self.log.since(unplugged);
            assert!(
                served(&after) <= 1,
                "cycle {cycle}: INT 13h calls succeeded after the {} was deleted: {after}",
                target.name()
            );
            self.replug(target);
            if (cycle + 1) % 10 == 0 {
                eprintln!(
                    "{} unplug cycle {} of {cycles} done after {:.0?}",
                    target.name(),
                    cycle + 1,
                    start.elapsed()
                );
            }
            boot = self.log.end();
            if cycle + 1 < cycles {
                self.vm.reset().expect("system_reset");
            }
        }
        summary.elapsed = start.elapsed();
        summary
    }

    /// Waits until the boot after `from` has printed `USBBOOT ok` and then
    /// one good read and write; the position where its stream begins.
    fn wait_streaming(&self, from: u64, cycle: usize) -> u64 {
        let deadline = Instant::now() + PATIENCE;
        let stream = self
            .log
            .wait_from(from, BOOTED, deadline)
            .unwrap_or_else(|_| {
                panic!(
                "cycle {cycle}: the guest booted from the USB disk again; output of this boot: {}",
                self.log.since(from)
            )
            });
        assert!(
            self.log.wait_from(stream, "\u{1}r\u{1}w", deadline).is_ok(),
            "cycle {cycle}: the guest streams; output of this boot: {}",
            self.log.since(from)
        );
        stream
    }

    fn unplug(&self, target: Target) {
        let id = match target {
            Target::Controller => "usb0",
            Target::Disk => "disk0",
        };
        self.machine
            .device_del(id)
            .unwrap_or_else(|e| panic!("device_del {id}: {e}"));
    }

    fn replug(&self, target: Target) {
        if target == Target::Controller {
            self.machine
                .device_add("xhci-pci,id=usb0")
                .expect("replug the controller");
        }
        self.machine
            .device_add(&self.disk_spec())
            .expect("replug the disk");
    }
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Controller => "controller",
            Target::Disk => "disk",
        }
    }
}

/// The good INT 13h calls in the stream's output: its tokens (see
/// `usb_boot.S`) "\x01r" and "\x01w", not the letters of SeaBIOS's
/// messages between them.
fn served(out: &str) -> usize {
    out.matches("\u{1}r").count() + out.matches("\u{1}w").count()
}

/// Whether the stream's output shows a failed INT 13h call.
fn failed(out: &str) -> bool {
    out.contains("\u{1}E") || out.contains("\u{1}F")
}
