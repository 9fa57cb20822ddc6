//! The `pc` board's 16 ISA interrupt lines and the PIIX3's PCI interrupt
//! routing onto them (QEMU `hw/isa/piix3.c`: `piix3_set_irq`,
//! `piix3_update_irq_levels`; `hw/pci-host/i440fx.c`:
//! `pci_slot_get_pirq`).
//!
//! A line is driven by its ISA device (the 16550A on 4, the i8042 on 1
//! and 12) and by the PCI interrupt lines PIRQA-D that the PIIX3's route
//! registers 0x60-0x63 send to it; it is high while any of them is (QEMU's
//! `pic_levels` bitmap ORs the PIRQs routed to one line the same way).
//! A PIRQ is high while any PCI function whose INTx pin reaches it
//! asserts the pin. Changes go to the accelerator's interrupt controllers
//! through the sink [`IsaIrqs::connect`] installs (`KVM_IRQ_LINE` under
//! KVM, whose in-kernel PIC and IOAPIC both see ISA lines 0-15).

use crate::machine::IrqSink;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// ISA interrupt lines.
pub const ISA_IRQS: usize = 16;
/// PCI interrupt lines of the PIIX3 (PIRQA-D).
pub const PIRQS: usize = 4;

/// The PIRQ (0-3 for A-D) that interrupt pin `pin` (1-4 for INTA-INTD;
/// 0 is none) of a function in `slot` reaches on the i440FX board
/// (`pci_slot_get_pirq`: `(pin - 1 + slot - 1) & 3`).
///
/// ```
/// use qom_devices::pc::isa_irq::slot_pirq;
///
/// assert_eq!(slot_pirq(1, 4), Some(3), "the PIIX3's UHCI (01.2, INTD) is on PIRQD");
/// assert_eq!(slot_pirq(2, 1), Some(1), "INTA of slot 2 is on PIRQB");
/// assert_eq!(slot_pirq(0, 1), Some(3), "slot 0 wraps to PIRQD");
/// assert_eq!(slot_pirq(3, 0), None, "no pin");
/// ```
pub fn slot_pirq(slot: u8, pin: u8) -> Option<usize> {
    if !(1..=4).contains(&pin) {
        return None;
    }
    Some((usize::from(pin) + usize::from(slot) + PIRQS - 2) % PIRQS)
}

/// A source's bit in a line's mask: bit 0 the ISA device, bits 1-4 PIRQA-D.
const ISA_SOURCE: u8 = 1;

fn pirq_source(pirq: usize) -> u8 {
    2 << pirq
}

/// The ISA interrupt lines and the PIRQ routing (cheap to clone: clones
/// share the lines).
///
/// ```
/// use qom_devices::pc::isa_irq::IsaIrqs;
/// use std::sync::{Arc, Mutex};
///
/// let irqs = IsaIrqs::default();
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = seen.clone();
/// irqs.connect(Arc::new(move |irq, level| log.lock().unwrap().push((irq, level))));
/// // SeaBIOS routes PIRQA-D to 10, 10, 11, 11.
/// irqs.set_routes([10, 10, 11, 11]);
/// irqs.set_pci(0x10, 1, true); // slot 2 INTA = PIRQB
/// irqs.set_pci(0x08, 0, true); // another function on PIRQA, also IRQ 10
/// irqs.set_pci(0x10, 1, false);
/// assert!(irqs.level(10), "PIRQA still holds it");
/// irqs.set_pci(0x08, 0, false);
/// assert_eq!(*seen.lock().unwrap(), [(10, true), (10, false)]);
/// ```
#[derive(Clone, Default)]
pub struct IsaIrqs {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    /// Per line, the sources driving it high.
    high: [u8; ISA_IRQS],
    sink: Option<IrqSink>,
    /// The route registers as last written: 0-15 an ISA line, anything
    /// else (reset value 0x80) no route.
    routes: [u8; PIRQS],
    /// The functions asserting their pin, by devfn, with their PIRQ.
    asserted: BTreeMap<u8, usize>,
}

impl IsaIrqs {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends every later change of a line to `sink`, and the lines that
    /// are high now at once.
    pub fn connect(&self, sink: IrqSink) {
        let mut state = self.lock();
        for (irq, high) in state.high.iter().enumerate() {
            if *high != 0 {
                sink(irq as u32, true);
            }
        }
        state.sink = Some(sink);
    }

    /// Whether line `irq` is high.
    pub fn level(&self, irq: u32) -> bool {
        self.lock().high.get(irq as usize).is_some_and(|h| *h != 0)
    }

