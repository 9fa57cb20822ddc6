//! Migration of a small object tree: descriptions, round trips, older and
//! newer versions, subsections, and streams that must be refused without
//! changing anything.

use proptest::prelude::*;
use qom_rt::migration::{self, MigrationError, MigrationHooks, StreamImage, Value, VmState};
use qom_rt::prelude::*;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;

/// A register file: `limit` came in version 2 of the timer's state.
#[derive(VmState, Clone, Debug, Default, PartialEq)]
#[migrate(check = Regs::check)]
struct Regs {
    control: u32,
    fifo: [u16; 4],
    pos: usize,
    #[migrate(since = 2, default = 7)]
    limit: u32,
}

impl Regs {
    /// `pos` indexes `fifo`.
    fn check(&mut self, _version: u32) -> Result<(), String> {
        match self.pos {
            0..4 => Ok(()),
            pos => Err(format!("pos {pos} is past the 4-entry FIFO")),
        }
    }
}

#[derive(QomObject)]
#[qom(name = "mig-timer")]
#[migrate(version = 2)]
struct Timer {
    parent: ParentField<Object>,
    #[migrate]
    regs: Mutex<Regs>,
    #[migrate]
    ticks: AtomicU64,
    #[migrate(since = 2)]
    mode: AtomicU8,
    #[migrate(needed = Timer::has_pending)]
    pending: Mutex<Option<u32>>,
    /// Not migrated: what `post_load` last saw (`u32::MAX`: never ran).
    loaded: AtomicU32,
}

impl ObjectImpl for Timer {
    fn init(&self) {
        self.loaded.store(u32::MAX, Ordering::Relaxed);
    }
}

impl MigrationHooks for Timer {
    fn post_load(&self, version: u32) {
        self.loaded.store(version, Ordering::Relaxed);
    }
}

impl Timer {
    fn has_pending(&self) -> bool {
        self.pending.lock().unwrap().is_some()
    }

    fn set(&self, control: u32, ticks: u64, mode: u8) {
        let mut regs = self.regs.lock().unwrap();
        regs.control = control;
        regs.fifo = [1, 2, 3, control as u16];
        regs.pos = 2;
        regs.limit = control + 1;
        self.ticks.store(ticks, Ordering::Relaxed);
        self.mode.store(mode, Ordering::Relaxed);
    }

    fn state(&self) -> (Regs, u64, u8, Option<u32>) {
        (
            self.regs.lock().unwrap().clone(),
            self.ticks.load(Ordering::Relaxed),
            self.mode.load(Ordering::Relaxed),
            *self.pending.lock().unwrap(),
        )
    }
}

#[derive(QomObject)]
#[qom(name = "mig-board")]
struct Board {
    parent: ParentField<Object>,
    #[child(embedded)]
    timers: [Timer; 2],
    #[child(owned)]
    spare: Owned<Timer>,
    #[property(default = 3)]
    #[migrate]
    speed: Prop<u32>,
}

impl ObjectImpl for Board {}
impl MigrationHooks for Board {}

fn timers(board: &Board) -> [&Timer; 3] {
    [&board.timers[0], &board.timers[1], &board.spare]
}

fn busy_board() -> Owned<Board> {
    let board = Owned::<Board>::new();
    for (i, timer) in timers(&board).into_iter().enumerate() {
        timer.set(0x10 + i as u32, 1000 * i as u64, i as u8);
    }
    *board.timers[1].pending.lock().unwrap() = Some(99);
    board.speed.set(8);
    board
}

#[test]
fn the_description_lists_fields_versions_and_subsections() {
    let state = migration::description(Timer::TYPE_INFO).unwrap();
    assert_eq!(
        state.to_string(),
        "mig-timer: version 2, loads versions 1 to 2\n\
         \x20 regs.control  u32\n\
         \x20 regs.fifo     [u16; 4]\n\
         \x20 regs.pos      usize\n\
         \x20 regs.limit    u32          since 2\n\
         \x20 ticks         u64\n\
         \x20 mode          u8           since 2\n\
         \x20 pending       Option<u32>  subsection, when needed\n"
    );
    let board = migration::levels(Board::TYPE_INFO);
    assert_eq!(board.len(), 1);
    assert_eq!(board[0].fields()[0].name, "speed");
}

#[test]
fn state_round_trips_through_a_stream() {
    let source = busy_board();
    let stream = migration::save(&source).unwrap();
    let destination = Owned::<Board>::new();
    let summary = migration::load(&destination, &stream).unwrap();
    assert_eq!((summary.objects, summary.sections), (4, 4));
    for (from, to) in timers(&source).into_iter().zip(timers(&destination)) {
        assert_eq!(from.state(), to.state());
        assert_eq!(to.loaded.load(Ordering::Relaxed), 2, "post_load ran");
    }
    assert_eq!(destination.speed.get(), 8);
    assert_eq!(migration::save(&destination).unwrap(), stream);
}

