// The fix for `interface-listed-by-alias`: list interfaces by the traits'
// own names -- here two interfaces of another crate, listed together.
use qom_rt::prelude::*;
use ui_tests::signals::{Beep, Blink};

#[derive(QomObject)]
#[qom(name = "alarm", interfaces(Beep, Blink))]
pub struct Alarm {
    parent: ParentField<Object>,
}
impl ObjectImpl for Alarm {}
impl Beep for Alarm {
    fn pitch(&self) -> u32 {
        440
    }
}
impl Blink for Alarm {
    fn period(&self) -> u32 {
        500
    }
}

fn main() {
    let alarm = Owned::<Alarm>::new().into_object();
    assert_eq!(alarm.interface::<dyn Beep>().map(|b| b.pitch()), Some(440));
    assert_eq!(alarm.interface::<dyn Blink>().map(|b| b.period()), Some(500));
}
