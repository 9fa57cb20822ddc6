//! Device lifecycle and hotplug through a whole machine: realize failure
//! leaves nothing behind, slots conflict by name, non-hotpluggable devices
//! refuse `device_del`, regions of unrealized devices become unassigned,
//! properties lock at realize, and a device that outlives its container
//! cannot reach it. Guest reads check live state: registers that carry
//! the device's properties or a value the test wrote.

mod support;

use qom_devices::hw::usb::{Piix3, XhciPci, XhciState};
use qom_devices::machine::Machine;
use qom_devices::{Device, Error};
use qom_rt::prelude::*;
use support::{bar0, hcsparams1, live_hcsparams1, DCBAAP, HCSPARAMS1, UNASSIGNED};

fn machine(name: &str) -> Machine {
    Machine::create_at("virt", &format!("/{name}")).expect("machine builds")
}

#[test]
fn device_add_attaches_realizes_and_plugs() {
    let m = machine("hp-add");
    let dev = m.device_add("xhci-pci,id=usb0,num-ports=8,p2=3").unwrap();
    assert!(dev.is_realized());
    assert_eq!(
        dev.canonical_path().as_deref(),
        Some("/hp-add/peripheral/usb0")
    );
    assert_eq!(dev.get_property("num-ports").unwrap(), "8");
    assert_eq!(dev.get_property("p2").unwrap(), "3");
    // The properties reached the registers the guest reads: MaxPorts, and
    // the Supported Protocol capabilities (USB 3 ports 1-8, USB 2 9-11).
    let bar = bar0(&dev);
    let read = |offset| m.system().read(bar + offset, 4);
    assert_eq!(
        read(HCSPARAMS1),
        hcsparams1(11),
        "MaxPorts = num-ports + p2"
    );
    assert_eq!(read(0x28), (3 << 8) | 9, "USB 2: 3 ports from port 9");
    assert_eq!(read(0x38), (8 << 8) | 1, "USB 3: 8 ports from port 1");
    let xhci = dev.downcast::<XhciPci>().unwrap();
    assert_eq!(
        xhci.xhci.mem.canonical_path().as_deref(),
        Some("/hp-add/peripheral/usb0/xhci-core/mem")
    );
    let anon = m.device_add("xhci-pci").unwrap();
    assert_eq!(
        anon.canonical_path().as_deref(),
        Some("/hp-add/peripheral-anon/device[0]")
    );
}

#[test]
fn realize_failure_leaves_nothing_registered() {
    let m = machine("hp-fail");
    let before = m.pci_host().expect("virt has PCI").devices().len();
    let err = m.device_add("xhci-pci,id=bad,num-ports=0").unwrap_err();
    assert!(err.to_string().contains("num-ports"), "{err}");
    assert_eq!(
        m.pci_host().expect("virt has PCI").devices().len(),
        before,
        "not plugged"
    );
    assert!(
        qom_rt::resolve_path("/hp-fail/peripheral/bad").is_err(),
        "not attached"
    );
    assert!(
        m.device_add("xhci-pci,id=bad").is_ok(),
        "the id is free again"
    );
}

#[test]
fn bad_options_are_rejected_before_anything_happens() {
    let m = machine("hp-opts");
    assert!(matches!(
        m.device_add("xhci-pci,id=u,num-ports=many"),
        Err(Error::Qom(qom_rt::Error::InvalidValue { .. }))
    ));
    assert!(matches!(
        m.device_add("xhci-pci,id=u,nmu-ports=3"),
        Err(Error::Qom(qom_rt::Error::UnknownProperty { .. }))
    ));
    assert!(matches!(
        m.device_add("xhci-pic,id=u"),
        Err(Error::Qom(qom_rt::Error::UnknownType { .. }))
    ));
    assert!(matches!(
        m.device_add("pl011,id=u"),
        Err(Error::NoBus { .. })
    ));
    assert!(qom_rt::resolve_path("/hp-opts/peripheral/u").is_err());
    m.device_add("xhci-pci,id=u").unwrap();
    assert!(matches!(
        m.device_add("xhci-pci,id=u"),
        Err(Error::DuplicateId { .. })
    ));
}

#[test]
fn slot_conflicts_name_both_devices() {
    let m = machine("hp-slot");
    m.device_add("xhci-pci,id=first,addr=05.0").unwrap();
    match m.device_add("xhci-pci,id=second,addr=5") {
        Err(Error::SlotInUse {
            slot,
            existing,
            new,
        }) => {
            assert_eq!(slot, 5);
            assert!(existing.ends_with("/first"), "{existing}");
            assert!(new.ends_with("/second"), "{new}");
        }
        other => panic!("expected a slot conflict, got {other:?}"),
    }
    assert!(qom_rt::resolve_path("/hp-slot/peripheral/second").is_err());
}

#[test]
fn non_hotpluggable_devices_refuse_device_del() {
    let m = machine("hp-nohot");
    m.device_add("piix3,id=sb").unwrap();
    let err = m.device_del("sb").unwrap_err();
    assert_eq!(
        err,
        Error::NotHotpluggable {
            id: "sb".into(),
            type_name: "piix3".into()
        }
    );
    assert!(
        qom_rt::resolve_path("/hp-nohot/peripheral/sb").is_ok(),
        "still there"
    );
    assert!(matches!(
        m.device_del("nobody"),
        Err(Error::NoSuchDevice { .. })
    ));
}

