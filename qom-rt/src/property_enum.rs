//! Enum property types: [`property_enum!`](crate::property_enum) declares
//! a fieldless enum and makes it a [`PropertyType`] whose values are
//! written as kebab-case variant names, like QAPI enums (`on-off-auto`,
//! `lost-tick-policy`).
//!
//! A declarative macro rather than a derive: the variant names are
//! computed at compile time by `const fn`s (below), so nothing needs a
//! second proc-macro entry point, and a misspelt value lists the choices.

use crate::property::PropertyType;

/// An enum property type declared with
/// [`property_enum!`](crate::property_enum): its variants' names, in
/// declaration order.
///
/// ```
/// use qom_rt::PropertyEnum;
///
/// qom_rt::property_enum! {
///     #[derive(Debug, Clone, Copy, PartialEq)]
///     pub enum Parity { None, Even, Odd }
/// }
///
/// assert_eq!(Parity::VARIANTS, ["none", "even", "odd"]);
/// assert_eq!(Parity::Odd.variant_name(), "odd");
/// ```
pub trait PropertyEnum: PropertyType {
    /// The names values are written as, in declaration order.
    const VARIANTS: &'static [&'static str];
    /// The name of this value.
    fn variant_name(&self) -> &'static str;
}

/// Declares a fieldless enum usable as a property type.
///
/// Values are the variant names in kebab-case (`ReadOnly` is
/// `read-only`; an acronym stays one word: `HTTPServer` is `http-server`),
/// or the string given after `=` to rename one. Matching is exact, as for
/// QAPI enums. The enum must be `Clone` (derive it); `#[default]` on a
/// variant lets a `#[property]` of this type go without a `default`.
/// `qom-list` shows the enum's Rust name as the property's type. Variant
/// discriminants cannot be written (the `= "..."` slot is the rename).
///
/// ```
/// use qom_rt::prelude::*;
/// use qom_rt::PropertyType;
///
/// qom_rt::property_enum! {
///     /// What the FIFO does.
///     #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
///     pub enum FifoMode {
///         /// No FIFO.
///         #[default]
///         Off,
///         ReadOnly,
///         Full = "full-duplex",
///     }
/// }
///
/// #[derive(QomObject)]
/// #[qom(name = "doc-fifo")]
/// struct Uart {
///     parent: ParentField<Object>,
///     #[property]
///     fifo: Prop<FifoMode>,
/// }
/// impl ObjectImpl for Uart {}
///
/// let uart = Owned::<Uart>::new();
/// uart.set_property("fifo", "read-only").unwrap();
/// assert_eq!(uart.fifo.get(), FifoMode::ReadOnly);
/// uart.set_property_typed("fifo", FifoMode::Full).unwrap();
/// assert_eq!(uart.get_property("fifo").unwrap(), "full-duplex");
/// let err = uart.set_property("fifo", "on").unwrap_err().to_string();
/// assert!(err.contains("one of `off`, `read-only`, `full-duplex`"), "{err}");
/// assert_eq!(FifoMode::TYPE_NAME, "FifoMode");
/// ```
#[macro_export]
macro_rules! property_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident $(= $rename:literal)?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )*
        }

        impl $crate::PropertyEnum for $name {
            const VARIANTS: &'static [&'static str] = &[
                $( $crate::__property_enum_name!($variant $(, $rename)?) ),*
            ];
            fn variant_name(&self) -> &'static str {
                match self {
                    $( Self::$variant => $crate::__property_enum_name!($variant $(, $rename)?), )*
                }
            }
        }

        impl $crate::PropertyType for $name {
            const TYPE_NAME: &'static str = ::core::stringify!($name);
            fn parse(text: &str) -> ::core::result::Result<Self, ::std::string::String> {
                $(
                    if text == $crate::__property_enum_name!($variant $(, $rename)?) {
                        return ::core::result::Result::Ok(Self::$variant);
                    }
                )*
                ::core::result::Result::Err($crate::__property::expected_variant(
                    <Self as $crate::PropertyEnum>::VARIANTS,
                ))
            }
            fn format(&self) -> ::std::string::String {
                ::std::string::ToString::to_string(
                    <Self as $crate::PropertyEnum>::variant_name(self),
                )
            }
        }

        const _: () = ::core::assert!(
            $crate::__property::unique_names(<$name as $crate::PropertyEnum>::VARIANTS),
            ::core::concat!("two variants of `", ::core::stringify!($name), "` have the same property name"),
        );
    };
}

