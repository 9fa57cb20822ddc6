//! `migrate "file:PATH"` and `migrate_incoming file:PATH` (and the
//! command line's `-incoming file:PATH`): snapshots of the machine's
//! device state, in QEMU's spelling. The stream and its all-or-nothing
//! load are `qom_rt::migration`'s.
//!
//! Only `file:` exists so far. Live migration (`tcp:`, `unix:`) comes with
//! KVM: it will send guest RAM first, then this same device stream with
//! the vCPUs paused; [`MigrationUri`] is where those transports go, and
//! `query-migrate`/`migrate_cancel` will report and stop them.

use super::{fail, Failure};
use crate::monitor::Monitor;
use qom_devices::Machine;
use std::path::{Path, PathBuf};

/// Where a migration stream goes or comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MigrationUri {
    /// `file:PATH`: a snapshot in a file.
    File(PathBuf),
}

impl MigrationUri {
    /// Parses QEMU's spelling, quotes allowed (`"file:/tmp/vm.snap"`).
    pub(crate) fn parse(text: &str) -> Result<MigrationUri, String> {
        let text = text.trim().trim_matches('"');
        let (scheme, rest) = text.split_once(':').unwrap_or((text, ""));
        match scheme {
            "file" if !rest.is_empty() => Ok(MigrationUri::File(PathBuf::from(rest))),
            "file" => Err("`file:` needs a path, as in `file:/tmp/vm.snap`".into()),
            "tcp" | "unix" | "exec" | "fd" | "rdma" => Err(format!(
                "migration over `{scheme}:` is not supported yet (live migration comes with KVM); save a snapshot with `file:PATH`"
            )),
            _ => Err(format!(
                "`{text}` is not a migration URI; write `file:PATH`"
            )),
        }
    }

    /// Saves `machine`'s state there. A file is written whole under a
    /// temporary name and then renamed, so a reader never sees half a
    /// snapshot.
    pub(crate) fn save(&self, machine: &Machine) -> Result<(), String> {
        let MigrationUri::File(path) = self;
        let stream = machine.save_state().map_err(|e| e.to_string())?;
        let mut partial = path.clone().into_os_string();
        partial.push(format!(".partial-{}", std::process::id()));
        let partial = PathBuf::from(partial);
        std::fs::write(&partial, &stream)
            .and_then(|()| std::fs::rename(&partial, path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&partial);
                format!("cannot write `{}`: {e}", path.display())
            })
    }

    /// Loads a snapshot from there into `machine`, all or nothing.
    pub(crate) fn load(&self, machine: &Machine) -> Result<(), String> {
        let MigrationUri::File(path) = self;
        let stream =
            std::fs::read(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        machine.load_state(&stream).map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// `migrate URI`; QEMU's `-d` (return at once) is accepted: a snapshot is
/// written before the command returns either way.
pub(super) fn migrate(monitor: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    let uri = match args {
        [uri] | ["-d", uri] => uri,
        _ => return Err(Failure::Usage),
    };
    let uri = MigrationUri::parse(uri).or_else(fail)?;
    uri.save(monitor.machine()).or_else(fail)?;
    Ok(String::new())
}

/// `migrate_incoming URI`: loads a snapshot into the running machine.
pub(super) fn migrate_incoming(
    monitor: &mut Monitor,
    args: &[&str],
    _: &str,
) -> Result<String, Failure> {
    let [uri] = args else {
        return Err(Failure::Usage);
    };
    let uri = MigrationUri::parse(uri).or_else(fail)?;
    uri.load(monitor.machine()).or_else(fail)?;
    Ok(String::new())
}

/// Completions for a migration URI being typed: the scheme, then after
/// `file:` the entries of the directory typed so far (a leading quote is
/// kept).
pub(crate) fn complete_uri(word: &str) -> Vec<String> {
    let (quote, word) = match word.strip_prefix('"') {
        Some(rest) => ("\"", rest),
        None => ("", word),
    };
    let Some(path) = word.strip_prefix("file:") else {
        return vec![format!("{quote}file:")];
    };
    let (dir, _) = path.rsplit_once('/').unwrap_or(("", path));
    let listed = if dir.is_empty() && path.starts_with('/') {
        Path::new("/")
    } else if dir.is_empty() {
        Path::new(".")
    } else {
        Path::new(dir)
    };
    let Ok(entries) = std::fs::read_dir(listed) else {
        return Vec::new();
    };
    let prefix = if dir.is_empty() && !path.starts_with('/') {
        String::new()
    } else {
        format!("{dir}/")
    };
    let mut out: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| {
            let slash = if e.path().is_dir() { "/" } else { "" };
            let name = e.file_name().to_string_lossy().into_owned();
            format!("{quote}file:{prefix}{name}{slash}")
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_spelt_as_qemu_spells_them() {
        assert_eq!(
            MigrationUri::parse("\"file:/tmp/vm.snap\""),
            Ok(MigrationUri::File("/tmp/vm.snap".into()))
        );
        assert!(MigrationUri::parse("file:").is_err());
        let tcp = MigrationUri::parse("tcp:127.0.0.1:4444").unwrap_err();
        assert!(tcp.contains("not supported yet"), "{tcp}");
        assert!(MigrationUri::parse("/tmp/vm.snap").is_err());
    }

    #[test]
    fn completion_offers_the_scheme_then_files() {
        assert_eq!(complete_uri(""), ["file:"]);
        assert_eq!(complete_uri("\"fi"), ["\"file:"]);
        let dir = std::env::temp_dir().join("qom-complete-uri");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("vm.snap"), b"").unwrap();
        let typed = format!("file:{}/", dir.display());
        assert_eq!(
            complete_uri(&typed),
            [format!("{typed}sub/"), format!("{typed}vm.snap")]
        );
    }
}