#[test]
fn a_subsection_is_sent_only_when_needed() {
    let source = busy_board();
    let image = migration::save_image(&source).unwrap();
    let subsections: Vec<usize> = image.sections[1..]
        .iter()
        .map(|s| s.levels[0].subsections.len())
        .collect();
    assert_eq!(subsections, [0, 1, 0], "timers[1] only");
    // Absent: the destination's value stays.
    let destination = Owned::<Board>::new();
    *destination.timers[0].pending.lock().unwrap() = Some(5);
    migration::load_image(&destination, &image).unwrap();
    assert_eq!(*destination.timers[0].pending.lock().unwrap(), Some(5));
    assert_eq!(*destination.timers[1].pending.lock().unwrap(), Some(99));
}

/// The stream an older build (the timer's state at version 1) writes:
/// the same, without the fields version 2 added.
fn as_version_1(mut image: StreamImage) -> StreamImage {
    for section in image
        .sections
        .iter_mut()
        .filter(|s| s.type_name == "mig-timer")
    {
        let level = &mut section.levels[0];
        level.version = 1;
        level.fields.retain(|(name, _)| name != "mode");
        for (name, value) in &mut level.fields {
            if let (true, Value::Struct(fields)) = (name == "regs", value) {
                fields.retain(|(name, _)| name != "limit");
            }
        }
    }
    image
}

#[test]
fn an_older_version_loads_with_defaults() {
    let source = busy_board();
    let old = as_version_1(migration::save_image(&source).unwrap());
    let destination = Owned::<Board>::new();
    destination.timers[0].mode.store(42, Ordering::Relaxed);
    migration::load(&destination, &old.encode()).unwrap();
    let timer = &destination.timers[0];
    let (regs, ticks, mode, _) = timer.state();
    assert_eq!(regs.limit, 7, "the field's declared default");
    assert_eq!((regs.control, ticks), (0x10, 0));
    assert_eq!(
        mode, 42,
        "an object field an older stream lacks keeps its value"
    );
    assert_eq!(
        timer.loaded.load(Ordering::Relaxed),
        1,
        "post_load sees version 1"
    );
}

#[test]
fn a_newer_or_unknown_version_is_refused_naming_path_and_versions() {
    qom_rt::container("/t-mig-versions").unwrap();
    let source = busy_board();
    let destination = Owned::<Board>::new();
    qom_rt::resolve_path("/t-mig-versions")
        .unwrap()
        .add_child("board", destination.clone())
        .unwrap();
    for version in [3, 0] {
        let mut image = migration::save_image(&source).unwrap();
        image.sections[2].levels[0].version = version;
        let err = migration::load(&destination, &image.encode()).unwrap_err();
        let found = match version {
            0 => "the stream has no state for it".to_string(),
            v => format!("the stream has version {v} of its state"),
        };
        assert_eq!(
            err.to_string(),
            format!("`/t-mig-versions/board/timers[1]` (mig-timer): {found}, this build loads versions 1 to 2")
        );
    }
    destination.unparent();
}

/// Every way a stream can be wrong is refused, and the destination's
/// state (as its own save shows it) is what it was.
#[test]
fn refused_streams_change_nothing() {
    let source = busy_board();
    let stream = migration::save(&source).unwrap();
    let destination = Owned::<Board>::new();
    destination.timers[0].set(5, 5, 5);
    let before = migration::save(&destination).unwrap();
    let refuse = |bytes: &[u8]| {
        let result = migration::load(&destination, bytes);
        assert!(result.is_err(), "loaded a bad stream");
        assert_eq!(migration::save(&destination).unwrap(), before, "changed");
        result.unwrap_err()
    };

    // Truncated anywhere (every length under Miri would be slow).
    let step = if cfg!(miri) { 97 } else { 1 };
    for len in (0..stream.len()).step_by(step) {
        refuse(&stream[..len]);
    }
    // Corrupted: one bit in each byte.
    for at in (0..stream.len()).step_by(step * 3) {
        let mut bad = stream.clone();
        bad[at] ^= 0x10;
        refuse(&bad);
    }
    // A flipped bit in a section's body (the last byte before its
    // checksum, the end record being 9 bytes) is that section's.
    let mut bad = stream.clone();
    let at = bad.len() - 14;
    bad[at] ^= 1;
    assert!(
        matches!(refuse(&bad), MigrationError::Checksum { what, .. } if what == "section 3"),
        "reported as the last section's"
    );
    // Reordered sections, checksums recomputed.
    let mut image = StreamImage::parse(&stream).unwrap();
    image.sections.swap(1, 2);
    assert!(matches!(
        refuse(&image.encode()),
        MigrationError::MachineShape { .. }
    ));
    // Foreign bytes.
    assert_eq!(refuse(b"GIF89a....."), MigrationError::NotAStream);
    // A value the type refuses (its check), anywhere in the stream: the
    // sections before it are not applied either.
    source.spare.regs.lock().unwrap().pos = 9;
    let err = refuse(&migration::save(&source).unwrap());
    assert_eq!(
        err.to_string(),
        "`/spare` (mig-timer version 2): field `regs`: pos 9 is past the 4-entry FIFO"
    );
}

