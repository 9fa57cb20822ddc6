//! [`Size`]: a byte count property written the way QEMU reads sizes
//! (`qemu_strtosz`): `512`, `64K`, `1.5G`, `0x1000`.

use crate::property::PropertyType;

/// A size in bytes, as a property type (`size` in `qom-list`).
///
/// Parsed like QEMU's `-m 4G` or `-device ...,size=64K`: a decimal number
/// with an optional fraction and an optional suffix `B`, `K`, `M`, `G`,
/// `T`, `P` or `E` (either case), meaning binary multiples (`K` = 1024);
/// or a `0x` hexadecimal number without suffix. The result must be a whole
/// number of bytes no larger than `u64::MAX`. It prints with the largest
/// suffix that divides it exactly (`65536` prints `64K`), so printing and
/// parsing round-trip.
///
/// ```
/// use qom_rt::{PropertyType, Size};
///
/// assert_eq!(Size::parse("64K"), Ok(Size(65536)));
/// assert_eq!(Size::parse("1.5g"), Ok(Size::mib(1536)));
/// assert_eq!(Size::parse("0x1000"), Ok(Size::kib(4)));
/// assert_eq!(Size::mib(16).format(), "16M");
/// assert_eq!(Size(1536).format(), "1536");
/// assert!(Size::parse("4X").is_err());
/// assert!(Size::parse("0.1K").is_err(), "102.4 bytes");
/// assert!(Size::parse("16E").is_err(), "more than 64 bits");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Size(pub u64);

/// Suffixes by power of 1024, as QEMU's `suffix_mul` reads them.
const SUFFIXES: [char; 7] = ['B', 'K', 'M', 'G', 'T', 'P', 'E'];

impl Size {
    /// `n` KiB (`n * 1024` bytes).
    ///
    /// ```
    /// assert_eq!(qom_rt::Size::kib(4).bytes(), 4096);
    /// ```
    pub const fn kib(n: u64) -> Size {
        Size(n * (1 << 10))
    }

    /// `n` MiB.
    ///
    /// ```
    /// assert_eq!(qom_rt::Size::mib(1).bytes(), 1 << 20);
    /// ```
    pub const fn mib(n: u64) -> Size {
        Size(n * (1 << 20))
    }

    /// `n` GiB.
    ///
    /// ```
    /// assert_eq!(qom_rt::Size::gib(2).bytes(), 2 << 30);
    /// ```
    pub const fn gib(n: u64) -> Size {
        Size(n * (1 << 30))
    }

    /// `n` TiB.
    ///
    /// ```
    /// assert_eq!(qom_rt::Size::tib(1).bytes(), 1 << 40);
    /// ```
    pub const fn tib(n: u64) -> Size {
        Size(n * (1 << 40))
    }

    /// The number of bytes.
    ///
    /// ```
    /// assert_eq!(qom_rt::Size(512).bytes(), 512);
    /// ```
    pub const fn bytes(self) -> u64 {
        self.0
    }
}

impl From<u64> for Size {
    fn from(bytes: u64) -> Self {
        Size(bytes)
    }
}

impl From<Size> for u64 {
    fn from(size: Size) -> Self {
        size.0
    }
}

impl core::fmt::Display for Size {
    /// The compact form `parse` reads back (`64K`).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut value = self.0;
        let mut power = 0;
        while value != 0 && value.is_multiple_of(1024) && power + 1 < SUFFIXES.len() {
            value /= 1024;
            power += 1;
        }
        match power {
            0 => write!(f, "{value}"),
            _ => write!(f, "{value}{}", SUFFIXES[power]),
        }
    }
}

impl core::str::FromStr for Size {
    type Err = String;
    /// As [`PropertyType::parse`].
    fn from_str(text: &str) -> Result<Self, String> {
        Size::parse(text)
    }
}

const EXPECTED: &str = "a size in bytes: a number with an optional binary suffix \
     B, K, M, G, T, P or E (e.g. 512, 64K, 1.5G) or a 0x hex number, at most 16E - 1";

impl PropertyType for Size {
    const TYPE_NAME: &'static str = "size";

    fn parse(text: &str) -> Result<Self, String> {
        parse_size(text.trim()).map(Size)
    }

    fn format(&self) -> String {
        self.to_string()
    }
}

fn parse_size(text: &str) -> Result<u64, String> {
    let expected = || EXPECTED.to_string();
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("{EXPECTED} (hex takes no suffix or fraction)"));
        }
        return u64::from_str_radix(hex, 16).map_err(|_| expected());
    }
    let (number, power) = match text.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => {
            let power = SUFFIXES
                .iter()
                .position(|s| s.eq_ignore_ascii_case(&c))
                .ok_or_else(expected)?;
            (&text[..text.len() - 1], power)
        }
        _ => (text, 0),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    // A fraction of up to 18 digits keeps `10^digits` and the products
    // below inside `u128`.
    let dangling_point = number.ends_with('.');
    if whole.is_empty()
        || dangling_point
        || !all_digits(whole)
        || !all_digits(fraction)
        || fraction.len() > 18
    {
        return Err(expected());
    }
    let multiplier = 1u128 << (10 * power);
    let whole: u128 = whole.parse().map_err(|_| expected())?;
    let mut bytes = whole.checked_mul(multiplier).ok_or_else(expected)?;
    if !fraction.is_empty() {
        let scale = 10u128.pow(fraction.len() as u32);
        let numerator: u128 = fraction.parse().map_err(|_| expected())?;
        let part = numerator * multiplier;
        if !part.is_multiple_of(scale) {
            return Err(format!(
                "{EXPECTED}; `{text}` is not a whole number of bytes"
            ));
        }
        bytes = bytes.checked_add(part / scale).ok_or_else(expected)?;
    }
    u64::try_from(bytes).map_err(|_| expected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_qemu_strtosz() {
        let ok = [
            ("0", 0),
            ("512", 512),
            ("512B", 512),
            ("1k", 1024),
            ("64K", 65536),
            ("2M", 2 << 20),
            ("1.5G", 3 << 29),
            ("1T", 1 << 40),
            ("1P", 1 << 50),
            ("15E", 15 << 60),
            ("0x1000", 4096),
            ("0.5K", 512),
            ("18446744073709551615", u64::MAX),
        ];
        for (text, bytes) in ok {
            assert_eq!(Size::parse(text), Ok(Size(bytes)), "{text}");
        }
        let bad = [
            "",
            "K",
            "-1",
            "1.",
            ".5K",
            "1.2.3",
            "4X",
            "1KB",
            "0x",
            "0x10K",
            "0x1.8",
            "16E",
            "0.1K",
            "18446744073709551616",
            "1 K",
            "1e3",
            "295147905179352825855.5E",
            "99999999999999999999999999999999999999999",
            "0.0000000000000000001K",
        ];
        for text in bad {
            assert!(Size::parse(text).is_err(), "{text:?} accepted");
        }
    }

    #[test]
    fn sizes_print_compactly_and_round_trip() {
        for bytes in [0, 1, 1023, 1024, 1536, 1 << 20, 3 << 29, 15 << 60, u64::MAX] {
            let text = Size(bytes).format();
            assert_eq!(Size::parse(&text), Ok(Size(bytes)), "{text}");
        }
        assert_eq!(Size(0).format(), "0");
        assert_eq!(Size(1 << 30).format(), "1G");
        assert_eq!(Size(1 << 60).format(), "1E");
    }
}