    /// The ISA device on line `irq` drives it to `level`.
    pub fn set_isa(&self, irq: u32, level: bool) {
        self.lock().drive(irq as usize, ISA_SOURCE, level);
    }

    /// An input for an ISA device's interrupt output on line `irq`.
    pub fn isa_line(&self, irq: u32) -> impl Fn(bool) + Send + Sync + 'static {
        let irqs = self.clone();
        move |level| irqs.set_isa(irq, level)
    }

    /// The PCI function at `devfn`, whose pin reaches PIRQ `pirq`, drives
    /// its pin to `level`.
    pub fn set_pci(&self, devfn: u8, pirq: usize, level: bool) {
        let mut state = self.lock();
        if level {
            state.asserted.insert(devfn, pirq % PIRQS);
        } else {
            state.asserted.remove(&devfn);
        }
        state.update_pirqs();
    }

    /// The PIIX3's route registers 0x60-0x63 changed.
    pub fn set_routes(&self, routes: [u8; PIRQS]) {
        let mut state = self.lock();
        state.routes = routes;
        state.update_pirqs();
    }
}

impl State {
    /// Sets or clears `source` on `line`, telling the sink if the line's
    /// level changed (under the lock, so the sink sees changes in order).
    fn drive(&mut self, line: usize, source: u8, level: bool) {
        let Some(high) = self.high.get_mut(line) else {
            return;
        };
        let before = *high != 0;
        if level {
            *high |= source;
        } else {
            *high &= !source;
        }
        let after = *high != 0;
        if before != after {
            if let Some(sink) = &self.sink {
                sink(line as u32, after);
            }
        }
    }

    /// Brings every line's PIRQ sources in line with the asserted pins and
    /// the routes (`piix3_update_irq_levels`). A route of 16 or more
    /// routes nowhere, as QEMU's `pic_irq >= PIIX_NUM_PIC_IRQS` test.
    /// Lines are lowered before others are raised, so a moved route never
    /// shows the interrupt on two lines at once.
    fn update_pirqs(&mut self) {
        for raise in [false, true] {
            for pirq in 0..PIRQS {
                let level = self.asserted.values().any(|p| *p == pirq);
                let route = usize::from(self.routes[pirq]);
                for line in 0..ISA_IRQS {
                    let wanted = level && line == route;
                    if wanted == raise {
                        self.drive(line, pirq_source(pirq), wanted);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Seen = Arc<Mutex<Vec<(u32, bool)>>>;

    fn recorder() -> (IsaIrqs, Seen) {
        let irqs = IsaIrqs::default();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        irqs.connect(Arc::new(move |irq, level| {
            log.lock().unwrap().push((irq, level))
        }));
        (irqs, seen)
    }

    #[test]
    fn an_unrouted_pirq_reaches_no_line_until_routed() {
        let (irqs, seen) = recorder();
        // Reset value 0x80: routing disabled (`piix3_reset`).
        irqs.set_routes([0x80; PIRQS]);
        irqs.set_pci(0x10, 1, true);
        assert!(seen.lock().unwrap().is_empty());
        irqs.set_routes([0x80, 11, 0x80, 0x80]);
        assert_eq!(*seen.lock().unwrap(), [(11, true)]);
        // Moving the route moves the level.
        irqs.set_routes([0x80, 5, 0x80, 0x80]);
        assert_eq!(*seen.lock().unwrap(), [(11, true), (11, false), (5, true)]);
    }

    #[test]
    fn route_values_of_16_and_more_route_nowhere_as_in_qemu() {
        let (irqs, seen) = recorder();
        // QEMU uses the register value as the IRQ when below 16, without
        // masking: 0x1a is not IRQ 10.
        irqs.set_routes([0x1a; PIRQS]);
        irqs.set_pci(0x08, 0, true);
        assert!(seen.lock().unwrap().is_empty());
    }

    #[test]
    fn an_isa_device_and_a_pirq_share_a_line() {
        let (irqs, seen) = recorder();
        irqs.set_routes([4, 0x80, 0x80, 0x80]);
        irqs.set_isa(4, true);
        irqs.set_pci(0x18, 0, true);
        irqs.set_isa(4, false);
        assert!(irqs.level(4), "the PIRQ still drives it");
        irqs.set_pci(0x18, 0, false);
        assert_eq!(*seen.lock().unwrap(), [(4, true), (4, false)]);
    }

    #[test]
    fn a_late_sink_hears_the_lines_already_high() {
        let irqs = IsaIrqs::default();
        irqs.set_isa(1, true);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        irqs.connect(Arc::new(move |irq, level| {
            log.lock().unwrap().push((irq, level))
        }));
        assert_eq!(*seen.lock().unwrap(), [(1, true)]);
    }
}