#[test]
fn another_machine_shape_is_refused_before_anything_changes() {
    let source = busy_board();
    let stream = migration::save(&source).unwrap();
    let destination = Owned::<Board>::new();
    destination
        .add_child("extra", Owned::<Timer>::new())
        .unwrap();
    let before = migration::save(&destination).unwrap();
    let err = migration::load(&destination, &stream).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the machine's shape differs from the stream's: this machine has `/extra` (mig-timer), \
         the stream does not; start the destination with the same devices as the source"
    );
    assert_eq!(migration::save(&destination).unwrap(), before);
    let timer = Owned::<Timer>::new();
    let err = migration::load(&timer, &stream).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the stream is for a `mig-board`, this is a `mig-timer`"
    );
}

#[derive(QomObject)]
#[qom(name = "mig-base", abstract)]
#[migrate(version = 1, min_version = 0)]
struct Base {
    parent: ParentField<Object>,
    #[migrate]
    id: AtomicU32,
}
impl ObjectImpl for Base {}
impl MigrationHooks for Base {}

#[derive(QomObject)]
#[qom(name = "mig-derived")]
struct Derived {
    parent: ParentField<Base>,
    #[migrate]
    extra: AtomicU32,
}
impl ObjectImpl for Derived {}
impl MigrationHooks for Derived {}

#[test]
fn each_level_migrates_and_a_min_version_0_level_may_be_absent() {
    let source = Owned::<Derived>::new();
    source.id.store(1, Ordering::Relaxed);
    source.extra.store(2, Ordering::Relaxed);
    let mut image = migration::save_image(&source).unwrap();
    let names: Vec<&str> = image.sections[0]
        .levels
        .iter()
        .map(|l| l.type_name.as_str())
        .collect();
    assert_eq!(names, ["mig-base", "mig-derived"]);

    // A stream from before `mig-base` migrated anything.
    image.sections[0].levels.remove(0);
    let destination = Owned::<Derived>::new();
    destination.id.store(7, Ordering::Relaxed);
    migration::load_image(&destination, &image).unwrap();
    assert_eq!(destination.id.load(Ordering::Relaxed), 7);
    assert_eq!(destination.extra.load(Ordering::Relaxed), 2);
}

proptest! {
    // No failure file: Miri's isolation forbids the file system, and a
    // failing case is printed in full anyway.
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 2 } else { 64 },
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Random device states round-trip through a stream exactly.
    #[test]
    fn random_states_round_trip(
        states in proptest::array::uniform3((any::<u32>(), any::<[u16; 4]>(), 0usize..4, any::<u32>(), any::<u64>(), any::<u8>(), any::<Option<u32>>())),
        speed in any::<u32>(),
    ) {
        let source = Owned::<Board>::new();
        for (timer, (control, fifo, pos, limit, ticks, mode, pending)) in timers(&source).into_iter().zip(states) {
            *timer.regs.lock().unwrap() = Regs { control, fifo, pos, limit };
            timer.ticks.store(ticks, Ordering::Relaxed);
            timer.mode.store(mode, Ordering::Relaxed);
            *timer.pending.lock().unwrap() = pending;
        }
        source.speed.set(speed);
        let stream = migration::save(&source).unwrap();
        let destination = Owned::<Board>::new();
        migration::load(&destination, &stream).unwrap();
        for (from, to) in timers(&source).into_iter().zip(timers(&destination)) {
            prop_assert_eq!(from.state(), to.state());
        }
        prop_assert_eq!(destination.speed.get(), speed);
    }

    /// Any value of `Regs` survives its own encoding.
    #[test]
    fn values_round_trip(control in any::<u32>(), fifo in any::<[u16; 4]>(), pos in 0usize..4, limit in any::<u32>()) {
        let regs = Regs { control, fifo, pos, limit };
        let cx = migration::LoadContext::new(2);
        prop_assert_eq!(Regs::from_value(&regs.to_value(), &cx), Ok(regs));
    }
}
