//! Machines are registered board types: found by name, listed with a
//! description, built with their devices realized, and gone from the tree
//! when dropped.

use qom_devices::machine::{default_machine, machine_types, Machine, VirtMachine};
use qom_devices::{Device, Error};
use qom_rt::prelude::*;

#[test]
fn virt_is_registered_with_a_description_and_is_the_default() {
    let types = machine_types();
    let virt = types.iter().find(|m| m.name == "virt").expect("virt");
    assert_eq!(virt.type_info.name(), "virt-machine");
    assert!(virt.description.contains("PL011"), "{}", virt.description);
    assert!(virt.is_default);
    assert_eq!(default_machine().map(|m| m.name), Some("virt"));
    assert!(
        types.iter().all(|m| !m.type_info.is_abstract()),
        "the abstract `machine` is not a board"
    );
}

#[test]
fn an_unknown_machine_names_the_ones_there_are() {
    let err = Machine::create_at("vrit", "/m-unknown").unwrap_err();
    assert_eq!(
        err,
        Error::UnknownMachine {
            name: "vrit".into(),
            known: vec!["pc".into(), "virt".into()],
        }
    );
    assert!(qom_rt::resolve_path("/m-unknown").is_err(), "nothing built");
    // A type that exists but is not a board is unknown as a machine too.
    assert!(matches!(
        Machine::create_at("xhci-pci", "/m-not-board"),
        Err(Error::UnknownMachine { .. })
    ));
}

#[test]
fn the_board_devices_are_realized_and_the_board_is_reachable() {
    let machine = Machine::create_at("virt", "/m-built").unwrap();
    assert_eq!(machine.name(), "virt");
    let virt: &VirtMachine = machine.board().expect("a virt board");
    for device in [
        virt.soc.upcast::<Device>(),
        virt.soc.uarts[1].upcast(),
        virt.soc.timers[0].upcast(),
        virt.pcie.upcast(),
    ] {
        assert!(device.is_realized(), "{}", device.label());
    }
    assert!(
        machine.board::<Device>().is_none(),
        "a board is not a device"
    );
    let spaces: Vec<&str> = machine.address_spaces().iter().map(|s| s.name()).collect();
    assert_eq!(spaces, ["memory", "pci-memory", "pci-io"]);
}

#[test]
fn dropping_the_machine_takes_it_out_of_the_tree() {
    let machine = Machine::create_at("virt", "/m-dropped").unwrap();
    machine.device_add("xhci-pci,id=usb0").unwrap();
    drop(machine);
    for path in [
        "/m-dropped",
        "/m-dropped/peripheral",
        "/m-dropped/peripheral/usb0",
    ] {
        assert!(qom_rt::resolve_path(path).is_err(), "{path} is gone");
    }
}

#[test]
fn device_add_parses_options_and_refuses_help() {
    let machine = Machine::create_at("virt", "/m-options").unwrap();
    let device = machine
        .device_add("xhci-pci,id=usb,,0,num-ports=2")
        .unwrap();
    assert_eq!(
        device.canonical_path().as_deref(),
        Some("/m-options/peripheral/usb,0")
    );
    assert_eq!(device.get_property("num-ports").unwrap(), "2");
    let err = machine.device_add("xhci-pci,help").unwrap_err();
    assert!(matches!(err, Error::BadOptions { .. }), "{err}");
    assert!(machine.can_hotplug(qom_rt::type_by_name("xhci-pci").unwrap()));
    for not_pluggable in ["pl011", "pci-device", "container"] {
        let info = qom_rt::type_by_name(not_pluggable).unwrap();
        assert!(!machine.can_hotplug(info), "{not_pluggable}");
    }
}
