//! Device lifecycle and hotplug through a whole machine: realize failure
//! leaves nothing behind, slots conflict by name, non-hotpluggable devices
//! refuse `device_del`, regions of unrealized devices become unassigned,
//! properties lock at realize, and a device that outlives its container
//! cannot reach it.

use qom_devices::hw::usb::{Piix3, XhciPci, XhciState};
use qom_devices::machine::Machine;
use qom_devices::{Device, Error};
use qom_rt::prelude::*;

fn machine(name: &str) -> Machine {
    Machine::create_at("virt", &format!("/{name}")).expect("machine builds")
}

fn bar0(machine: &Machine) -> u64 {
    let (_, dev) = machine
        .pci_host()
        .expect("virt has PCI")
        .devices()
        .into_iter()
        .next()
        .expect("a PCI device");
    dev.bar_address(0).expect("BAR 0 programmed")
}

#[test]
fn device_add_attaches_realizes_and_plugs() {
    let m = machine("hp-add");
    let dev = m.device_add("xhci-pci,id=usb0,num-ports=8").unwrap();
    assert!(dev.is_realized());
    assert_eq!(
        dev.canonical_path().as_deref(),
        Some("/hp-add/peripheral/usb0")
    );
    assert_eq!(dev.get_property("num-ports").unwrap(), "8");
    let xhci = dev.downcast::<XhciPci>().unwrap();
    assert_eq!(
        xhci.xhci.mem.canonical_path().as_deref(),
        Some("/hp-add/peripheral/usb0/xhci/mem")
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
}

#[test]
fn unplugged_device_regions_answer_unassigned() {
    let m = machine("hp-unassigned");
    m.device_add("xhci-pci,id=usb0").unwrap();
    let addr = bar0(&m);
    let served = m.system().read(addr, 4);
    assert_ne!(served, 0xffff_ffff, "CAPLENGTH/HCIVERSION served");
    let dev = qom_rt::resolve_path("/hp-unassigned/peripheral/usb0").unwrap();
    let xhci = Owned::from(&dev.downcast::<XhciPci>().unwrap().xhci);
    drop(dev);
    m.device_del("usb0").unwrap();
    let before = m.system().unassigned_accesses();
    assert_eq!(
        m.system().read(addr, 4),
        0xffff_ffff,
        "unmapped: unassigned"
    );
    assert_eq!(m.system().unassigned_accesses(), before + 1, "and counted");
    // The region itself is disabled too: an access that still reaches it
    // (one held from before the unplug) gets the unassigned value.
    assert!(!xhci.mem.is_enabled());
    assert!(!xhci.upcast::<Device>().is_realized());
    // Functional lifetime: the controller state outlived its container and
    // cannot reach it.
    assert!(xhci.container::<XhciPci>().is_none());
}

#[test]
fn an_access_in_flight_keeps_the_controller_state_alive_not_its_container() {
    let m = machine("hp-inflight");
    m.device_add("xhci-pci,id=usb0").unwrap();
    let addr = bar0(&m);
    let held = m.system().hold(addr, 4).expect("BAR 0 answers");
    assert_eq!(held.owner().type_name(), "base-xhci");
    m.device_del("usb0").unwrap();
    // The container has finalized; the owner the access holds has not.
    let owner = held.owner().downcast::<XhciState>().unwrap();
    assert!(owner.container::<XhciPci>().is_none());
    assert_eq!(owner.header().state(), qom_rt::LifeState::Live);
    let value = held.finish_read();
    assert_eq!(value & 0xff, 0x40, "CAPLENGTH read from live state");
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
