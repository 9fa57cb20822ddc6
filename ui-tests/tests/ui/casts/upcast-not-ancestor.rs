use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
}
impl ObjectImpl for Pl011 {}

#[derive(QomObject)]
pub struct Rtc {
    parent: ParentField<Object>,
}
impl ObjectImpl for Rtc {}

fn main() {
    let uart = Owned::<Pl011>::new();
    let rtc: &Rtc = uart.upcast::<Rtc>();
    println!("{}", rtc.type_name());
}
