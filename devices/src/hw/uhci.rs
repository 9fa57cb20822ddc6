//! `piix3-usb-uhci` and the `piix3` function holding it as an *owned*
//! child (QEMU's `hw/usb/hcd-uhci.c` as the PIIX3's function 2), with its
//! USB bus (`usb-bus.0`, as QEMU names the `-usb` controller's bus) of two
//! full-speed ports.
//!
//! The schedule runs on a frame thread while the guest has the controller
//! running (`USBCMD.RS`): every millisecond it runs the frames due on the
//! machine's clock ([`UhciRegs::run_frames`]), as QEMU's frame timer
//! does, and drives INTD. The thread holds the controller (a strong
//! reference) and reaches the PCI function with the container
//! try-acquire; it ends when the guest stops the controller, when the
//! function begins finalizing, or when the controller is unrealized or
//! unplugged ([`PiixUhci::stop_frames`]).

use crate::device::{Device, DeviceImpl};
use crate::memory::{MemoryRegion, MmioOps, Sizes};
use crate::models::uhci::{self, UhciBus, UhciRegs};
use crate::pci::{BarKind, PciBar, PciDevice, PciDeviceImpl};
use crate::usb::{UsbBus, UsbDevice, UsbHost, UsbSpeed};
use qom_rt::migration::MigrationHooks;
use qom_rt::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The frame thread of a running controller.
struct FrameThread {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<()>,
}

/// The UHCI controller of the south bridge (`"piix3-usb-uhci"`).
#[derive(QomObject)]
#[qom(name = "piix3-usb-uhci", interfaces(MmioOps))]
#[migrate(version = 1, min_version = 0)]
pub struct PiixUhci {
    parent: ParentField<Device>,
    /// The 32-byte I/O register block.
    #[child(embedded)]
    pub io: MemoryRegion,
    /// Migrates as [`UhciState`](crate::models::uhci::UhciState), with
    /// its rule for transfers in flight.
    #[migrate]
    regs: UhciRegs,
    bus: OnceLock<UsbBus>,
    frames: Mutex<Option<FrameThread>>,
}

impl ObjectImpl for PiixUhci {
    fn init(&self) {
        self.io.init_io(
            "uhci",
            0x20,
            Sizes { min: 1, max: 4 },
            Sizes { min: 1, max: 4 },
        );
        let full: &'static [UsbSpeed] = &[UsbSpeed::Low, UsbSpeed::Full];
        let _ = self.bus.set(UsbBus::new(vec![full; uhci::NUM_PORTS]));
    }
}

/// After a load the interrupt line follows the registers, and a running
/// controller's frame thread starts (the schedule is fetched again from
/// guest memory).
impl MigrationHooks for PiixUhci {
    fn post_load(&self, _version: u32) {
        if let Some(piix3) = self.container::<Piix3>() {
            piix3.upcast::<PciDevice>().set_irq(self.regs.irq_level());
        }
        self.ensure_frames();
    }
}

impl DeviceImpl for PiixUhci {
    const DESCRIPTION: &'static str = "UHCI USB controller of the PIIX3";

    fn reset(&self) {
        self.regs.reset();
    }

    fn unrealize(&self) {
        self.stop_frames();
    }
}

/// The controller's view of its PCI function while frames run.
struct PciUhciBus<'a> {
    pci: &'a PciDevice,
    bus: &'a UsbBus,
}

impl UhciBus for PciUhciBus<'_> {
    fn dma_read(&self, addr: u32, buf: &mut [u8]) -> Result<(), String> {
        self.pci
            .bus_dma_read(addr.into(), buf)
            .map_err(|e| e.to_string())
    }
    fn dma_write(&self, addr: u32, data: &[u8]) -> Result<(), String> {
        self.pci
            .bus_dma_write(addr.into(), data)
            .map_err(|e| e.to_string())
    }
    fn device(&self, port: usize) -> Option<Owned<UsbDevice>> {
        self.bus.device(port)
    }
}

impl PiixUhci {
    /// Counts frames on `clock`, a machine's virtual clock (see
    /// [`UhciRegs::set_clock`]).
    pub fn set_clock(&self, clock: crate::clock::VirtualClock) {
        self.regs.set_clock(clock);
    }

