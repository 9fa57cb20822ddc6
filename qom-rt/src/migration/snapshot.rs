//! Saving the state of every object under a root, and loading it back
//! all or nothing: the stream is parsed, the machine's shape compared, and
//! every level of every section decoded and checked against the
//! destination (which is only read), before the first field is restored.

use super::describe::{levels, StateDescription};
use super::error::MigrationError;
use super::stream::{SectionImage, StreamImage};
use super::support::{LevelReader, LevelWriter, Staged};
use super::LevelImage;
use crate::cast::ObjectCast;
use crate::kernel::object::{Object, ObjectType};
use crate::kernel::owned::Owned;
use crate::tree::ObjectTree;
use std::collections::HashMap;

/// One object under the root, with its path relative to the root (`""`
/// for the root, `/soc/uarts[0]` below it).
struct Node {
    relative: String,
    object: Owned<Object>,
}

/// The root's canonical path (empty while detached) and every object
/// under it, depth first as `info qom-tree` lists them (declared children
/// in declaration order, dynamic ones by name), each held.
fn walk(root: &Object) -> Result<(String, Vec<Node>), MigrationError> {
    fn visit(node: Node, out: &mut Vec<Node>) -> Result<(), MigrationError> {
        let children = node.object.children();
        let object = node.object.clone();
        let relative = node.relative.clone();
        out.push(node);
        for child in children {
            let child_object = object.resolve(&child.name)?;
            let child = Node {
                relative: format!("{relative}/{}", child.name),
                object: child_object,
            };
            visit(child, out)?;
        }
        Ok(())
    }
    let root_path = root.canonical_path().unwrap_or_default();
    let mut nodes = Vec::new();
    let node = Node {
        relative: String::new(),
        object: Owned::from(root),
    };
    visit(node, &mut nodes)?;
    Ok((root_path, nodes))
}

/// Saves the state of `root` and of every object under it (any object:
/// `&Owned<T>` and `&T` coerce to `&Object`).
///
/// ```
/// use qom_rt::prelude::*;
/// use qom_rt::migration::MigrationHooks;
/// use std::sync::Mutex;
///
/// #[derive(QomObject)]
/// #[qom(name = "doc-save-counter")]
/// struct Counter {
///     parent: ParentField<Object>,
///     #[migrate]
///     count: Mutex<u64>,
/// }
/// impl ObjectImpl for Counter {}
/// impl MigrationHooks for Counter {}
///
/// let counter = Owned::<Counter>::new();
/// *counter.count.lock().unwrap() = 41;
/// let stream = qom_rt::migration::save(&counter)?;
/// let image = qom_rt::migration::StreamImage::parse(&stream)?;
/// assert_eq!(image.sections[0].levels[0].fields[0].0, "count");
/// # Ok::<(), qom_rt::migration::MigrationError>(())
/// ```
pub fn save(root: &Object) -> Result<Vec<u8>, MigrationError> {
    Ok(save_image(root)?.encode())
}

/// [`save`], as a [`StreamImage`] rather than bytes.
pub fn save_image(root: &Object) -> Result<StreamImage, MigrationError> {
    let (root_path, nodes) = walk(root)?;
    let shape = nodes
        .iter()
        .map(|n| {
            (
                format!("{root_path}{}", n.relative),
                n.object.type_name().to_string(),
            )
        })
        .collect();
    let mut sections = Vec::new();
    for node in &nodes {
        let type_info = node.object.header().type_info();
        let described = levels(type_info);
        if described.is_empty() {
            continue;
        }
        let levels = described
            .iter()
            .map(|level| {
                let mut writer = LevelWriter::default();
                (level.ops.save)(&node.object, &mut writer);
                LevelImage {
                    type_name: level.type_name().to_string(),
                    version: level.version(),
                    fields: writer.fields,
                    subsections: writer.subsections,
                }
            })
            .collect();
        sections.push(SectionImage {
            path: format!("{root_path}{}", node.relative),
            type_name: type_info.name().to_string(),
            levels,
        });
    }
    Ok(StreamImage {
        root_type: root.type_name().to_string(),
        root_path,
        shape,
        sections,
    })
}

/// What a successful load did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadSummary {
    /// Objects compared with the stream's shape.
    pub objects: usize,
    /// Sections applied.
    pub sections: usize,
}

