//! Descriptors (USB 2.0 chapter 9, USB 3.2 chapter 9), built as bytes for
//! the speed a device runs at, as QEMU's `hw/usb/desc.c` renders its
//! tables: device, configuration (with its interfaces, class-specific
//! descriptors, endpoints and, at SuperSpeed, endpoint companions) and
//! string descriptors.

use super::UsbSpeed;

/// Descriptor type: device.
pub const DT_DEVICE: u8 = 1;
/// Descriptor type: configuration.
pub const DT_CONFIG: u8 = 2;
/// Descriptor type: string.
pub const DT_STRING: u8 = 3;
/// Descriptor type: interface.
pub const DT_INTERFACE: u8 = 4;
/// Descriptor type: endpoint.
pub const DT_ENDPOINT: u8 = 5;
/// Descriptor type: device qualifier (high-speed devices).
pub const DT_DEVICE_QUALIFIER: u8 = 6;
/// Descriptor type: SuperSpeed endpoint companion.
pub const DT_SS_EP_COMPANION: u8 = 0x30;

/// Endpoint transfer type: bulk.
pub const EP_BULK: u8 = 2;
/// Endpoint transfer type: interrupt.
pub const EP_INTERRUPT: u8 = 3;

/// Who a device says it is: IDs and the strings its descriptors name.
#[derive(Clone, Copy, Debug)]
pub struct Identity {
    /// `idVendor`.
    pub vendor_id: u16,
    /// `idProduct`.
    pub product_id: u16,
    /// `bcdDevice`.
    pub bcd_device: u16,
    /// String 1, `iManufacturer`.
    pub manufacturer: &'static str,
    /// String 2, `iProduct`.
    pub product: &'static str,
    /// String 3, `iSerialNumber`.
    pub serial: &'static str,
}

/// An endpoint as an interface declares it.
#[derive(Clone, Copy, Debug)]
pub struct Endpoint {
    /// `bEndpointAddress`: number, and bit 7 set for IN.
    pub address: u8,
    /// Transfer type ([`EP_BULK`], [`EP_INTERRUPT`]).
    pub kind: u8,
    /// `wMaxPacketSize`.
    pub max_packet: u16,
    /// `bInterval`.
    pub interval: u8,
}

/// One interface of the single configuration.
#[derive(Clone, Debug)]
pub struct Interface {
    /// `bInterfaceClass`, `bInterfaceSubClass`, `bInterfaceProtocol`.
    pub class: (u8, u8, u8),
    /// Class-specific descriptors between the interface and its
    /// endpoints (the HID descriptor).
    pub extra: Vec<u8>,
    /// Its endpoints.
    pub endpoints: Vec<Endpoint>,
}

/// Control endpoint 0's packet size as the device descriptor encodes it:
/// bytes, or at SuperSpeed the exponent (9: 512 bytes).
fn ep0_max_packet(speed: UsbSpeed) -> u8 {
    match speed {
        UsbSpeed::Low => 8,
        UsbSpeed::Full | UsbSpeed::High => 64,
        UsbSpeed::Super => 9,
    }
}

/// The 18-byte device descriptor, one configuration, strings 1-3.
pub fn device(id: &Identity, speed: UsbSpeed) -> Vec<u8> {
    let bcd_usb: u16 = if speed == UsbSpeed::Super {
        0x0300
    } else {
        0x0200
    };
    let mut d = vec![18, DT_DEVICE];
    d.extend(bcd_usb.to_le_bytes());
    d.extend([0, 0, 0, ep0_max_packet(speed)]);
    d.extend(id.vendor_id.to_le_bytes());
    d.extend(id.product_id.to_le_bytes());
    d.extend(id.bcd_device.to_le_bytes());
    d.extend([1, 2, 3, 1]);
    d
}