#[test]
fn properties_lock_at_realize() {
    let m = machine("hp-lock");
    let dev = m.device_add("xhci-pci,id=usb0").unwrap();
    let path = "/hp-lock/peripheral/usb0";
    let err = qom_rt::resolve_path(path)
        .unwrap()
        .set_property("num-ports", "2")
        .unwrap_err()
        .to_string();
    assert!(err.contains(path) && err.contains("realized"), "{err}");
    assert_eq!(dev.get_property("num-ports").unwrap(), "4", "unchanged");
    let caps = m.system().read(bar0(&dev) + HCSPARAMS1, 4);
    assert_eq!(caps, hcsparams1(4 + 4), "and so are the registers");
}

#[test]
fn unplugged_device_regions_answer_unassigned() {
    let m = machine("hp-unassigned");
    let dev = m.device_add("xhci-pci,id=usb0,num-ports=2").unwrap();
    let addr = bar0(&dev);
    let caps = live_hcsparams1(&dev);
    drop(dev);
    let sys = m.system();
    sys.write(addr + DCBAAP, 4, 0x1234_5640);
    assert_eq!(sys.read(addr + HCSPARAMS1, 4), caps, "served: MaxPorts 6");
    assert_eq!(
        sys.read(addr + DCBAAP, 4),
        0x1234_5640,
        "served: as written"
    );
    let dev = qom_rt::resolve_path("/hp-unassigned/peripheral/usb0").unwrap();
    let xhci = Owned::from(&dev.downcast::<XhciPci>().unwrap().xhci);
    drop(dev);
    m.device_del("usb0").unwrap();
    let before = sys.unassigned_accesses();
    for offset in [HCSPARAMS1, DCBAAP] {
        assert_eq!(
            sys.read(addr + offset, 4),
            UNASSIGNED,
            "unmapped: unassigned at {offset:#x}"
        );
    }
    assert_eq!(sys.unassigned_accesses(), before + 2, "and counted");
    // The region itself is disabled too: an access that still reaches it
    // (one held from before the unplug) gets the unassigned value.
    assert!(!xhci.mem.is_enabled());
    assert!(!xhci.upcast::<Device>().is_realized());
    // Functional lifetime: the controller state outlived its container and
    // cannot reach it.
    assert!(xhci.container::<XhciPci>().is_none());
}

/// Accesses held across `device_del` complete against the unplugged
/// controller's last live state, which neither the controller plugged in
/// its place nor a dead object could produce: `MaxPorts` of its own
/// `num-ports`, and a `DCBAAP` written after the accesses began.
#[test]
fn an_access_in_flight_keeps_the_controller_state_alive_not_its_container() {
    let m = machine("hp-inflight");
    let dev = m.device_add("xhci-pci,id=usb0,num-ports=7").unwrap();
    let addr = bar0(&dev);
    let caps = live_hcsparams1(&dev);
    drop(dev);
    let sys = m.system();
    sys.write(addr + DCBAAP, 4, 0x1234_5640);
    let held_caps = sys.hold(addr + HCSPARAMS1, 4).expect("BAR 0 answers");
    let held_dcbaap = sys.hold(addr + DCBAAP, 4).expect("BAR 0 answers");
    assert_eq!(held_caps.owner().type_name(), "base-xhci");
    // Written while the accesses are in flight: they complete against the
    // state they find then, not a copy taken when they began.
    sys.write(addr + DCBAAP, 4, 0xfeed_cac0);
    m.device_del("usb0").unwrap();
    // The container has finalized; the owner the accesses hold has not.
    let owner = held_caps.owner().downcast::<XhciState>().unwrap();
    assert!(owner.container::<XhciPci>().is_none());
    assert_eq!(owner.header().state(), qom_rt::LifeState::Live);

    // Another controller in the same place, with other state.
    let next = m.device_add("xhci-pci,id=usb1,num-ports=1").unwrap();
    assert_eq!(bar0(&next), addr, "the same BAR address");
    assert_eq!(sys.read(addr + HCSPARAMS1, 4), live_hcsparams1(&next));
    assert_ne!(live_hcsparams1(&next), caps);
    assert_eq!(sys.read(addr + DCBAAP, 4), 0, "the new one's reset value");

    assert_eq!(held_caps.finish_read(), caps, "MaxPorts 11: num-ports=7");
    assert_eq!(held_dcbaap.finish_read(), 0xfeed_cac0, "the last write");
}

#[test]
fn the_owned_companion_is_its_own_allocation_and_outlives_its_bridge() {
    let m = machine("hp-owned");
    let sb = m.device_add("piix3,id=sb").unwrap();
    let piix = sb.downcast::<Piix3>().unwrap();
    let uhci = piix.uhci.clone();
    assert_eq!(
        uhci.canonical_path().as_deref(),
        Some("/hp-owned/peripheral/sb/uhci")
    );
    drop(sb);
    drop(m);
    assert_eq!(uhci.canonical_path(), None, "its owner is gone");
    assert!(uhci.container::<Piix3>().is_none());
}