/// Loads a stream made by [`save`] into `root` and the objects under it,
/// which must be the same objects (same types at the same paths below the
/// root) as the source's. Either every section is applied, or the stream
/// is refused and nothing has changed: it is parsed and checksummed, the
/// shapes compared, and every value decoded and checked first.
///
/// ```
/// use qom_rt::prelude::*;
/// use qom_rt::migration::{MigrationError, MigrationHooks};
/// use std::sync::Mutex;
///
/// #[derive(QomObject)]
/// #[qom(name = "doc-load-counter")]
/// struct Counter {
///     parent: ParentField<Object>,
///     #[migrate]
///     count: Mutex<u64>,
/// }
/// impl ObjectImpl for Counter {}
/// impl MigrationHooks for Counter {}
///
/// let source = Owned::<Counter>::new();
/// *source.count.lock().unwrap() = 41;
/// let mut stream = qom_rt::migration::save(&source)?;
///
/// let destination = Owned::<Counter>::new();
/// qom_rt::migration::load(&destination, &stream)?;
/// assert_eq!(*destination.count.lock().unwrap(), 41);
///
/// // One flipped bit: refused, and nothing changed.
/// *source.count.lock().unwrap() = 7;
/// stream = qom_rt::migration::save(&source)?;
/// let middle = stream.len() / 2;
/// stream[middle] ^= 1;
/// let refused = qom_rt::migration::load(&destination, &stream);
/// assert!(matches!(refused, Err(MigrationError::Checksum { .. })), "{refused:?}");
/// assert_eq!(*destination.count.lock().unwrap(), 41);
/// # Ok::<(), MigrationError>(())
/// ```
pub fn load(root: &Object, bytes: &[u8]) -> Result<LoadSummary, MigrationError> {
    load_image(root, &StreamImage::parse(bytes)?)
}

/// [`load`], from a [`StreamImage`].
pub fn load_image(root: &Object, image: &StreamImage) -> Result<LoadSummary, MigrationError> {
    let (root_path, nodes) = walk(root)?;
    if image.root_type != root.type_name() {
        return Err(MigrationError::MachineType {
            stream: image.root_type.clone(),
            here: root.type_name().to_string(),
        });
    }
    let sections = match_shape(image, &root_path, &nodes)?;

    // Everything the load will do, decoded and checked; nothing written.
    let mut plan: Vec<(&Node, Vec<Step>)> = Vec::new();
    for (node, section) in nodes.iter().zip(&sections) {
        let type_info = node.object.header().type_info();
        let path = || format!("{root_path}{}", node.relative);
        let described = levels(type_info);
        if described.is_empty() {
            if section.is_some() {
                return Err(MigrationError::Levels {
                    path: path(),
                    type_name: type_info.name().to_string(),
                    reason: "the stream has state for it, but this build migrates none".into(),
                });
            }
            continue;
        }
        plan.push((node, decode_section(node, &path(), &described, *section)?));
    }

    // The commit point: from here on nothing can fail.
    for (node, steps) in &mut plan {
        for step in steps.iter_mut() {
            if let Some(staged) = step.staged.take() {
                (step.level.ops.apply)(&node.object, staged);
            }
        }
    }
    for (node, steps) in &plan {
        for step in steps {
            (step.level.ops.post_load)(&node.object, step.version);
        }
    }
    Ok(LoadSummary {
        objects: nodes.len(),
        sections: image.sections.len(),
    })
}

/// One level of one object, ready to apply.
struct Step {
    level: &'static StateDescription,
    /// The decoded fields; `None` if the stream had no state for the
    /// level (allowed by `min_version = 0`).
    staged: Option<Staged>,
    version: u32,
}

