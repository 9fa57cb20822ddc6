//! Drives: QEMU's `-drive file=PATH,if=none,id=ID[,format=raw]`, block
//! backends on the machine that a device takes by id (`-device
//! usb-storage,drive=ID`). Only raw images and `if=none` are supported:
//! there is no block layer, a drive is a file a device opens.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// One `-drive`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drive {
    /// The id devices name it by.
    pub id: String,
    /// The raw image.
    pub file: String,
}

impl Drive {
    /// Parses `-drive` options (`,,` is a literal comma in a value).
    ///
    /// ```
    /// use qom_devices::machine::Drive;
    /// let d = Drive::parse("file=disk.img,if=none,id=d0,format=raw")?;
    /// assert_eq!((d.id.as_str(), d.file.as_str()), ("d0", "disk.img"));
    /// assert!(Drive::parse("file=disk.img,if=ide,id=d0").unwrap_err().contains("if=ide"));
    /// # Ok::<(), String>(())
    /// ```
    pub fn parse(spec: &str) -> Result<Drive, String> {
        let (mut id, mut file) = (None, None);
        for pair in split_options(spec) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("-drive {spec}: `{pair}` is not key=value"))?;
            match (key, value) {
                ("id", v) => id = Some(v.to_string()),
                ("file", v) => file = Some(v.to_string()),
                ("if", "none") | ("format", "raw") => {}
                ("if", other) => {
                    return Err(format!(
                        "-drive {spec}: if={other} is not supported: only if=none, with the device given by -device ...,drive=ID"
                    ))
                }
                ("format", other) => {
                    return Err(format!("-drive {spec}: format={other} is not supported: raw images only"))
                }
                (other, _) => return Err(format!("-drive {spec}: unknown option `{other}`")),
            }
        }
        let id = id
            .filter(|i| !i.is_empty())
            .ok_or_else(|| format!("-drive {spec}: id=ID is required"))?;
        let file = file
            .filter(|f| !f.is_empty())
            .ok_or_else(|| format!("-drive {spec}: file=PATH is required"))?;
        Ok(Drive { id, file })
    }
}

/// Splits at single commas; `,,` is a comma.
fn split_options(spec: &str) -> Vec<String> {
    let (mut parts, mut part) = (Vec::new(), String::new());
    let mut chars = spec.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            (',', Some(',')) => {
                chars.next();
                part.push(',');
            }
            (',', _) => parts.push(std::mem::take(&mut part)),
            (c, _) => part.push(c),
        }
    }
    parts.push(part);
    parts.into_iter().filter(|p| !p.is_empty()).collect()
}

/// A machine's drives and which device uses each.
#[derive(Default)]
pub struct Drives {
    drives: Mutex<BTreeMap<String, (Drive, Option<String>)>>,
}

impl Drives {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, (Drive, Option<String>)>> {
        self.drives.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a drive; its id must be new.
    pub fn add(&self, drive: Drive) -> Result<(), String> {
        let mut drives = self.lock();
        if drives.contains_key(&drive.id) {
            return Err(format!("-drive id={}: duplicate id", drive.id));
        }
        drives.insert(drive.id.clone(), (drive, None));
        Ok(())
    }

    /// Gives drive `id` to `device`; its file. A drive serves one device
    /// at a time (QEMU: "Drive 'd0' is already in use").
    pub fn claim(&self, id: &str, device: &str) -> Result<String, String> {
        let mut drives = self.lock();
        let (drive, user) = drives.get_mut(id).ok_or_else(|| {
            format!("no drive with id `{id}` (add one with -drive file=PATH,if=none,id={id})")
        })?;
        if let Some(user) = user {
            return Err(format!("drive `{id}` is already in use by `{user}`"));
        }
        *user = Some(device.to_string());
        Ok(drive.file.clone())
    }

    /// Drive `id` is free again (its device was unrealized).
    pub fn release(&self, id: &str) {
        if let Some((_, user)) = self.lock().get_mut(id) {
            *user = None;
        }
    }
}