    fn frames(&self) -> std::sync::MutexGuard<'_, Option<FrameThread>> {
        self.frames.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the frame thread if the controller runs and none is running.
    fn ensure_frames(&self) {
        if self.regs.read(uhci::USBSTS, 2) as u16 & uhci::STS_HCHALTED != 0 {
            return;
        }
        let mut frames = self.frames();
        if frames.as_ref().is_some_and(|f| !f.handle.is_finished()) {
            return;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let me = Owned::from(self);
        let stopped = stop.clone();
        let spawned = std::thread::Builder::new()
            .name("uhci-frames".into())
            .spawn(move || {
                while !stopped.load(Ordering::Acquire) && me.run_frames() {
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
        match spawned {
            Ok(handle) => *frames = Some(FrameThread { stop, handle }),
            Err(e) => {
                tracing::warn!(target: "uhci", error = %e, "no frame thread: the schedule will not run")
            }
        }
    }

    /// Runs the frames due; false once the controller stopped or its
    /// function is going away (the thread then ends).
    fn run_frames(&self) -> bool {
        let (Some(piix3), Some(bus)) = (self.container::<Piix3>(), self.bus.get()) else {
            return false;
        };
        let pci = piix3.upcast::<PciDevice>();
        let running = self.regs.run_frames(&PciUhciBus { pci, bus });
        pci.set_irq(self.regs.irq_level());
        running
    }

    /// Stops the frame thread and waits for it (unplug, unrealize).
    pub fn stop_frames(&self) {
        let thread = self.frames().take();
        if let Some(FrameThread { stop, handle }) = thread {
            stop.store(true, Ordering::Release);
            // The thread itself may be the one dropping the last
            // reference; it must not wait for itself.
            if handle.thread().id() != std::thread::current().id() {
                let _ = handle.join();
            }
        }
    }

    fn attach(&self, device: &UsbDevice) -> Result<(), String> {
        let bus = self.bus.get().ok_or("the controller has no bus")?;
        // Frames poll the devices: a NAKed TD is retried at the next
        // frame, so no wake-up is needed.
        let (port, speed) = bus.attach(device, |_, _| Arc::new(|| {}))?;
        if !self.regs.attach(port, speed) {
            bus.detach(device);
            return Err(format!(
                "UHCI port {} cannot take a {speed:?} device",
                port + 1
            ));
        }
        Ok(())
    }

    fn detach(&self, device: &UsbDevice) -> Result<(), String> {
        let bus = self.bus.get().ok_or("the controller has no bus")?;
        let port = bus.detach(device).ok_or("the device is not on this bus")?;
        self.regs.detach(port);
        self.regs.forget_port(port);
        Ok(())
    }

    /// Unplugs the devices on the bus with the controller (QEMU's bus
    /// unplug): detached, unrealized, out of the tree.
    pub fn remove_devices(&self) {
        let Some(bus) = self.bus.get() else {
            return;
        };
        let devices: Vec<_> = (0..bus.len()).filter_map(|p| bus.device(p)).collect();
        for device in devices {
            let _ = self.detach(&device);
            device.upcast::<Device>().unrealize();
            device.unparent();
        }
    }
}

impl MmioOps for PiixUhci {
    fn mmio_read(&self, _region: &MemoryRegion, offset: u64, size: u32) -> u64 {
        self.regs.read(offset, size)
    }

    fn mmio_write(&self, _region: &MemoryRegion, offset: u64, size: u32, value: u64) {
        self.regs.write(offset, size, value);
        if let Some(piix3) = self.container::<Piix3>() {
            piix3.upcast::<PciDevice>().set_irq(self.regs.irq_level());
        }
        self.ensure_frames();
    }
}

/// A PIIX3-style south bridge holding its UHCI companion as an owned
/// child (its own allocation, a strong reference).
#[derive(QomObject)]
#[qom(name = "piix3", interfaces(UsbHost))]
pub struct Piix3 {
    parent: ParentField<PciDevice>,
    /// The USB companion; BAR 4 decodes its I/O registers.
    #[child(owned)]
    pub uhci: Owned<PiixUhci>,
}

impl ObjectImpl for Piix3 {}

impl DeviceImpl for Piix3 {
    const DESCRIPTION: &'static str = "PIIX3 south bridge with a UHCI companion";

    fn realize(&self) -> Result<(), String> {
        self.uhci
            .upcast::<Device>()
            .realize()
            .map_err(|e| e.to_string())?;
        <PciDevice as DeviceImpl>::realize(&self.parent)?;
        // `usb_uhci_common_realize`: the PIIX UHCI function interrupts on
        // INTD#.
        self.parent
            .config_init(|config| config.set(crate::pci::reg::INTERRUPT_PIN, 1, 4));
        Ok(())
    }

    fn unrealize(&self) {
        self.uhci.remove_devices();
        <PciDevice as DeviceImpl>::unrealize(&self.parent);
    }
}

impl UsbHost for Piix3 {
    fn usb_attach(&self, device: &UsbDevice) -> Result<(), String> {
        self.uhci.attach(device)
    }

    fn usb_detach(&self, device: &UsbDevice) -> Result<(), String> {
        self.uhci.detach(device)
    }

    fn usb_bus(&self) -> Option<&UsbBus> {
        self.uhci.bus.get()
    }
}

impl PciDeviceImpl for Piix3 {
    const VENDOR_ID: u16 = uhci::PCI_VENDOR_ID;
    const DEVICE_ID: u16 = uhci::PCI_DEVICE_ID;
    const CLASS_CODE: u32 = uhci::PCI_CLASS_CODE;

    fn bar(&self, index: usize) -> Option<PciBar<'_>> {
        (index == 4).then_some(PciBar {
            region: &self.uhci.io,
            kind: BarKind::Io,
        })
    }
}