/// The property name of one variant: the rename, or the identifier in
/// kebab-case, computed at compile time.
#[doc(hidden)]
#[macro_export]
macro_rules! __property_enum_name {
    ($variant:ident, $rename:literal) => {
        $rename
    };
    ($variant:ident) => {{
        const SOURCE: &str = ::core::stringify!($variant);
        const BYTES: [u8; $crate::__property::kebab_len(SOURCE)] =
            $crate::__property::kebab_bytes::<{ $crate::__property::kebab_len(SOURCE) }>(SOURCE);
        match ::core::str::from_utf8(&BYTES) {
            ::core::result::Result::Ok(name) => name,
            ::core::result::Result::Err(_) => ::core::panic!("kebab-case keeps UTF-8"),
        }
    }};
}

/// Whether a `-` goes before byte `i`: at a lower-to-upper boundary
/// (`readOnly`), and before the last capital of an acronym followed by a
/// lowercase letter (`HTTPServer` -> `http-server`).
const fn dash_before(b: &[u8], i: usize) -> bool {
    if i == 0 || !b[i].is_ascii_uppercase() {
        return false;
    }
    let prev = b[i - 1];
    if prev.is_ascii_lowercase() || prev.is_ascii_digit() {
        return true;
    }
    prev.is_ascii_uppercase() && i + 1 < b.len() && b[i + 1].is_ascii_lowercase()
}

/// Length of `ident` in kebab-case.
#[doc(hidden)]
pub const fn kebab_len(ident: &str) -> usize {
    let b = ident.as_bytes();
    let (mut n, mut i) = (0, 0);
    while i < b.len() {
        if dash_before(b, i) {
            n += 1;
        }
        n += 1;
        i += 1;
    }
    n
}

/// `ident` in kebab-case (`N` is [`kebab_len`]).
#[doc(hidden)]
pub const fn kebab_bytes<const N: usize>(ident: &str) -> [u8; N] {
    let mut out = [0u8; N];
    write_kebab(ident, &mut out);
    out
}

/// Writes `ident` in kebab-case into `out` (of [`kebab_len`] bytes):
/// ASCII capitals lowered, `_` made `-`, other bytes kept, so the result
/// stays UTF-8.
const fn write_kebab(ident: &str, out: &mut [u8]) {
    let b = ident.as_bytes();
    let (mut o, mut i) = (0, 0);
    while i < b.len() {
        if dash_before(b, i) {
            out[o] = b'-';
            o += 1;
        }
        out[o] = if b[i] == b'_' {
            b'-'
        } else {
            b[i].to_ascii_lowercase()
        };
        o += 1;
        i += 1;
    }
}

/// Whether all names differ (checked at compile time by the macro).
#[doc(hidden)]
pub const fn unique_names(names: &[&str]) -> bool {
    let mut i = 0;
    while i < names.len() {
        let mut j = i + 1;
        while j < names.len() {
            if names[i].len() == names[j].len() {
                let (a, b) = (names[i].as_bytes(), names[j].as_bytes());
                let mut k = 0;
                while k < a.len() && a[k] == b[k] {
                    k += 1;
                }
                if k == a.len() {
                    return false;
                }
            }
            j += 1;
        }
        i += 1;
    }
    true
}

/// What a bad enum value is told: the choices.
#[doc(hidden)]
pub fn expected_variant(names: &[&str]) -> String {
    match names {
        [] => "nothing: the enum has no variants".to_string(),
        _ => format!(
            "one of {}",
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kebab(ident: &str) -> String {
        let mut out = vec![0u8; kebab_len(ident)];
        write_kebab(ident, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn kebab_case_names() {
        assert_eq!(kebab("Off"), "off");
        assert_eq!(kebab("ReadOnly"), "read-only");
        assert_eq!(kebab("HTTPServer"), "http-server");
        assert_eq!(kebab("Pl011Mode"), "pl011-mode");
        assert_eq!(kebab("Snake_Case"), "snake-case");
        assert_eq!(kebab("NaïveÜber"), "naïveÜber", "non-ASCII kept as is");
        assert_eq!(kebab("X"), "x");
        assert_eq!(kebab_bytes::<10>("ReadOnly9"), *b"read-only9");
        assert!(unique_names(&["a", "b", "ab"]));
        assert!(!unique_names(&["a", "b", "a"]));
    }
}
