//! Device options as `-device` and `device_add` spell them,
//! `TYPE,id=ID,prop=value,...`, with QEMU's quoting (`QemuOpts`): options
//! are separated by single commas and `,,` stands for one literal comma,
//! in the type, a key or a value. A bare `prop` means `prop=on`, a
//! trailing comma is ignored, and `help` (or `?`) asks for the type's
//! properties instead of a device.

use crate::error::{Error, Result};

/// `TYPE,id=ID,prop=value,...`, parsed.
///
/// ```
/// use qom_devices::DeviceOptions;
///
/// let options = DeviceOptions::parse("edu,id=e0,serial=a,,b,msi")?;
/// assert_eq!(options.type_name, "edu");
/// assert_eq!(options.id.as_deref(), Some("e0"));
/// assert_eq!(
///     options.properties,
///     [("serial".to_string(), "a,b".to_string()), ("msi".to_string(), "on".to_string())]
/// );
/// assert!(!options.help);
/// # Ok::<(), qom_devices::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceOptions {
    /// The type to create (QEMU's `driver`).
    pub type_name: String,
    /// `id=`: the device's name under `/machine/peripheral`; without one
    /// it goes to `/machine/peripheral-anon`.
    pub id: Option<String>,
    /// Every other `key=value`, in the order given.
    pub properties: Vec<(String, String)>,
    /// `TYPE,help`: list the type's properties rather than create it.
    pub help: bool,
}

impl DeviceOptions {
    /// Parses `TYPE,id=ID,prop=value,...`; an empty type or key is an
    /// error naming the whole text.
    pub fn parse(text: &str) -> Result<DeviceOptions> {
        let bad = |reason: &str| Error::BadOptions {
            options: text.to_string(),
            reason: reason.to_string(),
        };
        let mut parts = split_options(text).into_iter();
        let type_name = parts.next().unwrap_or_default().trim().to_string();
        if type_name.is_empty() {
            return Err(bad("the device type comes first (`TYPE,id=ID,...`)"));
        }
        let mut options = DeviceOptions {
            type_name,
            id: None,
            properties: Vec::new(),
            help: false,
        };
        for part in parts {
            let (key, value) = match part.split_once('=') {
                Some((key, value)) => (key.trim(), value.trim()),
                None => (part.trim(), "on"),
            };
            match key {
                "" => return Err(bad("an option has no name")),
                "help" | "?" => options.help = true,
                "id" => options.id = Some(value.to_string()),
                _ => options
                    .properties
                    .push((key.to_string(), value.to_string())),
            }
        }
        Ok(options)
    }
}

/// Splits at single commas; `,,` is one literal comma. A trailing comma
/// ends the list without adding an empty option.
fn split_options(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != ',' {
            current.push(c);
        } else if chars.next_if_eq(&',').is_some() {
            current.push(',');
        } else {
            parts.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() || parts.is_empty() {
        parts.push(current);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> DeviceOptions {
        DeviceOptions::parse(text).unwrap()
    }

    #[test]
    fn double_commas_are_literal_in_values_keys_and_the_type() {
        let options = parse("my,,dev,id=a,,b,path=/x,,y,,,k,,ey=v");
        assert_eq!(options.type_name, "my,dev");
        assert_eq!(options.id.as_deref(), Some("a,b"));
        assert_eq!(
            options.properties,
            [
                ("path".to_string(), "/x,y,".to_string()),
                ("k,ey".to_string(), "v".to_string())
            ]
        );
    }

    #[test]
    fn bare_keys_mean_on_and_help_asks_for_help() {
        let options = parse("xhci-pci,msix,help");
        assert_eq!(options.properties, [("msix".into(), "on".into())]);
        assert!(options.help);
        assert!(parse("xhci-pci,?").help);
    }

    #[test]
    fn values_keep_equals_signs_and_a_trailing_comma_is_ignored() {
        let options = parse("t,cmd=a=b,");
        assert_eq!(options.properties, [("cmd".into(), "a=b".into())]);
    }

    #[test]
    fn an_empty_type_or_key_is_an_error_naming_the_text() {
        for (text, reason) in [
            (",id=x", "device type"),
            ("t,=v", "no name"),
            ("", "device type"),
        ] {
            let err = DeviceOptions::parse(text).unwrap_err().to_string();
            assert!(err.contains(&format!("`{text}`")), "{err}");
            assert!(err.contains(reason), "{err}");
        }
    }
}