/// Compares the stream's shape with the objects under the root, and finds
/// each object's section: in shape order, at a path of the shape, with
/// the type there. Returns one entry per node.
fn match_shape<'a>(
    image: &'a StreamImage,
    root_path: &str,
    nodes: &[Node],
) -> Result<Vec<Option<&'a SectionImage>>, MigrationError> {
    let shape_error = |difference: String| Err(MigrationError::MachineShape { difference });
    let relative = |path: &'a str| -> Result<&'a str, MigrationError> {
        match path.strip_prefix(image.root_path.as_str()) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => Ok(rest),
            _ => Err(MigrationError::MachineShape {
                difference: format!(
                    "the stream's `{path}` is not under its root `{}`",
                    image.root_path
                ),
            }),
        }
    };
    let stream: Vec<(&str, &str)> = image
        .shape
        .iter()
        .map(|(path, type_name)| Ok((relative(path)?, type_name.as_str())))
        .collect::<Result<_, MigrationError>>()?;
    let here: Vec<(&str, &str)> = nodes
        .iter()
        .map(|n| (n.relative.as_str(), n.object.type_name()))
        .collect();
    if stream != here {
        let here_map: HashMap<&str, &str> = here.iter().copied().collect();
        let stream_map: HashMap<&str, &str> = stream.iter().copied().collect();
        for (path, type_name) in &stream {
            match here_map.get(path) {
                None => {
                    return shape_error(format!(
                        "the stream has `{root_path}{path}` ({type_name}), this machine has nothing there"
                    ))
                }
                Some(here_type) if here_type != type_name => {
                    return shape_error(format!(
                        "`{root_path}{path}` is a {type_name} in the stream, a {here_type} here"
                    ))
                }
                Some(_) => {}
            }
        }
        for (path, type_name) in &here {
            if !stream_map.contains_key(path) {
                return shape_error(format!(
                    "this machine has `{root_path}{path}` ({type_name}), the stream does not"
                ));
            }
        }
        return shape_error("the stream lists the same objects in another order".into());
    }

    let index: HashMap<&str, usize> = here.iter().enumerate().map(|(i, (p, _))| (*p, i)).collect();
    let mut by_node = vec![None; nodes.len()];
    let mut last = None;
    for section in &image.sections {
        let rel = relative(&section.path)?;
        let Some(&at) = index.get(rel) else {
            return shape_error(format!(
                "the stream has a section for `{}`, which is not in its shape",
                section.path
            ));
        };
        if last.is_some_and(|last| at <= last) {
            return shape_error(format!(
                "the section for `{}` is out of order or repeated",
                section.path
            ));
        }
        if section.type_name != here[at].1 {
            return shape_error(format!(
                "the section for `{root_path}{rel}` is a {}, the object there a {}",
                section.type_name, here[at].1
            ));
        }
        last = Some(at);
        by_node[at] = Some(section);
    }
    Ok(by_node)
}

/// Decodes one object's levels: the stream's levels must be the
/// described ones, in order; a described level the stream lacks is
/// version 0, which only `min_version = 0` accepts.
fn decode_section(
    node: &Node,
    path: &str,
    described: &[&'static StateDescription],
    section: Option<&SectionImage>,
) -> Result<Vec<Step>, MigrationError> {
    let images = section.map_or(&[][..], |s| &s.levels[..]);
    let mut next = 0;
    let mut steps = Vec::new();
    for &level in described {
        let image = images
            .get(next)
            .filter(|l| l.type_name == level.type_name());
        let version = image.map_or(0, |l| l.version);
        if version == 0 && image.is_some()
            || version < level.min_version()
            || version > level.version()
        {
            return Err(MigrationError::Version {
                path: path.to_string(),
                type_name: level.type_name().to_string(),
                found: version,
                min: level.min_version(),
                max: level.version(),
            });
        }
        let staged = match image {
            Some(image) => {
                next += 1;
                Some(decode_level(node, path, level, image)?)
            }
            None => None,
        };
        steps.push(Step {
            level,
            staged,
            version,
        });
    }
    if let Some(extra) = images.get(next) {
        return Err(MigrationError::Levels {
            path: path.to_string(),
            type_name: node.object.type_name().to_string(),
            reason: format!(
                "the stream has state for its `{}` level, which this build does not migrate (or not in that order)",
                extra.type_name
            ),
        });
    }
    Ok(steps)
}

fn decode_level(
    node: &Node,
    path: &str,
    level: &StateDescription,
    image: &LevelImage,
) -> Result<Staged, MigrationError> {
    let mut reader = LevelReader::new(image);
    (level.ops.decode)(&node.object, &mut reader)
        .and_then(|staged| reader.finish().map(|()| staged))
        .map_err(|e| MigrationError::Field {
            path: path.to_string(),
            type_name: level.type_name().to_string(),
            version: image.version,
            reason: e.to_string(),
        })
}
