// An interface listed under another name (`use ... as ...`): the derive
// checks the listing against the trait's own name.
use qom_rt::prelude::*;
use ui_tests::signals::{Beep as Buzz, Blink};

#[derive(QomObject)]
#[qom(name = "alarm", interfaces(Buzz, Blink))]
pub struct Alarm {
    parent: ParentField<Object>,
}
impl ObjectImpl for Alarm {}
impl Buzz for Alarm {
    fn pitch(&self) -> u32 {
        440
    }
}
impl Blink for Alarm {
    fn period(&self) -> u32 {
        500
    }
}

fn main() {}