/// The configuration descriptor with everything under it; `attributes`
/// is `bmAttributes` (bit 7 always set, bit 5 remote wake-up).
pub fn config(
    interfaces: &[Interface],
    attributes: u8,
    max_power_2ma: u8,
    speed: UsbSpeed,
) -> Vec<u8> {
    let mut d = vec![
        9,
        DT_CONFIG,
        0,
        0,
        interfaces.len() as u8,
        1,
        0,
        0x80 | attributes,
        max_power_2ma,
    ];
    for (n, iface) in interfaces.iter().enumerate() {
        let (class, sub, proto) = iface.class;
        d.extend([
            9,
            DT_INTERFACE,
            n as u8,
            0,
            iface.endpoints.len() as u8,
            class,
            sub,
            proto,
            0,
        ]);
        d.extend(&iface.extra);
        for ep in &iface.endpoints {
            d.extend([7, DT_ENDPOINT, ep.address, ep.kind]);
            d.extend(ep.max_packet.to_le_bytes());
            d.push(ep.interval);
            if speed == UsbSpeed::Super {
                // No bursts, no streams; an interrupt endpoint moves at
                // most one packet per service interval.
                let per_interval = if ep.kind == EP_INTERRUPT {
                    ep.max_packet
                } else {
                    0
                };
                d.extend([6, DT_SS_EP_COMPANION, 0, 0]);
                d.extend(per_interval.to_le_bytes());
            }
        }
    }
    let total = d.len() as u16;
    d[2..4].copy_from_slice(&total.to_le_bytes());
    d
}

/// String descriptor `index`: 0 is the language list (US English),
/// 1-3 the identity's strings. `None` for any other index.
pub fn string(id: &Identity, index: u8) -> Option<Vec<u8>> {
    let text = match index {
        0 => return Some(vec![4, DT_STRING, 0x09, 0x04]),
        1 => id.manufacturer,
        2 => id.product,
        3 => id.serial,
        _ => return None,
    };
    let units: Vec<u16> = text.encode_utf16().take(126).collect();
    let mut d = vec![(2 + 2 * units.len()) as u8, DT_STRING];
    d.extend(units.iter().flat_map(|u| u.to_le_bytes()));
    Some(d)
}

/// The device qualifier a high-speed capable device returns: the device
/// descriptor's fields as at the other speed.
pub fn device_qualifier(speed: UsbSpeed) -> Vec<u8> {
    let other = if speed == UsbSpeed::High {
        UsbSpeed::Full
    } else {
        UsbSpeed::High
    };
    vec![
        10,
        DT_DEVICE_QUALIFIER,
        0x00,
        0x02,
        0,
        0,
        0,
        ep0_max_packet(other),
        1,
        0,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: Identity = Identity {
        vendor_id: 0x46f4,
        product_id: 0x0001,
        bcd_device: 0x0000,
        manufacturer: "QEMU",
        product: "QEMU USB HARDDRIVE",
        serial: "1-0000:00:02.0-1",
    };

    fn bulk_pair(max: u16) -> Interface {
        Interface {
            class: (8, 6, 0x50),
            extra: Vec::new(),
            endpoints: vec![
                Endpoint {
                    address: 0x81,
                    kind: EP_BULK,
                    max_packet: max,
                    interval: 0,
                },
                Endpoint {
                    address: 0x02,
                    kind: EP_BULK,
                    max_packet: max,
                    interval: 0,
                },
            ],
        }
    }

    #[test]
    fn device_descriptor_fields_follow_the_speed() {
        let high = device(&ID, UsbSpeed::High);
        assert_eq!(high.len(), 18);
        assert_eq!((high[2], high[3], high[7]), (0x00, 0x02, 64));
        assert_eq!(u16::from_le_bytes([high[8], high[9]]), 0x46f4);
        let sup = device(&ID, UsbSpeed::Super);
        assert_eq!((sup[3], sup[7]), (0x03, 9), "USB 3.0, 2^9-byte ep0");
    }

    #[test]
    fn config_total_length_counts_companions_at_superspeed() {
        let high = config(&[bulk_pair(512)], 0, 50, UsbSpeed::High);
        assert_eq!(high.len(), 9 + 9 + 2 * 7);
        assert_eq!(u16::from_le_bytes([high[2], high[3]]) as usize, high.len());
        let sup = config(&[bulk_pair(1024)], 0, 50, UsbSpeed::Super);
        assert_eq!(sup.len(), 9 + 9 + 2 * (7 + 6));
        assert_eq!(u16::from_le_bytes([sup[2], sup[3]]) as usize, sup.len());
        assert_eq!(sup[9 + 9 + 7 + 1], DT_SS_EP_COMPANION);
    }

    #[test]
    fn strings_are_utf16_with_a_language_list() {
        assert_eq!(string(&ID, 0), Some(vec![4, 3, 9, 4]));
        let s = string(&ID, 1).unwrap();
        assert_eq!(s, [10, 3, b'Q', 0, b'E', 0, b'M', 0, b'U', 0]);
        assert_eq!(string(&ID, 4), None);
    }
}
